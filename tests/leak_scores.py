"""The leak check scored on its labelled sets: tests/data/leak_sentences.tsv (written while the
check was tuned) and leak_sentences_heldout.tsv (written after, scored once as first written).

Run `python tests/leak_scores.py` to print precision and recall; tests/test_leaks.py uses the same rows.
"""
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.judging.identity import load_identity  # noqa: E402
from stages.judging.leaks import find_leak  # noqa: E402

SENTENCES = ROOT / "tests" / "data" / "leak_sentences.tsv"
HELD_OUT = SENTENCES.with_name("leak_sentences_heldout.tsv")


@dataclass(frozen=True)
class Row:
    leak: bool          # the label: does the sentence claim another identity?
    assistant: str
    user: str = ""
    known: str = ""     # "miss" or "false alarm": where the check is known to disagree

    def conversation(self) -> list[dict]:
        return [{"role": "user", "content": self.user or "hi"}, {"role": "assistant", "content": self.assistant}]


def load_rows(path: Path = SENTENCES) -> list[Row]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, assistant, user, known = (line.split("\t") + ["", ""])[:4]
            rows.append(Row(label == "leak", assistant, user, known))
    return rows


def flagged(row: Row) -> bool:
    return find_leak(row.conversation(), load_identity(ROOT / "prompts" / "identity.md", ROOT / "prompts").facts) is not None


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
    return (f"{name} ({result['sentences']} sentences): precision {result['precision']:.2f}, "
            f"recall {result['recall']:.2f} ({result['leaks']} leaks; misses {result['misses']}, "
            f"false alarms {result['false_alarms']})")


if __name__ == "__main__":
    print(describe("labelled set", load_rows(SENTENCES)))
    print(describe("held-out set", load_rows(HELD_OUT)))
