"""`make stats`: what the dataset looks like, what it teaches (judging/fidelity.py) and what it cost.

Reads DATA_DIR/identity_conversations.jsonl (array, messages or sharegpt lines) and the answer cache; prints
a table, writes DATA_DIR/stats.json and DATA_DIR/stats.png.
"""
import io
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Iterable

import click
import diskcache

from ..config import run_options
from ..judging.rules import CheckChoice, checks_of, completions_url
from ..elsewhere import elsewhere_hint
from ..errors import PipelineError
from ..judging.decisions import decision_counts
from ..judging.fidelity import ReviewCounts, count_reviews, draw_fidelity, fidelity_lines, fidelity_stats
from ..judging.identity import Facts, load_identity
from ..judging.summary import Summary, describe_counts, describe_numbers, row
from ..judging.judge import judge_body
from ..judging.permodel import model_lines, model_stats, tally_models
from ..judging.review import Rules, judge_entry
from ..storage.bodies import load_body
from ..storage.dataformats import read_conversations
from ..storage.cache import cached_attempts, decode_entry, open_cache
from ..storage.files import write_atomic
from ..transport.answers import TransientAnswer, Usage, parse_completion, usage_of
from ..judging.rules import rules_for
from ..render import load_sources, pick_axes
from ..storage.paths import dataset_path



def stats_paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / "stats.json", data_dir / "stats.png"


def conversations_in(path: Path):
    """A function that reads the dataset's conversations once more each time it is called."""
    if not path.exists():
        raise PipelineError(f"no dataset at {path}: run `make dataset` first")

    def read():
        for found in read_conversations(path):
            if found.messages is None:
                raise PipelineError(f"{path} line {found.line} is not a conversation ({found.problem}): "
                                    "run `make dataset` to write it again")
            yield found.messages
    return read


def attempt_usage(raw: object) -> Usage:
    """What one cached attempt cost; nothing for an entry this program cannot read. An entry's own
    `cost` (a share of a batch's bill, or priced from tokens) stands in for the body's usage.cost."""
    entry = decode_entry(raw)
    if entry is None:
        return Usage()
    try:
        usage = usage_of(parse_completion(entry["body"]))
    except (TransientAnswer, PipelineError):
        return Usage()
    cost = entry.get("cost")
    return replace(usage, cost=float(cost)) if isinstance(cost, (int, float)) else usage


def judge_usage(cache: diskcache.Cache, url: str, body: dict, raw: object, rules: Rules) -> Usage:
    """What the judge's answers on one cached conversation cost (none unless it passed the checks)."""
    verdict = judge_entry(raw, rules)
    if verdict.messages is None or not verdict.valid:
        return Usage()
    judge_request = judge_body(body, verdict.messages, rules.judge)
    return sum((attempt_usage(answer) for answer in cached_attempts(cache, url, judge_request)), Usage())


def spending(cache: diskcache.Cache, url: str, data_dir: Path, seeds: range,
             rules: Rules | None = None) -> tuple[Usage, int]:
    """Tokens and dollars of every cached attempt of these seeds, and of the judge's answers on
    them when the rules have a judge, and how many conversation attempts there were; url is the
    API root (BASE_URL)."""
    total, attempts, chat_url = Usage(), 0, completions_url(url)
    judged = rules is not None and rules.judge is not None
    for _, body in rendered_bodies(data_dir, seeds):
        for raw in cached_attempts(cache, chat_url, body):
            total += attempt_usage(raw)
            attempts += 1
            if judged:
                total += judge_usage(cache, chat_url, body, raw, rules)
    return total, attempts


def spent_on(cache: diskcache.Cache, url: str, data_dir: Path, n: int | range, rules: Rules | None = None) -> Usage:
    """Tokens and dollars of every cached attempt of seeds 0..n-1 (or a range), the judge's included."""
    return spending(cache, url, data_dir, range(n) if isinstance(n, int) else n, rules)[0]


def axis_stats(axes: dict[str, dict[str, int]]) -> dict:
    """Per axis: how often each item was used, and the least and most used counts."""
    return {name: {"counts": dict(items), "min": min(items.values(), default=0), "max": max(items.values(), default=0)}
            for name, items in axes.items()}


