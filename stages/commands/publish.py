"""`make publish REPO=user/name`: upload the `make card` folder to a Hugging Face Hub dataset
repository (huggingface_hub; the token from HF_TOKEN, never written anywhere)."""
import os
import re
from pathlib import Path

import click

from ..config import data_dir_option, option
from ..reporting.publish import upload

REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@click.command("publish")
@option("REPO", required=True, help="The Hub dataset repository, user/name (created when missing).")
@option("HF_DIR", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="The folder `make card` wrote (default DATA_DIR/hf).")
@option("PRIVATE", type=click.BOOL, default=False, help="Create the repository as private (1 or 0).")
@data_dir_option
def publish_command(repo, hf_dir, private, data_dir):
    """Upload the dataset folder and its card to the Hugging Face Hub; HF_TOKEN holds the token.

    Example: HF_TOKEN=hf_... python -m stages publish --repo you/sprout-identity
    """
    if not REPO_ID.match(repo):
        raise click.BadParameter(f"{repo!r} is not a repository id like user/name", param_hint="REPO")
    token = os.environ.get("HF_TOKEN", "").strip()
    if not token:
        raise click.ClickException("no token: set HF_TOKEN to a Hugging Face token with write access")
    folder = hf_dir or data_dir / "hf"
    if not folder.is_dir():
        raise click.ClickException(f"no folder {folder}: run `make card` first")
    url = upload(folder, repo, token, os.environ.get("HF_ENDPOINT") or None, private)
    click.echo(f"publish: uploaded {folder} to {repo}: {url}", err=True)
