"""The leak check scored on its labelled sets: tests/data/leak_sentences.tsv (written while the
check was tuned) and the held-out sets leak_sentences_heldout*.tsv, each written before a change
to the check and scored once as first written (the `known` column and each file's header record
what that first run got wrong; once its misses were fixed by class, a set counts as tuning), and
on real model output: the hand-labelled sentences of tests/data/real/ (tuning and held-out) and
the share of each real dataset's conversations the check rejects.

Run `python tests/leak_scores.py` to print the figures; tests/test_leaks.py uses the same rows.
"""
import functools
import gzip
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.judging.identity import load_identity  # noqa: E402
from stages.judging.leaks import find_leak  # noqa: E402

SENTENCES = ROOT / "tests" / "data" / "leak_sentences.tsv"
# name in the figures -> file; the ones after the first were each written before a change to the check
SYNTHETIC_SETS = {
    "labelled set": SENTENCES,
    "held-out set": SENTENCES.with_name("leak_sentences_heldout.tsv"),
    "second held-out set": SENTENCES.with_name("leak_sentences_heldout2.tsv"),  # before the real-data changes
    "third held-out set": SENTENCES.with_name("leak_sentences_heldout3.tsv"),  # before adjective/family/verbless
    "fourth held-out set": SENTENCES.with_name("leak_sentences_heldout4.tsv"),  # before the maker-as-source changes
    "fifth held-out set": SENTENCES.with_name("leak_sentences_heldout5.tsv"),  # before the clause-level rule
    "sixth held-out set": SENTENCES.with_name("leak_sentences_heldout6.tsv"),  # likewise, written blind to the patterns
    "seventh held-out set": SENTENCES.with_name("leak_sentences_heldout7.tsv"),  # blind, after the fifth and sixth
    "eighth held-out set": SENTENCES.with_name("leak_sentences_heldout8.tsv"),  # blind, long friendly answers
    "ninth held-out set": SENTENCES.with_name("leak_sentences_heldout9.tsv"),  # blind, the speaker named without "I"
}
HELD_OUT = SYNTHETIC_SETS["held-out set"]
REAL = ROOT / "tests" / "data" / "real"
REAL_TUNING, REAL_HELD_OUT = REAL / "labels_tuning.tsv", REAL / "labels_heldout.tsv"
# real dataset -> the facts file of its identity (see tests/data/real/SOURCES.md)
REAL_DATASETS = {"nanochat_deepseek": "nanochat", "nanochat_gemini": "nanochat",
                 "surfprobe_gemini": "surfprobe", "chibuchat_gemini": "chibuchat"}
# not stored: tests/data/real/fetch.py downloads them
DOWNLOADED = {"nanohindi": "nanohindi", "nanochat_harness": "nanochat", "snout_gemini": "snout",
              "omnimind_gemini3": "omnimind", "picochat": "picochat"}


@dataclass(frozen=True)
class Row:
    leak: bool          # the label: does the sentence claim another identity?
    assistant: str
    user: str = ""
    known: str = ""     # "miss" or "false alarm": where the check is known to disagree
    identity: str = ""  # facts file in tests/data/real/ (real rows); "" is the default identity

    @property
    def test_id(self) -> str:
        """Unique and the same whatever rows are added (pytest's own numbering of repeats shifts)."""
        digest = hashlib.blake2b(f"{self.assistant}\0{self.user}\0{self.identity}".encode(), digest_size=3).hexdigest()
        return re.sub(r"[^A-Za-z0-9 ,.!?-]", "_", self.assistant[:32]) + f"~{digest}"  # plain: a node id to pass on

    def conversation(self) -> list[dict]:
        return [{"role": "user", "content": self.user or "hi"}, {"role": "assistant", "content": self.assistant}]


def load_rows(path: Path = SENTENCES) -> list[Row]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, assistant, user, known = (line.split("\t") + ["", ""])[:4]
            rows.append(Row(label == "leak", assistant, user, known))
    return rows


def load_real_rows(path: Path) -> list[Row]:
    """label, dataset, line, assistant sentence, user message, known (optional)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, dataset, _, assistant, user, known = (line.split("\t") + [""])[:6]
            rows.append(Row(label == "leak", assistant, user, known, REAL_DATASETS[dataset]))
    return rows


@functools.lru_cache(maxsize=None)
def facts_of(identity: str = ""):
    path = REAL / f"{identity}.md" if identity else ROOT / "prompts" / "identity.md"
    return load_identity(path, ROOT / "prompts").facts


def flagged(row: Row) -> bool:
    return find_leak(row.conversation(), facts_of(row.identity)) is not None


def score(rows: list[Row]) -> dict:
    hits = [(row.leak, flagged(row)) for row in rows]
    true_pos = sum(label and said for label, said in hits)
    false_pos = sum(said and not label for label, said in hits)
    false_neg = sum(label and not said for label, said in hits)
    return {"sentences": len(rows), "leaks": sum(row.leak for row in rows),
            "precision": round(true_pos / max(1, true_pos + false_pos), 3),
            "recall": round(true_pos / max(1, true_pos + false_neg), 3),
            "false_alarms": false_pos, "misses": false_neg}


def describe(name: str, rows: list[Row]) -> str:
    result = score(rows)
    if not result["leaks"]:
        return f"{name} ({result['sentences']} sentences, no leaks): false alarms {result['false_alarms']}"
    return (f"{name} ({result['sentences']} sentences): precision {result['precision']:.2f}, "
            f"recall {result['recall']:.2f} ({result['leaks']} leaks; misses {result['misses']}, "
            f"false alarms {result['false_alarms']})")


def real_conversations(dataset: str) -> list[list[dict]]:
    plain = REAL / f"{dataset}.jsonl"
    with (plain.open(encoding="utf-8") if plain.exists() else
          gzip.open(REAL / f"{dataset}.jsonl.gz", "rt", encoding="utf-8")) as lines:
        return [json.loads(line) for line in lines if line.strip()]


@functools.lru_cache(maxsize=None)
def rejected_share(dataset: str) -> tuple[int, int]:
    """(conversations of the real dataset the leak check rejects, conversations)."""
    conversations = real_conversations(dataset)
    facts = facts_of({**REAL_DATASETS, **DOWNLOADED}[dataset])
    return sum(find_leak(c, facts) is not None for c in conversations), len(conversations)


def describe_rejections(dataset: str) -> str:
    rejected, total = rejected_share(dataset)
    return f"{dataset}: {rejected} of {total} conversations rejected ({100 * rejected / total:.1f}%)"


if __name__ == "__main__":
    for set_name, set_path in SYNTHETIC_SETS.items():
        print(describe(set_name, load_rows(set_path)))
    print(describe("real tuning set", load_real_rows(REAL_TUNING)))
    print(describe("real held-out set", load_real_rows(REAL_HELD_OUT)))
    for name in REAL_DATASETS:
        print(describe_rejections(name))
    for name in DOWNLOADED:
        if (REAL / f"{name}.jsonl").exists():
            print(describe_rejections(name))