def usage_stats(spent: Usage | None, conversations: int) -> dict | None:
    """Tokens split four ways, dollars, and dollars per conversation in the file (every attempt and
    judge answer paid for, over the conversations kept)."""
    if spent is None:
        return None
    each = round(spent.cost / conversations, 6) if conversations else None
    return {"prompt_tokens": spent.prompt_tokens, "cached_tokens": spent.cached_tokens,
            "completion_tokens": spent.completion_tokens, "reasoning_tokens": spent.reasoning_tokens,
            "cost": round(spent.cost, 6), "cost_per_conversation": each}


def summarize(conversations: Iterable[list[dict]], facts: Facts | None = None) -> Summary:
    summary = Summary(facts)
    for messages in conversations:
        summary.add(messages)
    return summary


def compute_stats(summary: Summary, again, spent: Usage | None = None,
                  axes: dict[str, dict[str, int]] | None = None) -> dict:
    """stats.json's content sections; `again` reads the conversations once more."""
    stats = {**summary.shape(again), "spent": usage_stats(spent, len(summary.turns))}
    if axes is not None:
        stats["axes"] = axis_stats(axes)
    return stats








def describe_spent(spent: dict | None) -> str:
    if spent is None:
        return "unknown (no cache)"
    each = "" if spent["cost_per_conversation"] is None else f", ${spent['cost_per_conversation']:.5f} per conversation"
    return (f"{spent['prompt_tokens']:,} prompt ({spent['cached_tokens']:,} cached) + "
            f"{spent['completion_tokens']:,} completion ({spent['reasoning_tokens']:,} reasoning) tokens, "
            f"${spent['cost']:.4f}{each}")


def axis_lines(axes: dict) -> list[str]:
    lines = ["axes (items used per axis)"]
    for name, axis in axes.items():
        lines.append(row(f"  {name}", f"{len(axis['counts'])} items, used min {axis['min']}, max {axis['max']} times"))
        ranked = sorted(axis["counts"].items(), key=lambda item: (-item[1], item[0]))
        lines += [f"    {count:>6}  {item}" for item, count in ranked]
    return lines


def format_table(stats: dict) -> str:
    dup = stats["duplicates"]
    lines = [row("conversations", stats["conversations"]),
             row("turns per conversation", describe_numbers(stats["turns"])),
             row("  how many have n turns", describe_counts(stats["turns"]["histogram"])),
             row("user message chars", describe_numbers(stats["user_chars"])),
             row("assistant message chars", describe_numbers(stats["assistant_chars"])),
             row("first message scripts", describe_counts(stats["first_message_scripts"])),
             row("duplicates", f"exact {dup['exact']} ({dup['exact_rate']:.1%}), near {dup['near']} "
                               f"({dup['near_rate']:.1%})"),
             row("messages with non-ASCII", stats["non_ascii_messages"]),
             row("spent", describe_spent(stats["spent"])),
             "most repeated assistant openings"]
    lines += [f"  {item['count']:>6}  {item['opening']}" for item in stats["top_openings"]]
    lines += fidelity_lines(stats["fidelity"], row) if "fidelity" in stats else []
    lines += axis_lines(stats["axes"]) if "axes" in stats else []
    lines += [row("review decisions", describe_counts(stats["review"]))] if "review" in stats else []
    return "\n".join(lines + (model_lines(stats["models"]) if "models" in stats else []))


def draw_turns(axes, stats: dict) -> None:
    histogram = stats["turns"]["histogram"]
    axes.bar(list(histogram), list(histogram.values()))
    axes.set(title="Messages per conversation", xlabel="messages", ylabel="conversations")


def draw_lengths(axes, summary: Summary) -> None:
    import numpy as np
    lengths = [np.frombuffer(summary.user_chars, dtype=np.uint32), np.frombuffer(summary.assistant_chars, dtype=np.uint32)]
    axes.hist(lengths, bins=30, label=["user", "assistant"])
    axes.set(title="Message length", xlabel="characters", ylabel="messages")
    axes.legend()


def draw_scripts(axes, stats: dict) -> None:
    scripts = stats["first_message_scripts"]
    axes.bar(list(scripts), list(scripts.values()))
    axes.set(title="Script of the first user message", ylabel="conversations")


