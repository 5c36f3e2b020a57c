"""BATCH=1 results as a provider really returns them: in no particular order, paged, some failed,
billed at the provider's own figure, from more than one server sharing a cache."""
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings, strategies as st

from stages.storage.cache import decode_entry, is_answer_key, open_cache
from stages.storage.bodies import load_body
from stages.fake.api import FakeConfig, start_fake
from stages.fake.batch import BatchFake
from stages.transport.ledger import Ledger
from stages.transport.prices import Prices, request_estimate

from conftest import TEST_KEY, run

N = 8


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr("stages.transport.batch.POLL_FIRST", 0.02)
    monkeypatch.setattr("stages.transport.batch.POLL_CAP", 0.05)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    return data


def batch_fetch(data, cache, server, *extra):
    return run("fetch", "--n", N, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url,
               "--backoff", 0.01, "--batch", 1, *extra, OPENROUTER_API_KEY=TEST_KEY)


def cached(cache_dir) -> list[dict]:
    with open_cache(cache_dir) as cache:
        return [decode_entry(cache[key]) for key in cache.iterkeys() if is_answer_key(key)]


def produced(server, data) -> dict[tuple[int, int], dict]:
    """What the provider answered, by (seed, attempt): a request's seed is told by its messages, and
    its attempt by how many answers that seed had from earlier batches (one request per seed per batch)."""
    seed_of = {json.dumps(load_body(data, seed)["messages"]): seed for seed in range(N)}
    answers: dict[tuple[int, int], dict] = {}
    for batch in server.batches.batches.values():   # in order of creation
        bodies = {r["custom_id"]: r["body"] for r in batch.requests}
        for result in batch.results or []:
            if "response" not in result:
                continue   # a per-request error: the seed asks again
            seed = seed_of[json.dumps(bodies[result["custom_id"]]["messages"])]
            attempt = sum(s == seed for s, _ in answers)
            answers[seed, attempt] = result["response"]["body"]
    return answers


