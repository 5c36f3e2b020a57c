"""The leak check's speed per message, side by side with the check as it was at an earlier commit:
both read every conversation of the stored real datasets (tests/data/real/*.jsonl.gz) with the same
identity, in alternating rounds on the same machine; the best round of each counts.

    python tests/leak_speed.py [--commit SHA] [--rounds N]

Prints microseconds per assistant message for each and their ratio.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from blind_scores import load_old_modules  # noqa: E402
from leak_scores import REAL_DATASETS, facts_of, real_conversations  # noqa: E402

from stages.judging.leaks import find_problem  # noqa: E402

BEFORE = "6382777"   # the check before the rules became named rules over a vocabulary


def workload() -> list[tuple[list[dict], str]]:
    return [(conversation, identity) for dataset, identity in REAL_DATASETS.items()
            for conversation in real_conversations(dataset)]


def timed(check, work) -> float:
    start = time.perf_counter()
    for conversation, facts in work:
        check(conversation, facts)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default=BEFORE)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    leaks, identity = load_old_modules(args.commit)
    real = workload()
    messages = sum(m.get("role") == "assistant" for conversation, _ in real for m in conversation)
    new_work = [(conversation, facts_of(name)) for conversation, name in real]
    old_facts = {name: identity.load_identity(ROOT / "tests" / "data" / "real" / f"{name}.md", old_prompts(args.commit))
                 .facts for name in set(REAL_DATASETS.values())}
    old_work = [(conversation, old_facts[name]) for conversation, name in real]
    timed(find_problem, new_work[:200]), timed(leaks.find_leak, old_work[:200])   # warm the caches
    old = new = float("inf")
    for _ in range(args.rounds):
        old = min(old, timed(leaks.find_leak, old_work))
        new = min(new, timed(find_problem, new_work))
    print(f"{messages} assistant messages of {len(real)} real conversations, best of {args.rounds} rounds")
    print(f"check at {args.commit}: {1e6 * old / messages:.1f} µs a message")
    print(f"check now: {1e6 * new / messages:.1f} µs a message ({new / old:.2f}x)")


def old_prompts(commit: str) -> Path:
    from blind_scores import old_prompt_folder
    return old_prompt_folder(commit)


if __name__ == "__main__":
    main()
