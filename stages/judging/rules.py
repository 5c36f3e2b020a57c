"""The rules a run's answers are judged by, made from its settings: one place for every command."""
from dataclasses import dataclass
from pathlib import Path

from ..storage.run import DEFAULT_ATTEMPTS, RunSettings
from ..storage.texts import PROMPTS_DIR, read_schema
from .identity import load_identity
from .judge import load_judge
from .review import Rules, make_rules, review_all


@dataclass(frozen=True)
class CheckChoice:
    """What decides whether an answer is kept: ASCII, the IDENTITY it must teach, the JUDGE pass."""
    ascii_only: bool = False
    identity: Path | None = None
    judge: bool = False
    judge_model: str = ""
    max_attempts: int = DEFAULT_ATTEMPTS  # answers per seed (and judge answers per conversation)


def checks_of(run: RunSettings) -> CheckChoice:
    return CheckChoice(run.ascii, run.identity_path, run.judge, run.judge_model, run.max_attempts)


def rules_for(checks: CheckChoice, folder: Path = PROMPTS_DIR) -> Rules:
    identity = load_identity(checks.identity, folder)
    judge = load_judge(identity.prose, checks.judge_model, folder) if checks.judge else None
    return make_rules(read_schema(folder / "schema.json"), checks.ascii_only, judge, identity.facts)


def completions_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


def reviews_for(cache, seeds: range, data_dir, base_url: str, checks: CheckChoice):
    """Each seed's review from the cache, in seed order."""
    return review_all(cache, completions_url(base_url), data_dir, seeds, rules_for(checks), checks.max_attempts)
