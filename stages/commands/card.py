"""`make card`: a folder the Hugging Face Hub takes as a dataset (DATA_DIR/hf unless HF_DIR says):
data/train.jsonl and data/validation.jsonl in FORMAT, and README.md, a dataset card whose YAML
metadata and text state the identity, generator models, seeds, checks with their rates and cost.

The conversations are those `make dataset` keeps (valid, no duplicate, review decisions applied),
read again from the cache; FORMAT=array lines are not rows a datasets loader reads, so that
format is written in the messages shape here.
"""
from pathlib import Path

import click

from ..assemble import in_validation
from ..config import option, run_options
from ..judging.identity import load_identity
from ..judging.rules import checks_of, completions_url, rules_for
from ..render import load_sources, pick_axes
from ..reporting.card import CardFacts, SplitWriter, write_readme
from ..reporting.collect import walk_run
from ..storage.dataformats import FORMATS

IN_DATASET = ("valid", "kept")


DESCRIPTION_CHARS = 400


def first_paragraph(prose: str) -> str:
    """The identity's first paragraph, cut after the last full sentence within DESCRIPTION_CHARS."""
    paragraphs = [p.strip() for p in prose.split("\n\n") if p.strip() and not p.strip().startswith("#")]
    text = " ".join((paragraphs[0] if paragraphs else "").split())
    if len(text) <= DESCRIPTION_CHARS:
        return text
    cut = text[:DESCRIPTION_CHARS].rfind(". ")
    return text[:cut + 1] if cut > 0 else text[:DESCRIPTION_CHARS] + "\u2026"


def card_facts(checks, fmt: str, license: str, language: str, seeds: range, summary: dict, body: dict) -> CardFacts:
    identity = load_identity(checks.identity)
    settings = {"max attempts per seed": checks.max_attempts,
                "judge model": (checks.judge_model or body.get("model", "the generator")) if checks.judge else "off", "ASCII only": "yes" if checks.ascii_only else "no",
                "temperature": body.get("temperature", "default")}
    return CardFacts(identity.facts.name or "Unnamed", first_paragraph(identity.prose), license, language, fmt,
                     len(seeds), summary, settings)


@click.command("card")
@run_options()
@option("CARD_SPLIT", type=click.FloatRange(0, 1, max_open=True), default=0.05,
        help="Share of seeds in the validation split when SPLIT is 0.")
@option("HF_DIR", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="The folder to write (default DATA_DIR/hf).")
@option("LICENSE", default="mit", help="The dataset's license, as the Hub names it (mit, cc-by-4.0, other, ...).")
@option("LANGUAGE", default="en", help="The conversations' language code for the card.")
def card_command(data_dir, run, card_split, hf_dir, license, language):
    """Write a Hugging Face dataset folder: data files with a train/validation split and a README.md card.

    Example: python -m stages card --n 1000 --format messages --license cc-by-4.0
    """
    seeds, folder, checks, cache_dir = run.seed_range, hf_dir or data_dir / "hf", checks_of(run), Path(run.cache_dir)
    if not cache_dir.is_dir():
        raise click.ClickException(f"no cache at {cache_dir}: run `make dataset` first, or give CACHE_DIR")
    fmt = "messages" if run.format == "array" else run.format
    shape, share, axes = FORMATS[fmt].write, run.split or card_split, load_sources().axes
    writer = SplitWriter(folder)

    def take(record: dict) -> None:
        if record["status"] in IN_DATASET:
            messages = [{"role": role, "content": text} for role, text in record["messages"]]
            writer.write(shape(messages), in_validation(record["seed"], share))
    try:
        summary = walk_run(cache_dir, data_dir, completions_url(run.base_url), seeds, rules_for(checks),
                           checks.max_attempts, lambda seed: pick_axes(axes, seed), take)
    finally:
        counts = writer.close()
    body = first_body(data_dir, seeds)
    readme = write_readme(folder, card_facts(checks, fmt, license, language, seeds, summary, body), counts)
    click.echo(f"card: {counts['train']} train and {counts['validation']} validation conversations ({fmt}) and "
               f"{readme} in {folder}", err=True)


def first_body(data_dir: Path, seeds: range) -> dict:
    from ..errors import PipelineError
    from ..storage.bodies import load_body
    try:
        return load_body(data_dir, seeds[0]) if seeds else {}
    except PipelineError:
        return {}