# Each example is a whole fetch: a failing one is reported as found, not shrunk (that takes minutes).
@settings(max_examples=12, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(order=st.sampled_from(["submitted", "reversed", "shuffled"]), chance=st.integers(0, 2**16),
       where=st.sampled_from(["inline", "paged"]), page_size=st.integers(1, 5), size=st.integers(2, 5),
       error_rate=st.sampled_from([0.0, 0.4]))
def test_each_seed_caches_the_answer_the_provider_gave_its_own_request(data_dir, order, chance, where, page_size,
                                                                      size, error_rate):
    server = start_fake(FakeConfig(seed=chance, fault_rate=0.3, faults=("broken_json", "wrong_roles"),
                                   batch=BatchFake(delay=0.02, results=where, page_size=page_size, order=order,
                                                   error_rate=error_rate)))
    try:
        with tempfile.TemporaryDirectory() as folder:
            result = batch_fetch(data_dir, Path(folder), server, "--batch-size", size)
            assert result.exit_code == 0, result.output
            stored = {(e["seed"], e["attempt"]): json.loads(e["body"]) for e in cached(Path(folder))}
    finally:
        server.shutdown()
        server.server_close()
    assert stored == produced(server, data_dir)


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_results_out_of_order_are_stored_under_their_own_seed(dirs, fake_api, order):
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    server = fake_api(batch=BatchFake(delay=0.05, order=order))
    result = batch_fetch(data, cache, server)
    assert result.exit_code == 0, result.output
    stored = {(e["seed"], e["attempt"]): json.loads(e["body"]) for e in cached(cache)}
    assert stored == produced(server, data) and len(stored) >= N


SYNC_PRICES = ("--price-in", 0.30, "--price-out", 2.50)   # per million tokens; a batch assumed at half


def test_spend_and_each_answers_cost_follow_the_providers_bill_not_the_price_list(dirs, fake_api):
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    server = fake_api(batch=BatchFake(delay=0.05, bill_share=0.8))   # billed below the listed batch price
    result = batch_fetch(data, cache, server, *SYNC_PRICES)
    assert result.exit_code == 0, result.output
    bill = server.batches.billed()
    spent = float(re.search(r"\$([\d.]+) spent now", result.stderr).group(1))
    assert spent == pytest.approx(bill, abs=1e-4)
    entries = cached(cache)
    assert sum(e["cost"] for e in entries) == pytest.approx(bill)
    # The bill is split in proportion to each answer's tokens at the prices.
    ratios = set()
    for entry in entries:
        usage = json.loads(entry["body"])["usage"]
        ratios.add(round(entry["cost"] / (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 1.25), 12))
    assert len(ratios) == 1


def test_a_413_split_releases_its_hold_so_budget_lets_the_halves_through(dirs, fake_api):
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    batch_prices = Prices(0.15e-6, 1.25e-6, "half of PRICE_IN/PRICE_OUT")
    whole = sum(request_estimate(load_body(data, seed), batch_prices) for seed in range(N))
    server = fake_api(batch=BatchFake(delay=0.05, max_requests=2))   # every batch over 2 requests is refused
    # Room for every request's estimate once, not for a refused batch's hold on top of its halves.
    result = batch_fetch(data, cache, server, *SYNC_PRICES, "--budget", f"{1.2 * whole:.6f}")
    assert result.exit_code == 0, result.output
    assert f"fetch: {N}/{N} seeds valid" in result.stderr
    assert server.batches.batches and all(len(b.requests) <= 2 for b in server.batches.batches.values())


def test_two_servers_sharing_a_cache_each_keep_the_batch_slug_they_accepted(dirs, fake_api):
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    only_batch = fake_api(batch=BatchFake(delay=0.05, slugs="batch_only"))
    only_base = fake_api(batch=BatchFake(delay=0.05, slugs="base_only"))
    for server in (only_base, only_batch, only_base, only_batch):   # what one refused, the other accepts
        result = batch_fetch(data, cache, server)
        assert result.exit_code == 0, result.output
        assert f"fetch: {N}/{N} seeds valid" in result.stderr
    assert all(b.model.endswith(":batch") for b in only_batch.batches.batches.values())
    assert all(not b.model.endswith(":batch") for b in only_base.batches.batches.values())
    assert only_base.batches.batches   # the second server was asked, under its own slug


def test_batches_left_open_on_one_server_are_collected_there_not_lost_by_another(dirs, fake_api):
    """Both fakes number their batches from 1: the same id on two servers is two batches."""
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    first, second = fake_api(batch=BatchFake(delay=0.3)), fake_api(batch=BatchFake(delay=0.05))
    submitted = batch_fetch(data, cache, first, "--batch-wait", 0)
    assert submitted.exit_code == 75, submitted.output   # submitted, not waited for
    creates = first.stats.outcomes["batch:create"]
    elsewhere = batch_fetch(data, cache, second)
    assert elsewhere.exit_code == 0 and f"fetch: {N}/{N} seeds valid" in elsewhere.stderr
    collected = batch_fetch(data, cache, first)
    assert collected.exit_code == 0 and f"fetch: {N}/{N} seeds valid" in collected.stderr
    assert first.stats.outcomes["batch:create"] == creates   # awaited, not sent and paid for again
    with open_cache(cache) as opened:
        assert all(record.status == "completed" for record in Ledger(opened, first.base_url).records())


def to_older_layout(cache_dir) -> None:
    """Rewrite the ledger as older versions kept it: a record under `batch:<id>`, the bare id in the index."""
    with open_cache(cache_dir) as opened:
        names = json.loads(opened["batches:index"])
        for name in names:
            batch_id = name.split(" ")[-1]
            opened.set(f"batch:{batch_id}", opened.pop(f"batch:{name}"))
        opened.set("batches:index", json.dumps([name.split(" ")[-1] for name in names]))


def test_open_batches_recorded_by_the_older_cache_layout_are_each_awaited_once(dirs, fake_api):
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    server = fake_api(batch=BatchFake(delay=0.3))
    assert batch_fetch(data, cache, server, "--batch-wait", 0, "--batch-size", N // 2).exit_code == 75
    to_older_layout(cache)
    collected = batch_fetch(data, cache, server)
    assert collected.exit_code == 0 and f"fetch: {N}/{N} seeds valid" in collected.stderr
    assert server.stats.outcomes["batch:create"] == 2
    with open_cache(cache) as opened:
        records = Ledger(opened, server.base_url).records()
        assert [r.status for r in records] == ["completed", "completed"]
        assert len(set(json.loads(opened["batches:index"]))) == 2
        assert not [key for key in opened.iterkeys() if key in {f"batch:{r.id}" for r in records}]


def test_a_batch_of_the_older_layout_is_not_taken_over_by_another_servers_batch_of_the_same_id(dirs, fake_api):
    """Both fakes number their batches from 1: the new record of the second server keeps the first's."""
    data, cache = dirs
    assert run("prompts", "--n", N, "--data-dir", data).exit_code == 0
    first, second = fake_api(batch=BatchFake(delay=0.3)), fake_api(batch=BatchFake(delay=0.05))
    assert batch_fetch(data, cache, first, "--batch-wait", 0).exit_code == 75
    to_older_layout(cache)
    elsewhere = batch_fetch(data, cache, second)
    assert elsewhere.exit_code == 0 and f"fetch: {N}/{N} seeds valid" in elsewhere.stderr
    collected = batch_fetch(data, cache, first)
    assert collected.exit_code == 0 and f"fetch: {N}/{N} seeds valid" in collected.stderr
    assert first.stats.outcomes["batch:create"] == 1   # awaited, not sent and paid for again
