"""Real conversations replayed as the API's answers: each seed is answered with the next real
conversation of a dataset in tests/data/real/, a re-asked seed with another, through the real
fetch and its checks (the loopback fake only carries them). Prints, per dataset, the share of
seeds the checks re-ask.

Run `python tests/real_replay.py`; tests/test_real.py runs a part of it.
"""
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from leak_scores import DOWNLOADED, REAL, REAL_DATASETS  # noqa: E402
from stages.storage.paths import prompt_dir  # noqa: E402
from stages.judging.rules import CheckChoice, completions_url  # noqa: E402
from stages.fetching import Job, run_fetch  # noqa: E402
from stages.render import Settings, load_sources, render_all  # noqa: E402
from stages.fake.api import FakeConfig, start_fake  # noqa: E402
from stages.fake.replay import Replay, read_conversations  # noqa: E402
from stages.judging.rules import rules_for  # noqa: E402


@dataclass(frozen=True)
class Replayed:
    seeds: int
    valid: int
    requests: int

    @property
    def reasked(self) -> int:
        return self.requests - self.seeds

    def describe(self, name: str) -> str:
        return (f"{name}: {self.seeds} seeds, {self.valid} valid, {self.requests} requests: "
                f"{self.reasked} answers asked again ({100 * self.reasked / self.seeds:.1f}% of the seeds)")


def dataset_file(name: str) -> Path:
    plain = REAL / f"{name}.jsonl"
    return plain if plain.exists() else REAL / f"{name}.jsonl.gz"


def replay(name: str, limit: int | None = None, workers: int = 8) -> Replayed:
    """Seeds 0..n-1 (n: the dataset's size, or `limit`) fetched from a fake that replays the dataset."""
    conversations = read_conversations(dataset_file(name))[:limit]
    identity = REAL / f"{({**REAL_DATASETS, **DOWNLOADED})[name]}.md"
    checks = CheckChoice(identity=identity)
    seeds = range(len(conversations))
    server = start_fake(FakeConfig(replay=Replay(conversations), report_cost=False))
    try:
        with tempfile.TemporaryDirectory() as folder:
            data = Path(folder)
            render_all(load_sources(identity=identity), Settings(), seeds, prompt_dir(data))
            job = Job(completions_url(server.base_url), data, max_attempts=checks.max_attempts, timeout=30,
                      backoff=0.1, rules=rules_for(checks), key="")
            tally = run_fetch(job, data / "cache", seeds, workers)
    finally:
        server.shutdown()
        server.server_close()
    return Replayed(len(seeds), tally.valid, tally.requests)


if __name__ == "__main__":
    for dataset in REAL_DATASETS:
        print(replay(dataset).describe(dataset))
    for dataset in DOWNLOADED:
        if (REAL / f"{dataset}.jsonl").exists():
            print(replay(dataset).describe(dataset))
