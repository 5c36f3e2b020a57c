"""The verdict key: one digest of everything that can change a seed's verdict.

It is derived from the whole RunSettings object, minus the fields listed in NOT_VERDICT, plus the
contents of the files the settings name, the prompt sources, the judging code and the schema
libraries' versions. A setting added to RunSettings tomorrow is part of it by default: only an
entry in NOT_VERDICT (with its reason, and a test that changing it changes no verdict) takes it out.
"""
import hashlib
import json
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

from ..storage.run import RunSettings, file_digest, plain
from ..storage.codehash import code_digest
from ..storage.texts import PROMPTS_DIR

# Settings that decide what happens after every seed has its verdict, never the verdict itself.
NOT_VERDICT = {
    "n": "a seed's verdict depends on that seed alone, not on how many seeds the run has",
    "seeds": "likewise for a slice of the seeds",
    "format": "the shape of a dataset line is chosen after the verdicts",
    "dedup": "duplicates are dropped among valid conversations, after the verdicts",
    "dedup_threshold": "likewise",
    "split": "which file a valid conversation goes to",
}


def sources_digest(folder: Path = PROMPTS_DIR) -> str:
    """Every file under prompts/ (the default identity's facts and the schema among them)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def verdict_settings(run: RunSettings) -> dict:
    return {name: plain(value) for name, value in asdict(run).items() if name not in NOT_VERDICT}


def verdict_key(run: RunSettings) -> str:
    files = {name: file_digest(getattr(run, name)) for name in ("identity", "context")}
    parts = [verdict_settings(run), files, sources_digest(), code_digest(),
             version("fastjsonschema"), version("jsonschema")]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
