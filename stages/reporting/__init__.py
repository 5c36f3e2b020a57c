"""The report, the dataset card and the upload: what `report`, `card` and `publish` write, below their commands."""
