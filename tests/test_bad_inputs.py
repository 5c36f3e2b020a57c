"""Every make variable with a wrong value, set in the environment as `make` passes it: one line on
stderr naming the variable, a non-zero exit, no traceback, and the cache (what was paid for)
exactly as it was."""
import json
import re

import pytest
from conftest import FAKE_URL, GOOD, cache_entry, conversation_content, run, store_answer

from stages.storage.cache import open_cache

# A file of each bad kind, made by `bad_file`; a value starting with one of these names is replaced
# by that file's path.
FILES = {"missing": None, "folder": None, "empty": b"", "blank": b"  \n\n", "latin1": "Name: Sprout, très petit".encode("latin-1"),
         "utf16": "---\nname: Sprout\n---\nSprout".encode("utf-16")}

CASES = [
    # (command, variable, value, words the line holds besides the variable)
    ("prompts", "N", "-1", "-1"),
    ("fetch", "N", "abc", "abc"),
    ("validate", "N", "1.5", "1.5"),
    ("fetch", "WORKERS", "0", "0"),
    ("fetch", "WORKERS", "abc", "abc"),
    ("fetch", "WORKERS", "-3", "-3"),
    ("fetch", "TIMEOUT", "0", "0"),
    ("fetch", "BACKOFF", "-1", "-1"),
    ("fetch", "RPM", "0", "0"),
    ("fetch", "BUDGET", "-5", "-5"),
    ("fetch", "BUDGET", "lots", "lots"),
    ("fetch", "PRICE_IN", "x", "x"),
    ("estimate", "PRICE_OUT", "-1", "-1"),
    ("prompts", "TEMPERATURE", "hot", "hot"),
    ("prompts", "MAX_TOKENS", "0", "0"),
    ("prompts", "MODELS", "a=0", "weight"),
    ("prompts", "MODELS", "a,a", "twice"),
    ("prompts", "REASONING", "max", "max"),
    ("prompts", "RESPONSE_FORMAT", "xml", "xml"),
    ("prompts", "OPENROUTER", "yes", "yes"),
    ("prompts", "BASE_URL", "ftp://x/v1", "http:// or https://"),
    ("fetch", "BASE_URL", "127.0.0.1:8080/v1", "no scheme"),
    ("dataset", "BASE_URL", "http://host/v1/chat/completions", "API root"),
    ("show", "BASE_URL", "http:///v1", "no host"),
    ("prompts", "SEEDS", "9:3", "seed range"),
    ("fetch", "SEEDS", "abc", "seed range"),
    ("validate", "ASCII", "maybe", "maybe"),
    ("validate", "JUDGE", "2", "2"),
    ("fetch", "MAX_ATTEMPTS", "0", "0"),
    ("fetch", "BATCH", "x", "x"),
    ("fetch", "BATCH_SIZE", "0", "0"),
    ("fetch", "BATCH_WAIT", "later", "later"),
    ("dataset", "FORMAT", "csv", "csv"),
    ("dataset", "DEDUP", "x", "x"),
    ("dataset", "DEDUP_THRESHOLD", "0.2", "0.2"),
    ("dataset", "SPLIT", "1.5", "1.5"),
    ("audit", "DEDUP_THRESHOLD", "2", "2"),
    ("audit", "FORMAT", "csv", "csv"),
    ("show", "SEED", "-1", "-1"),
    ("audit", "FILE", "missing", "no such file"),
    ("audit", "FILE", "folder", "Is a directory"),
    ("audit", "FILE", "empty", "no lines to check"),
    ("audit", "FILE", "latin1", "not UTF-8"),
    ("validate", "DATA_DIR", "empty", "is a file"),
    ("dataset", "CACHE_DIR", "empty", "is a file"),
    ("prompts", "CONTEXT", "missing", "does not exist"),
    ("prompts", "CONTEXT", "folder", "is a directory"),
    ("prompts", "CONTEXT", "empty", "is empty"),
    ("prompts", "CONTEXT", "latin1", "not UTF-8"),
] + [(command, "IDENTITY", kind, words)
     for command in ("prompts", "fetch", "validate", "dataset", "stats", "show", "estimate", "audit")
     for kind, words in (("missing", "does not exist"), ("folder", "is a directory"), ("empty", "is empty"),
                         ("blank", "is empty"), ("latin1", "line 1: not UTF-8"), ("utf16", "not UTF-8"))]


def bad_file(tmp_path, kind: str):
    path = tmp_path / "bad" / f"{kind}.md"
    path.parent.mkdir(exist_ok=True)
    if kind == "folder":
        path.mkdir()
    elif FILES[kind] is not None:
        path.write_bytes(FILES[kind])
    return path


def cache_contents(cache_dir) -> dict:
    with open_cache(cache_dir) as cache:
        return {key: cache[key] for key in cache.iterkeys()}


def names_variable(line: str, variable: str, value: str) -> bool:
    """The make variable as a word, or click's option name for it; a file FILE names is named by its path."""
    # TODO(lead): once errors name make variables, require `variable` alone (drop the --flag form).
    flag = "--" + variable.lower().replace("_", "-")
    named_file = variable == "FILE" and line.startswith(f"Error: {value}")
    return bool(re.search(rf"(?<![\w-]){variable}(?![\w-])", line)) or f"'{flag}'" in line or named_file


@pytest.mark.parametrize("command, variable, value, words", CASES,
                         ids=[f"{c}-{v}={x}" for c, v, x, _ in CASES])
def test_a_wrong_value_is_one_line_naming_the_variable_and_loses_nothing(rendered, tmp_path, command, variable,
                                                                          value, words):
    data, cache = rendered
    store_answer(rendered, 0, 0, cache_entry(conversation_content(GOOD)))
    before = cache_contents(cache)
    dataset = tmp_path / "conversations.jsonl"
    dataset.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    if value in FILES:
        value = str(bad_file(tmp_path, value))
    env = {"N": "2", "DATA_DIR": str(data), "CACHE_DIR": str(cache), "BASE_URL": FAKE_URL, "FILE": str(dataset), "SEED": "0",
           "OPENROUTER_API_KEY": "sk-or-v1-test-key-0123456789abcdef", variable: value}
    result = run(command, **env)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert names_variable(lines[0], variable, value), lines[0]
    assert words in lines[0]
    assert cache_contents(cache) == before
