"""The commands a user runs: one module per `make` target, each defining `<name>_command`."""
