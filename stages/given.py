"""Settings that must be given: a path option whose make variable was left empty is refused with
a line naming the variable and an example, instead of being read as the current folder."""
from pathlib import Path

import click


class GivenPath(click.Path):
    """click.Path that refuses an empty value: `make audit` with no FILE passes `--file ''`."""

    def __init__(self, variable: str, example: str, **kwargs):
        super().__init__(path_type=Path, **kwargs)
        self.variable, self.example = variable, example

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail(f"{self.variable} is not set; give it, e.g. {self.example}", param, ctx)
        return super().convert(value, param, ctx)
