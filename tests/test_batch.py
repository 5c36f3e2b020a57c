"""BATCH=1 against the fake API's Batch endpoints: rounds, slugs, failures, money, resuming."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, TEST_KEY, project_env, run

from stages.fake.batch import BatchFake
from stages.storage.cache import decode_entry, is_answer_key, open_cache
from stages.transport.ledger import Ledger


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr("stages.transport.batch.POLL_FIRST", 0.05)
    monkeypatch.setattr("stages.transport.batch.POLL_CAP", 0.2)


def render(dirs, n, *extra):
    assert run("prompts", "--n", n, "--data-dir", dirs[0], *extra).exit_code == 0
    return dirs


def batch_fetch(dirs, server, n, *extra, **env):
    args = ["fetch", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url,
            "--backoff", 0.05, "--batch", 1, *extra]
    return run(*args, OPENROUTER_API_KEY=TEST_KEY, **env)


def entries(cache_dir):
    with open_cache(cache_dir) as cache:
        return [decode_entry(cache[key]) for key in cache.iterkeys() if is_answer_key(key)]


def ledger_records(cache_dir, server):
    with open_cache(cache_dir) as cache:
        return Ledger(cache, server.base_url).records()


def outcome(server, name):
    return server.stats.outcomes.get(name, 0)


def test_batches_of_batch_size_make_every_seed_valid_with_no_chat_request(dirs, fake_api):
    render(dirs, 30)
    server = fake_api(fault_rate=0.25, faults=("broken_json", "wrong_roles", "truncated"),
                      batch=BatchFake(delay=0.2, slugs="batch_only", error_rate=0.15))
    result = batch_fetch(dirs, server, 30, "--batch-size", 10)
    assert result.exit_code == 0, result.output
    assert "fetch: 30/30 seeds valid" in result.stderr
    assert server.stats.requests == 0  # not one sync chat request
    first_round = [r for r in ledger_records(dirs[1], server)][:3]
    assert [len(r.asks) for r in first_round] == [10, 10, 10]
    assert outcome(server, "batch:create") > 3  # invalid answers and per-request errors went to later rounds
    spent = float(re.search(r"\$([\d.]+) spent now", result.stderr).group(1))
    assert spent == pytest.approx(server.batches.billed(), abs=1e-4)  # the bill, counted once
    shares = sum(entry["cost"] for entry in entries(dirs[1]))
    assert shares == pytest.approx(server.batches.billed())  # attributed to the answers, nothing lost or doubled
    assert all(r.collected and r.cost is not None for r in ledger_records(dirs[1], server))


@pytest.mark.parametrize("where", ["inline", "paged"])
def test_results_are_read_inline_or_paged(dirs, fake_api, where):
    render(dirs, 12)
    server = fake_api(batch=BatchFake(delay=0.1, results=where, page_size=5))
    assert "12/12 seeds valid" in batch_fetch(dirs, server, 12).stderr
    assert (outcome(server, "batch:results") > 0) == (where == "paged")


@pytest.mark.parametrize("slugs, reject_at", [("batch_only", "create"), ("base_only", "create"),
                                              ("base_only", "validation")])
def test_the_other_slug_is_tried_once_and_remembered(dirs, fake_api, slugs, reject_at):
    render(dirs, 8)
    server = fake_api(batch=BatchFake(delay=0.1, slugs=slugs, reject_at=reject_at))
    result = batch_fetch(dirs, server, 8, "--batch-size", 4)
    assert result.exit_code == 0 and "8/8 seeds valid" in result.stderr, result.output
    with open_cache(dirs[1]) as cache:
        remembered = Ledger(cache, server.base_url).accepted_slug("google/gemini-2.5-flash")
    assert remembered == ("google/gemini-2.5-flash:batch" if slugs == "batch_only" else "google/gemini-2.5-flash")
    accepted = [r for r in ledger_records(dirs[1], server) if r.status == "completed"]
    assert {r.slug for r in accepted} == {remembered}
    creates = outcome(server, "batch:create")
    render(dirs, 12)
    assert "12/12 seeds valid" in batch_fetch(dirs, server, 12).stderr
    assert outcome(server, "batch:create") == creates + 1  # the remembered slug first: no rejected try


def test_both_slugs_rejected_stops_with_one_line(dirs, fake_api):
    render(dirs, 3)
    server = fake_api(batch=BatchFake(slugs="batch_only"))
    with open_cache(dirs[1]) as cache:
        Ledger(cache, server.base_url).reject_slug("google/gemini-2.5-flash", "google/gemini-2.5-flash:batch", "no")
    result = batch_fetch(dirs, server, 3)
    assert result.exit_code == 1
    assert "the Batch API rejected google/gemini-2.5-flash under every slug tried" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 600 and "Traceback" not in result.output


def test_failed_and_expired_batches_send_their_requests_again(dirs, fake_api):
    render(dirs, 10)
    server = fake_api(batch=BatchFake(delay=0.1, fail_batches=1, expire_batches=1))
    result = batch_fetch(dirs, server, 10, "--batch-size", 5)
    assert result.exit_code == 0 and "10/10 seeds valid" in result.stderr, result.output
    statuses = [r.status for r in ledger_records(dirs[1], server)]
    assert statuses[:2] == ["failed", "expired"] and statuses.count("completed") >= 2


def test_a_batch_rejected_as_invalid_after_its_slug_worked_stops_the_run(dirs, fake_api):
    render(dirs, 4)
    server = fake_api(batch=BatchFake(delay=0.1))
    with open_cache(dirs[1]) as cache:
        Ledger(cache, server.base_url).remember_slug("google/gemini-2.5-flash", "google/gemini-2.5-flash:batch")
    server.config.batch.slugs = "base_only"
    server.config.batch.reject_at = "validation"
    result = batch_fetch(dirs, server, 4)
    line = result.stderr.strip().splitlines()[-1]
    assert result.exit_code == 1 and "was rejected as invalid" in line and "would fail again" in line
    assert "unknown model google/gemini-2.5-flash:batch" in line and "check MODEL" in line   # the cause, and the fix


def test_withheld_results_are_collected_after_credits_are_added(dirs, fake_api):
    render(dirs, 6)
    server = fake_api(batch=BatchFake(delay=0.1, withhold=True))
    held = batch_fetch(dirs, server, 6)
    assert held.exit_code == 1
    assert "withholds its results until credits are added (HTTP 402)" in held.stderr
    assert "run the same command again to collect them" in held.stderr
    assert [r.collected for r in ledger_records(dirs[1], server)] == [False]  # the batch id is kept
    server.config.batch.withhold = False  # credits added
    topped = batch_fetch(dirs, server, 6)
    assert topped.exit_code == 0 and "6/6 seeds valid" in topped.stderr
    assert outcome(server, "batch:create") == 1  # collected, not submitted again


def test_a_lost_create_is_not_resent_blindly_and_is_found_by_the_next_run(dirs, fake_api):
    render(dirs, 6)
    server = fake_api(batch=BatchFake(delay=0.1, lose_creates=1))
    lost = batch_fetch(dirs, server, 6)
    assert lost.exit_code == 1
    assert "was lost" in lost.stderr and "not sent again blindly" in lost.stderr and "/batches" in lost.stderr
    assert outcome(server, "batch:create") == 1
    found = batch_fetch(dirs, server, 6)
    assert found.exit_code == 0 and "6/6 seeds valid" in found.stderr, found.output
    assert "is listed by the API: it is awaited, not sent again" in found.stderr
    assert outcome(server, "batch:list") == 1
    assert outcome(server, "batch:requests") == 6  # the six requests were paid for once


def test_batch_wait_0_submits_then_a_rerun_collects(dirs, fake_api):
    render(dirs, 5)
    server = fake_api(batch=BatchFake(delay=0.3))
    submitted = batch_fetch(dirs, server, 5, "--batch-wait", 0)
    assert submitted.exit_code == 75
    assert "not waiting (BATCH_WAIT=0): run the same command again to collect" in submitted.stderr
    time.sleep(0.4)
    listed = run("batches", "--cache-dir", dirs[1], "--base-url", server.base_url)
    assert listed.exit_code == 0 and "batch_fake_00001" in listed.output and "(open)" in listed.output
    collected = batch_fetch(dirs, server, 5)
    assert collected.exit_code == 0 and "5/5 seeds valid" in collected.stderr
    assert outcome(server, "batch:create") == 1
    assert "completed" in run("batches", "--cache-dir", dirs[1], "--base-url", server.base_url).output


def test_budget_holds_each_batch_estimate_before_submitting(dirs, fake_api):
    render(dirs, 30)
    server = fake_api(batch=BatchFake(delay=0.1))
    # a batch of 10 is estimated at about 10 x (900 x $0.15 + 1200 x $1.25) per million = $0.016
    result = batch_fetch(dirs, server, 30, "--batch-size", 10, "--budget", 0.03)
    assert result.exit_code == 1 and "budget of $0.03 reached" in result.stderr
    records = ledger_records(dirs[1], server)
    assert len(records) == 1 and sum(r.cost for r in records) <= 0.03
    nothing = batch_fetch(dirs, server, 30, "--batch-size", 10, "--budget", 0.001)
    assert nothing.exit_code == 1 and len(ledger_records(dirs[1], server)) == 1  # never a batch past the cap


def test_budget_with_no_known_price_refuses_to_start(dirs, fake_api):
    render(dirs, 2, "--model", "unlisted/model")
    server = fake_api()
    result = batch_fetch(dirs, server, 2, "--budget", 1)
    assert result.exit_code == 1 and "BUDGET needs a price" in result.stderr and "PRICE_IN and PRICE_OUT" in result.stderr
    assert outcome(server, "batch:create") == 0 and server.stats.requests == 0
    given = batch_fetch(dirs, server, 2, "--budget", 1, "--price-in", 0.3, "--price-out", 2.5)
    assert given.exit_code == 0 and "2/2 seeds valid" in given.stderr


def test_without_a_reported_cost_the_bill_is_priced_from_tokens(dirs, fake_api):
    render(dirs, 8)
    server = fake_api(report_cost=False, batch=BatchFake(delay=0.1, report_cost=False))
    result = batch_fetch(dirs, server, 8)
    spent = float(re.search(r"\$([\d.]+) spent now", result.stderr).group(1))
    assert spent == pytest.approx(server.batches.billed(), rel=0.02)  # the fake's listed :batch price
    sync = run("fetch", "--n", 8, "--seeds", "0:8", "--data-dir", dirs[0], "--cache-dir", dirs[1].parent / "c2",
               "--base-url", server.base_url, "--budget", 0.002, OPENROUTER_API_KEY=TEST_KEY)
    assert sync.exit_code == 1 and "budget of $0.00 reached" in sync.stderr  # BUDGET counts priced answers
    assert 0 < server.stats.requests < 8


def test_half_sync_then_batch_then_rebuild_sends_nothing_and_matches_all_sync(tmp_path, fake_api):
    server = fake_api(deterministic=True, batch=BatchFake(delay=0.1))
    files = []
    for name, steps in (("sync", [("0:12", 0)]), ("mixed", [("0:6", 0), ("0:12", 1)])):
        dirs = render((tmp_path / name / "data", tmp_path / name / "cache"), 12)
        for seeds, batch in steps:
            step = run("fetch", "--seeds", seeds, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url",
                       server.base_url, "--batch", batch, OPENROUTER_API_KEY=TEST_KEY)
            assert step.exit_code == 0, step.output
        built = run("dataset", "--n", 12, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url)
        assert built.exit_code == 0 and "wrote 12 conversations" in built.stderr
        files.append((dirs[0] / "identity_conversations.jsonl").read_bytes())
    assert files[0] == files[1]
    assert outcome(server, "batch:requests") == 6  # only the seeds the sync half left
    sent, creates = server.stats.requests, outcome(server, "batch:create")
    for batch in (0, 1):
        again = run("fetch", "--n", 12, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url",
                    server.base_url, "--batch", batch)
        assert again.exit_code == 0 and "12/12 seeds valid" in again.stderr
    assert (server.stats.requests, outcome(server, "batch:create")) == (sent, creates)


def test_kill_9_while_polling_then_the_same_command_resumes(dirs, fake_api):
    render(dirs, 20)
    server = fake_api(batch=BatchFake(delay=2.0))
    args = [sys.executable, "-m", "stages", "fetch", "--n", "20", "--data-dir", str(dirs[0]), "--cache-dir",
            str(dirs[1]), "--base-url", server.base_url, "--batch", "1", "--batch-size", "10"]
    child = subprocess.Popen(args, cwd=ROOT, env=project_env(OPENROUTER_API_KEY=TEST_KEY),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while outcome(server, "batch:create") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the second create's answer recorded, now polling
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert [len(r.asks) for r in ledger_records(dirs[1], server)] == [10, 10]
    resumed = batch_fetch(dirs, server, 20, "--batch-size", 10)
    assert resumed.exit_code == 0 and "20/20 seeds valid" in resumed.stderr, resumed.output
    assert outcome(server, "batch:create") == 2 and outcome(server, "batch:requests") == 20


def test_the_batch_body_sends_endpoint_and_model_before_requests(dirs, fake_api):
    render(dirs, 2)
    server = fake_api(batch=BatchFake(delay=0.1))
    assert batch_fetch(dirs, server, 2).exit_code == 0  # the fake answers 400 to any other order
    batch = server.batches.newest_first()[0]
    assert batch.model == "google/gemini-2.5-flash:batch"
    assert {r["body"]["model"] for r in batch.requests} == {batch.model}  # each body names the slug sent


def test_stats_split_tokens_and_give_the_cost_per_conversation(dirs, fake_api):
    render(dirs, 6, "--reasoning", "default")  # no reasoning field: the fake thinks
    server = fake_api(batch=BatchFake(delay=0.1))
    assert batch_fetch(dirs, server, 6).exit_code == 0
    assert run("dataset", "--n", 6, "--data-dir", dirs[0], "--cache-dir", dirs[1],
               "--base-url", server.base_url).exit_code == 0
    shown = run("stats", "--n", 6, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url)
    assert shown.exit_code == 0, shown.output
    spent = json.loads((dirs[0] / "stats.json").read_text())["spent"]
    assert spent["cost"] == pytest.approx(server.batches.billed(), abs=1e-6)
    assert spent["reasoning_tokens"] > 0 and spent["cost_per_conversation"] == pytest.approx(spent["cost"] / 6, abs=1e-6)
    assert "reasoning) tokens" in shown.output and "per conversation" in shown.output
