"""`make show SEED=n`: what varies in one seed's prompt, every cached attempt and its verdict, the final conversation."""
import click

from .cache import cached_attempts, decode_entry, open_cache
from .config import ascii_option, completions_url, location_options, option
from .prompts import load_body, load_sources, pick_axes, pick_examples
from .review import judge_entry
from .validate import rules_for


def describe_prompt(seed: int) -> list[str]:
    sources = load_sources()  # axes and examples depend on the seed only, not on IDENTITY or CONTEXT
    lines = [f"seed {seed}", "  axes:"]
    lines += [f"    {name}: {item}" for name, item in pick_axes(sources.axes, seed).items()]
    lines += ["  example first messages:"] + [f"    - {text}" for text in pick_examples(sources.first_messages, seed)]
    return lines


def describe_attempts(raws: list, rules) -> tuple[list[str], list | None]:
    lines, conversation = [], None
    for attempt, raw in enumerate(raws):
        verdict = judge_entry(raw, rules)
        outcome = "valid" if verdict.valid else "rejected: " + ", ".join(verdict.reasons)
        used = " (used)" if verdict.valid and conversation is None else ""
        lines.append(f"  attempt {attempt}: {outcome}{used}")
        if verdict.valid and conversation is None:
            conversation = verdict.messages
        elif not verdict.valid and (entry := decode_entry(raw)):
            lines.append(f"    answer starts: {entry['body'].strip()[:160]!r}")
    return lines or ["  no cached attempts: run `make fetch`"], conversation


def format_messages(messages: list[dict]) -> list[str]:
    return [f"  {m['role']:>9}: {m['content']}" for m in messages]


def describe_conversation(messages: list | None) -> list[str]:
    if messages is None:
        return ["conversation: none valid yet"]
    return ["conversation:"] + format_messages(messages)


@click.command("show")
@option("SEED", type=click.IntRange(min=0), required=True, help="The seed to show.")
@location_options
@ascii_option
def show_command(seed, data_dir, cache_dir, base_url, ascii):
    """Show one seed: its prompt's varying parts, every cached attempt with its verdict, the conversation.

    Example: python -m stages show --seed 3
    """
    body = load_body(data_dir, seed)
    with open_cache(cache_dir) as cache:
        raws = list(cached_attempts(cache, completions_url(base_url), body))
    attempt_lines, conversation = describe_attempts(raws, rules_for(ascii))
    lines = describe_prompt(seed) + ["attempts:"] + attempt_lines + describe_conversation(conversation)
    click.echo("\n".join(lines))