def draw_figure(summary: Summary, stats: dict) -> bytes:
    """Turns histogram, user vs assistant message lengths, first-message scripts, fidelity, as PNG bytes."""
    # Imported here: matplotlib is slow to import and only this command draws. A bare Figure on the
    # Agg canvas needs no display and leaves pyplot's global backend and figure list alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(20, 4.5))
    FigureCanvasAgg(figure)
    turns, lengths, scripts, fidelity = figure.subplots(1, 4)
    draw_turns(turns, stats)
    draw_lengths(lengths, summary)
    draw_scripts(scripts, stats)
    if "fidelity" in stats:
        draw_fidelity(fidelity, stats["fidelity"])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def spent_in(cache_dir: Path, base_url: str, data_dir: Path, seeds: range,
             rules: Rules | None = None) -> tuple[Usage | None, str | None]:
    """The spend (None when there is no cache folder: opening one would create it), and where the
    answers are when the cache holds none for these seeds under BASE_URL."""
    if not cache_dir.is_dir():
        return None, None
    with open_cache(cache_dir) as cache:
        spent, attempts = spending(cache, base_url, data_dir, seeds, rules)
        return spent, None if attempts else elsewhere_hint(cache, seeds, base_url, "stats")


def axis_coverage(seeds: range) -> dict[str, dict[str, int]]:
    """How often each axis item was drawn over these seeds (the prompts' side, before any rejection)."""
    axes = load_sources().axes
    counts = {name: Counter({item: 0 for item in items}) for name, items in axes.items()}
    for seed in seeds:
        for name, item in pick_axes(axes, seed).items():
            counts[name][item] += 1
    return {name: dict(counter) for name, counter in counts.items()}


def rendered_bodies(data_dir: Path, seeds: range):
    for seed in seeds:
        try:
            yield seed, load_body(data_dir, seed)
        except PipelineError:
            continue  # no rendered prompt, so no key to look the answers up by


def reviewed_in(cache_dir: Path, base_url: str, data_dir: Path, seeds: range, rules: Rules,
                limit: int) -> tuple[ReviewCounts | None, dict | None]:
    """Leak rejections and judge verdicts over the seeds' cached answers, and stats.json's "models"
    section, from one walk of the cache; (None, None) without a cache folder."""
    if not cache_dir.is_dir():
        return None, None
    tallies: dict = {}
    with open_cache(cache_dir) as cache:
        reviews = tally_models(cache, completions_url(base_url), data_dir, seeds, rules, limit, tallies)
        counts = count_reviews(reviews, rules.judge is not None)
    return counts, model_stats(tallies)


def write_stats(data_dir: Path, cache_dir: Path, base_url: str, seeds: range,
                checks: CheckChoice = CheckChoice()) -> tuple[dict, str | None]:
    """The stats, written to stats.json and stats.png, and a hint when no answer was found under BASE_URL."""
    again = conversations_in(dataset_path(data_dir))
    summary = summarize(again(), load_identity(checks.identity).facts)
    rules = rules_for(checks)
    spent, hint = spent_in(cache_dir, base_url, data_dir, seeds, rules if checks.judge else None)
    stats = compute_stats(summary, again, spent, axis_coverage(seeds))
    counts, models = reviewed_in(cache_dir, base_url, data_dir, seeds, rules, checks.max_attempts)
    stats["fidelity"] = fidelity_stats(summary, counts, again)
    if models is not None:
        stats["models"] = models
    stats["review"] = decision_counts(data_dir)
    json_path, png_path = stats_paths(data_dir)
    write_atomic(json_path, json.dumps(stats, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    write_atomic(png_path, draw_figure(summary, stats))
    return stats, hint


@click.command("stats")
@run_options()
def stats_command(data_dir, run):
    """Describe the dataset: turns, lengths, scripts, duplicates, openings, fidelity, cost, per-model numbers;
    writes stats.json and .png.

    Example: python -m stages stats --n 1000
    """
    cache_dir = Path(run.cache_dir)
    stats, hint = write_stats(data_dir, cache_dir, run.base_url, run.seed_range, checks_of(run))
    click.echo(format_table(stats))
    if hint:
        click.echo(f"stats: cost unknown, {hint}", err=True)
    json_path, png_path = stats_paths(data_dir)
    dup = stats["duplicates"]
    click.echo(f"stats: {stats['conversations']} conversations, {dup['exact']} exact and {dup['near']} near "
               f"duplicates; written to {json_path} and {png_path}", err=True)
