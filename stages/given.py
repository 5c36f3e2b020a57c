"""Settings that must be given: a path option whose make variable was left empty is refused with
a line naming the variable and an example, instead of being read as the current folder."""
from pathlib import Path

import click

IDENTITY_HOLDS = "who the model is, who built it and what it can do (as prompts/identity.md does)"


class GivenPath(click.Path):
    """click.Path that refuses an empty value: `make audit` with no FILE passes `--file ''`."""

    def __init__(self, variable: str, example: str, **kwargs):
        super().__init__(path_type=Path, **kwargs)
        self.variable, self.example = variable, example

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail(f"{self.variable} is not set; give it, e.g. {self.example}", param, ctx)
        return super().convert(value, param, ctx)


class TextFile(click.Path):
    """An existing, non-empty UTF-8 text file (IDENTITY, CONTEXT), refused with one line otherwise:
    read here once, so a bad file stops the command before any stage runs."""

    def __init__(self, holds: str):
        super().__init__(exists=True, dir_okay=False, path_type=Path)
        self.holds = holds  # what the file should hold, for the fix

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            self.fail(f"{path} cannot be read ({err.strerror})", param, ctx)
        if not data.strip():
            self.fail(f"{path} is empty; write {self.holds} in it", param, ctx)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data[:err.start].count(b"\n") + 1
            self.fail(f"{path} line {line}: not UTF-8 text (byte {data[err.start]:#04x}); save the file as UTF-8",
                      param, ctx)
        return path
