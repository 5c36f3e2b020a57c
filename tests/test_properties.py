"""The two invariants the design rests on, over many generated cases:
a cached rebuild is the same bytes whatever order the answers arrived in, and a seed's request
body depends on the seed and the prompt sources alone."""
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import responses
from conftest import FAKE_URL, ROOT, TEST_KEY, cache_entry, chat_answer, conversation_content, project_env, run
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.assemble import build_dataset
from stages.render import Settings, encode_body, load_sources, render_all, request_body
from stages.judging.rules import completions_url
from stages.storage.run import RunSettings
from stages.storage.bodies import load_body
from stages.storage.cache import answer_key, open_cache

N = 16
OUTPUTS = ("identity_conversations.jsonl", "identity_conversations.val.jsonl", "rejected.jsonl", "duplicates.jsonl")
WORDS = "sprout small open model answers who built it limits languages code honest careful friendly".split()


def chat(seed: int, attempt: int) -> list[dict]:
    rng = random.Random(seed * 100 + attempt)
    return [{"role": "user", "content": f"hello {seed}"},
            {"role": "assistant", "content": " ".join(rng.choice(WORDS) for _ in range(30))}]


def answers_of(seed: int) -> list[str]:
    """Cached attempts of one seed: most valid at once, some after a bad answer, one never, one a copy."""
    if seed % 5 == 1:
        return [cache_entry("not json"), cache_entry(conversation_content(chat(seed, 1)))]
    if seed == 13:
        return [cache_entry("[]"), cache_entry(conversation_content(chat(seed, 0)), finish="length")]
    if seed == 9:
        return [cache_entry(conversation_content(chat(4, 0)))]  # an exact copy of seed 4's
    return [cache_entry(conversation_content(chat(seed, 0)))]


ENTRIES = [(seed, attempt, raw) for seed in range(N) for attempt, raw in enumerate(answers_of(seed))]


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    render_all(load_sources(), Settings(), N, data / "prompts")
    return data


def build_from(data: Path, order: list[int], split: float) -> dict[str, bytes]:
    """Store ENTRIES in this order in a new cache, assemble the dataset, return the output files."""
    with tempfile.TemporaryDirectory() as folder:
        with open_cache(Path(folder)) as cache:
            for seed, attempt, raw in (ENTRIES[i] for i in order):
                cache.set(answer_key(completions_url(FAKE_URL), load_body(data, seed), attempt), raw)
        build_dataset(data, RunSettings(n=N, base_url=FAKE_URL, split=split, cache_dir=folder))
    return {name: (data / name).read_bytes() for name in OUTPUTS if (data / name).exists()}


@pytest.fixture(scope="module")
def in_order(prompts_dir):
    """The outputs when the answers were cached in seed and attempt order, per SPLIT."""
    return {split: build_from(prompts_dir, list(range(len(ENTRIES))), split) for split in (0.0, 0.3)}


@settings(max_examples=20)
@given(order=st.permutations(range(len(ENTRIES))), split=st.sampled_from([0.0, 0.3]))
def test_rebuild_is_the_same_bytes_whatever_order_the_answers_arrived_in(prompts_dir, in_order, order, split):
    assert build_from(prompts_dir, order, split) == in_order[split]
    assert len(in_order[split]["identity_conversations.jsonl"].splitlines()) > N // 2


def body_of(request) -> str:
    return json.dumps(json.loads(request.body), sort_keys=True)


def deterministic_api(data: Path, delays: random.Random):
    """A responses callback: each body's first answer is bad for every third seed, then good; each
    answer takes a random delay, so answers arrive in a different order each run."""
    seed_of = {json.dumps(load_body(data, seed), sort_keys=True): seed for seed in range(N)}
    asked: dict[int, int] = {}
    lock = threading.Lock()

    def answer(request):
        seed = seed_of[body_of(request)]
        with lock:
            attempt = asked[seed] = asked.get(seed, -1) + 1
            pause = delays.uniform(0, 0.03)
        time.sleep(pause)
        content = "oops" if seed % 3 == 0 and attempt == 0 else conversation_content(chat(seed, attempt))
        return 200, {}, json.dumps(chat_answer(content))
    return answer


def fetch_and_build(folder: Path, run_seed: int, workers: int) -> dict[str, bytes]:
    data, cache = folder / "data", folder / "cache"
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, completions_url(FAKE_URL),
                          callback=deterministic_api(data, random.Random(run_seed)))
        fetched = run("fetch", "--n", N, "--data-dir", data, "--cache-dir", cache, "--base-url", FAKE_URL,
                      "--workers", workers, "--backoff", 0, OPENROUTER_API_KEY=TEST_KEY)
        assert fetched.exit_code == 0, fetched.output
    built = run("dataset", "--n", N, "--data-dir", data, "--cache-dir", cache, "--base-url", FAKE_URL, "--split", 0.3)
    assert built.exit_code == 0, built.output
    return {name: (data / name).read_bytes() for name in OUTPUTS}


def test_fetched_in_any_order_the_dataset_is_the_same_bytes(tmp_path):
    one_by_one = fetch_and_build(tmp_path / "one", 1, workers=1)
    for run_seed, workers in ((2, 4), (3, 8)):
        assert fetch_and_build(tmp_path / str(run_seed), run_seed, workers) == one_by_one
    rows = [json.loads(line) for name in OUTPUTS[:2] for line in one_by_one[name].decode().splitlines()]
    assert sorted(map(json.dumps, rows)) == sorted(json.dumps(chat(seed, int(seed % 3 == 0))) for seed in range(N))


@pytest.fixture(scope="module")
def reference_bodies(tmp_path_factory):
    """Seeds 0..79 rendered by another interpreter, with its own hash seed."""
    data = tmp_path_factory.mktemp("reference")
    done = subprocess.run([sys.executable, "-m", "stages", "prompts", "--n", "80", "--data-dir", str(data)], cwd=ROOT,
                          env=project_env(PYTHONHASHSEED="random"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {seed: (data / "prompts" / f"{seed}.json").read_bytes() for seed in range(80)}


LUMEN = load_sources(identity=ROOT / "prompts/examples/lumen_identity.md", context=ROOT / "prompts/examples/lumen_context.md")


@given(start=st.integers(0, 79), length=st.integers(1, 30), other_work=st.lists(st.integers(0, 10**9), max_size=10),
       other_sources=st.booleans())
def test_a_body_depends_on_its_seed_and_the_sources_alone(reference_bodies, start, length, other_work, other_sources):
    for other in other_work:  # whatever was rendered before, with whichever sources
        request_body(LUMEN if other_sources else load_sources(), Settings(), other)
    seeds = range(start, min(80, start + length))
    with tempfile.TemporaryDirectory() as folder:
        render_all(load_sources(), Settings(), seeds, Path(folder))
        for seed in seeds:
            assert (Path(folder) / f"{seed}.json").read_bytes() == reference_bodies[seed], seed
    assert encode_body(request_body(load_sources(), Settings(), start)).encode() == reference_bodies[start]
