"""`python -m stages COMMAND`: one command per pipeline stage (see `make help`)."""
import os
import sys

import click

from .batches import batches_command
from .bench import bench_command
from .dataset import dataset_command
from .demo import demo_command
from .errors import PipelineError
from .estimate import estimate_command
from .transport.fakeapi import fakeapi_command
from .fetch import fetch_command
from .merge import merge_command
from .prompts import prompts_command
from .show import show_command
from .stats import stats_command
from .validate import validate_command

DEBUG_VARIABLE = "STAGES_DEBUG"


class Stages(click.Group):
    """Turns project errors and surprises into one line on stderr, unless STAGES_DEBUG is set."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PipelineError as err:
            raise click.ClickException(str(err)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as err:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            raise click.ClickException(
                f"unexpected {type(err).__name__}: {err} (rerun with {DEBUG_VARIABLE}=1 for a traceback)") from None


@click.group(cls=Stages)
def cli():
    """Make identity conversations for a small chat model, stage by stage."""


COMMANDS = (prompts_command, fetch_command, validate_command, dataset_command, show_command, stats_command, estimate_command,
            merge_command, batches_command, bench_command, demo_command, fakeapi_command)
for command in COMMANDS:
    cli.add_command(command)

if __name__ == "__main__":
    sys.exit(cli(prog_name="python -m stages"))
