"""`python -m stages COMMAND`: one command per pipeline stage (see `make help`).

A command's module is imported only when that command runs, so `make show` does not pay for
the HTTP client or `make fetch` for numpy: start-up stays well under half a second.
"""
import importlib
import os
import sys

import click

from .errors import PipelineError

DEBUG_VARIABLE = "STAGES_DEBUG"
# command name -> its module; each module defines `<name>_command`. The order is `--help`'s.
COMMAND_MODULES = {"prompts": "commands.prompts", "fetch": "commands.fetch", "validate": "commands.validate",
                   "dataset": "commands.dataset", "show": "commands.show", "stats": "commands.stats",
                   "estimate": "commands.estimate", "merge": "commands.merge", "batches": "commands.batches",
                   "audit": "commands.audit", "review": "commands.review",
                   "report": "commands.report", "card": "commands.card", "publish": "commands.publish", "demo": "commands.demo",
                   "demo-local": "commands.demolocal", "fakeapi": "fake.api"}


def load_command(name: str) -> click.Command:
    module = importlib.import_module(f".{COMMAND_MODULES[name]}", __package__)
    return getattr(module, f"{name.replace('-', '_')}_command")


class Stages(click.Group):
    """Loads commands on demand; turns project errors and surprises into one line on stderr,
    unless STAGES_DEBUG is set."""

    def list_commands(self, ctx) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx, name: str) -> click.Command | None:
        return load_command(name) if name in COMMAND_MODULES else None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PipelineError as err:
            raise click.ClickException(str(err)) from None
        except click.MissingParameter as err:
            raise missing(err, ctx) from None
        except click.UsageError as err:
            err.ctx = None  # the error line alone: no usage and --help lines around it
            raise
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as err:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            raise click.ClickException(
                f"unexpected {type(err).__name__}: {err} (rerun with {DEBUG_VARIABLE}=1 for a traceback)") from None


def missing(err: click.MissingParameter, ctx) -> click.UsageError:
    """A required setting not given (the Makefile passes only what the user typed): named as the
    make variable, with an example."""
    param = err.param
    name = param.envvar if param is not None and isinstance(param.envvar, str) else None
    if name is None:
        err.ctx = None
        return err
    example = getattr(param.type, "example", f"make {ctx.invoked_subcommand} {name}=...")
    return click.UsageError(f"{name} is not set; give it, e.g. {example}")


@click.group(cls=Stages)
def cli():
    """Make identity conversations for a small chat model, stage by stage."""


def __getattr__(name: str):
    """COMMANDS, every command loaded (for tools that need all their options), only when asked for."""
    if name == "COMMANDS":
        return tuple(load_command(command) for command in COMMAND_MODULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(cli(prog_name="python -m stages"))
