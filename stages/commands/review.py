"""`make review SEED=n KEEP=0|1 NOTE=...`: record a person's decision on one seed in DATA_DIR/review.jsonl.

KEEP=0 drops the seed's valid conversation from the next `make dataset`; KEEP=1 keeps a rejected
seed's best conversation (its first attempt of valid shape). The decision names the conversation it
was made on, so a later build applies it only while the seed's conversation is that one.
"""
import click

from pathlib import Path

from ..config import option, run_options
from ..errors import PipelineError
from ..judging.decisions import Decision, best_conversation, conversation_digest, record_decision, review_path
from ..judging.review import review_seed
from ..judging.rules import checks_of, completions_url, rules_for
from ..storage.bodies import load_body
from ..storage.cache import open_cache


def current_conversation(data_dir: Path, run, seed: int) -> list:
    body, checks = load_body(data_dir, seed), checks_of(run)
    with open_cache(Path(run.cache_dir)) as cache:
        review = review_seed(cache, completions_url(run.base_url), body, seed, rules_for(checks), checks.max_attempts)
    conversation = best_conversation(review)
    if conversation is None:
        raise PipelineError(f"seed {seed} has no cached conversation of valid shape to decide on: "
                            f"see `make show SEED={seed}`")
    return conversation


@click.command("review")
@option("SEED", type=click.IntRange(min=0), required=True, help="The seed decided on.")
@option("KEEP", type=click.BOOL, required=True, help="1 keeps the seed's conversation, 0 drops it.")
@option("NOTE", default="", help="Why, in a few words (kept with the decision).")
@option("DIGEST", default="", help="The conversation's digest as the report shows it: refuses if it changed since.")
@run_options()
def review_command(seed, keep, note, digest, data_dir, run):
    """Keep or drop one seed's conversation by hand; `make dataset` honours the decision.

    Example: python -m stages review --seed 3 --keep 0 --note "stiff opening"
    """
    conversation = current_conversation(data_dir, run, seed)
    current = conversation_digest(conversation)
    if digest and digest != current:
        raise PipelineError(f"seed {seed}'s conversation changed since the report was written "
                            f"({digest} then, {current} now): run `make report` again and decide on the new one")
    record_decision(data_dir, Decision(seed, keep, note, current))
    what = "kept" if keep else "dropped"
    click.echo(f"review: seed {seed} {what} in {review_path(data_dir)}; the next `make dataset` applies it", err=True)
