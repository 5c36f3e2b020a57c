"""A folder the Hugging Face Hub takes as a dataset: data/train.jsonl, data/validation.jsonl and a
README.md dataset card (YAML metadata, then the facts: identity, models, seeds, checks, cost).

The conversations are written as they come (SplitWriter), in the chosen shape; the card's facts
come in as a CardFacts built by the command from the run's own numbers.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from ..storage.files import temp_beside

SPLITS = {"train": "data/train.jsonl", "validation": "data/validation.jsonl"}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


@dataclass(frozen=True)
class CardFacts:
    name: str                  # the identity's name
    description: str           # the identity's first paragraph
    license: str
    language: str
    shape: str                 # messages or sharegpt, how each line looks
    seeds: int
    summary: dict              # reporting.collect.summary_data
    settings: dict             # the run's settings worth stating (model, judge, attempts, ...)


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "n>1M")


class SplitWriter:
    """Rows into data/train.jsonl or data/validation.jsonl as they come, one compact JSON value a line."""

    def __init__(self, folder: Path):
        self.paths = {split: folder / path for split, path in SPLITS.items()}
        self.temps = {split: temp_beside(path) for split, path in self.paths.items()}
        self.files = {split: open(temp, "w", encoding="utf-8") for split, temp in self.temps.items()}
        self.counts = dict.fromkeys(SPLITS, 0)

    def write(self, row: object, validation: bool) -> None:
        split = "validation" if validation else "train"
        self.files[split].write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.counts[split] += 1

    def close(self) -> dict[str, int]:
        """Move the files into place (an empty split is left out, as the card leaves it out); the counts."""
        for split, file in self.files.items():
            file.close()
            if self.counts[split]:
                self.temps[split].replace(self.paths[split])
            else:
                self.temps[split].unlink()
                self.paths[split].unlink(missing_ok=True)
        return self.counts


def yaml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML string


def metadata(facts: CardFacts, counts: dict[str, int]) -> str:
    files = "".join(f"  - split: {split}\n    path: {path}\n" for split, path in SPLITS.items() if counts[split])
    return (f"---\nlicense: {facts.license}\nlanguage:\n- {facts.language}\ntask_categories:\n- text-generation\n"
            f"tags:\n- synthetic\n- conversational\n- identity\nsize_categories:\n- {size_category(sum(counts.values()))}\n"
            f"pretty_name: {yaml_string(facts.name + ' identity conversations')}\n"
            f"configs:\n- config_name: default\n  data_files:\n{files}---\n")


def percent(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1%}"


def models_table(models: dict) -> list[str]:
    lines = ["| generator model | seeds | valid seeds | answers | valid answers | leaks | dollars | per valid |",
             "|---|---|---|---|---|---|---|---|"]
    for model, n in sorted(models.items()):
        each = "" if n["cost_per_valid"] is None else f"${n['cost_per_valid']:.5f}"
        lines.append(f"| {model} | {n['seeds']} | {n['valid_seeds']} | {n['answers']} | "
                     f"{percent(n['valid_answer_rate'])} | {percent(n['leak_rate'])} | ${n['cost']:.4f} | {each} |")
    return lines


def checks_lines(summary: dict, seeds: int) -> list[str]:
    leaks, judge, statuses = summary["leaks"] or {}, summary["judge"], summary["statuses"]
    judged = (f"{judge['passed']} of {judge['judged']} conversations passed ({percent(judge['passed'] / judge['judged'])})"
              if judge["run"] and judge["judged"] else "not run")
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary["reasons"].items()) or "none"
    return [f"- **Shape**: the JSON schema, user/assistant turns in order, no empty message.",
            f"- **Leak check** (answers claiming another model's identity): "
            f"{leaks.get('rejected', 0)} of {leaks.get('answers_checked', 0)} answers rejected "
            f"({percent(leaks.get('rate'))}); a rejected seed was asked again.",
            f"- **Judge model**: {judged}.",
            f"- **Duplicates**: {statuses.get('duplicate', 0)} exact or near copies dropped.",
            f"- **Review by hand**: {statuses.get('dropped', 0)} dropped, {statuses.get('kept', 0)} kept.",
            f"- Seeds with an answer rejected, by reason: {reasons}.",
            f"- {summary['in_dataset']} of {seeds} seeds are in the dataset."]


def repeated_lines(summary: dict) -> list[str]:
    top = summary["sentences"][:3]
    if not top:
        return []
    return ["", "The assistant sentences found in the most conversations (a sentence in nearly every "
            "conversation is a line the model will learn by heart):", ""] + [
        f"- {item['share']:.0%} ({item['count']}): \u201c{item['sentence']}\u201d" for item in top]


def card_text(facts: CardFacts, counts: dict[str, int]) -> str:
    models, total = facts.summary["models"], sum(n["cost"] for n in facts.summary["models"].values())
    settings = ", ".join(f"{key} {value}" for key, value in facts.settings.items())
    lines = [metadata(facts, counts), f"# {facts.name} identity conversations", "",
             f"Synthetic multi-turn conversations that teach a small chat model that it is **{facts.name}**: "
             "its name, who built it, what it can and cannot do.", "", f"> {facts.description}", "",
             "## Contents", "",
             f"{counts['train']} training and {counts['validation']} validation conversations, one JSON object a line "
             f"({facts.shape} shape), from {facts.seeds} seeds.", "",
             "```python", "from datasets import load_dataset", 'ds = load_dataset("path/or/user/name")', "```", "",
             "## How it was made", "",
             "Each seed's request draws a topic, a persona and a way for the conversation to move, plus example first "
             "messages, and asks a generator model for one conversation as JSON under a strict schema. Every answer "
             "is checked; a rejected one is asked again, up to the attempt limit. "
             f"Settings: {settings}.", ""] + models_table(models) + [
             "", f"Total cost: ${total:.4f} (every answer paid for, re-asks and judge answers included).", "",
             "## Checks and their rates", ""] + checks_lines(facts.summary, facts.seeds) + repeated_lines(facts.summary)
    return "\n".join(lines) + "\n"


def write_readme(folder: Path, facts: CardFacts, counts: dict[str, int]) -> Path:
    path = folder / "README.md"
    readme = temp_beside(path)
    readme.write_text(card_text(facts, counts), encoding="utf-8")
    readme.replace(path)
    return path
