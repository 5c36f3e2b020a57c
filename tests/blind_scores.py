"""The leak check scored on a blind set (tests/data/blind/*.tsv): recall and false alarms per kind
and per language. Columns: label (leak|pass), kind, language, assistant message, user message;
lines starting with `#` are comments. Self-denial and junk answers count as caught when their own
reason fires.

    python tests/blind_scores.py [FILE.tsv] [--identity FILE.md] [--commit SHA]

With --commit, the check as it was at that commit is scored instead (its leaks.py and identity.py
loaded from git), for the first score of a set written before a change.
"""
import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BLIND = ROOT / "tests" / "data" / "blind"


@dataclass(frozen=True)
class BlindRow:
    leak: bool
    kind: str
    language: str
    assistant: str
    user: str

    def conversation(self) -> list[dict]:
        return [{"role": "user", "content": self.user or "hi"}, {"role": "assistant", "content": self.assistant}]


def load_blind(path: Path) -> list[BlindRow]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, kind, language, assistant, user = (line.split("\t") + ["", ""])[:5]
            rows.append(BlindRow(label == "leak", kind, language, assistant, user))
    return rows


def current_checker(identity: Path):
    from stages.judging.checks import conversation_problem
    from stages.judging.identity import load_identity
    facts = load_identity(identity, ROOT / "prompts").facts
    return lambda row: conversation_problem(row.conversation(), facts) is not None


def load_old_modules(commit: str):
    """(leaks, identity) modules of the check as it was at `commit`, loaded from git into a scratch package."""
    folder = Path(tempfile.mkdtemp()) / "oldstages"
    for sub in ("", "judging", "storage"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / sub / "__init__.py").write_text("")
    for name in ("errors.py", "judging/leaks.py", "judging/identity.py", "storage/texts.py"):
        (folder / name).write_text(git_show(commit, f"stages/{name}"))
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("oldstages.judging.leaks"), importlib.import_module("oldstages.judging.identity")


def git_show(commit: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def old_prompt_folder(commit: str) -> Path:
    """A prompts folder holding that commit's list of other models."""
    folder = Path(tempfile.mkdtemp())
    (folder / "other_models.txt").write_text(git_show(commit, "prompts/other_models.txt"))
    return folder


def old_checker(commit: str, identity: Path):
    """find_leak as it was at `commit`; the facts it did not know yet (maker, language) are left out."""
    leaks, identity_module = load_old_modules(commit)
    folder = old_prompt_folder(commit)
    kept = [line for line in identity.read_text(encoding="utf-8").splitlines()
            if line.partition(":")[0].strip() in identity_module.FACT_KEYS or ":" not in line
            or not line.strip()[:1].islower()]
    (folder / "identity.md").write_text("\n".join(kept) + "\n")
    facts = identity_module.load_identity(folder / "identity.md", folder).facts
    return lambda row: leaks.find_leak(row.conversation(), facts) is not None


def tally(rows: list[BlindRow], flagged) -> dict:
    """(group -> [caught, leaks, false alarms, innocent]) by kind, by language, and overall."""
    groups = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        said = flagged(row)
        for group in ("all", f"kind {row.kind}", f"language {row.language}",
                      "non-English" if row.language != "en" else "English"):
            counts = groups[group]
            if row.leak:
                counts[0] += said
                counts[1] += 1
            else:
                counts[2] += said
                counts[3] += 1
    return dict(groups)


def describe(groups: dict) -> list[str]:
    lines = []
    for group in sorted(groups, key=lambda g: (g.split()[0] if " " in g else "", g)):
        caught, leaks, alarms, innocent = groups[group]
        recall = f"recall {caught}/{leaks} ({caught / leaks:.0%})" if leaks else "no leaks"
        alarm = f"false alarms {alarms}/{innocent} ({alarms / innocent:.1%})" if innocent else "no innocent lines"
        lines.append(f"{group:<26} {recall:<24} {alarm}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=BLIND / "wren_dev.tsv")
    parser.add_argument("--identity", type=Path, default=BLIND / "wren.md")
    parser.add_argument("--commit", default="")
    args = parser.parse_args()
    rows = load_blind(args.file)
    flagged = old_checker(args.commit, args.identity) if args.commit else current_checker(args.identity)
    print("\n".join(describe(tally(rows, flagged))))


if __name__ == "__main__":
    main()
