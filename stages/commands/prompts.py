"""Stage 1: render one request body per seed into DATA_DIR/prompts/<seed>.json (stages/render.py)."""
import click

from ..config import run_options
from ..render import load_sources, prompt_settings, render_all
from ..storage.paths import prompt_dir


@click.command("prompts")
@run_options(writes=True)
def prompts_command(data_dir, run):
    """Render one request body per seed into DATA_DIR/prompts/; the body suits BASE_URL's server.

    Example: python -m stages prompts --n 1000 --models 'google/gemini-2.5-flash=2,openai/gpt-4.1-mini=1'
    """
    seeds = run.seed_range
    sources = load_sources(identity=run.identity_path, context=run.context_path)
    changed = render_all(sources, prompt_settings(run), seeds, prompt_dir(data_dir))
    click.echo(f"prompts: {len(seeds)} rendered, {changed} changed, in {prompt_dir(data_dir)}", err=True)
