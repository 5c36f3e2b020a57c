"""Rate limits, BUDGET, estimate and split runs: the controls a person has over a big, paid run."""
import json
import re
import threading
import time

import pytest
import responses
from conftest import GOOD, TEST_KEY, cache_entry, chat_answer, conversation_content, run, store_answer

from stages.transport.budget import Budget, BudgetReached
from stages.transport.throttle import Throttle

BASE = "http://127.0.0.1:9/api/v1"


def fetch_args(dirs, server, n, *extra):
    return ["fetch", "--n", n, "--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", server.base_url,
            "--backoff", 0.05, *extra]


def test_throttle_halves_once_per_burst_and_grows_back():
    throttle = Throttle(16)
    for pause in (60.0, 1.0, 1.0, 1.0, 1.0):  # five 429s of one burst cut the limit once
        throttle.in_flight += 1  # as if acquired; acquire() itself would wait out the pause
        throttle.release(ok=False, pause=pause)
    assert throttle.limit == 8 and throttle.paused_until > time.monotonic() + 50
    throttle.paused_until = 0.0
    succeed(throttle, 7)
    assert throttle.limit == 8  # one success short of a window
    succeed(throttle, 1)
    assert throttle.limit == 9
    succeed(throttle, 8)
    assert throttle.limit == 9  # the next window is 9 successes long
    succeed(throttle, 1)
    assert throttle.limit == 10


def succeed(throttle: Throttle, times: int) -> None:
    for _ in range(times):
        throttle.acquire()
        throttle.release(ok=True)


def fail(throttle: Throttle, pause: float | None = None, outage: bool = False) -> None:
    throttle.in_flight += 1  # as if acquired
    throttle.release(ok=False, pause=pause, outage=outage)


@pytest.mark.parametrize("workers, after_cuts", [(5, [2, 1, 1]), (2, [1, 1]), (1, [1])])
def test_each_cut_halves_the_limit_down_to_one(workers, after_cuts):
    throttle = Throttle(workers)
    for expected in after_cuts:
        throttle.paused_until = 0.0  # a new burst
        fail(throttle, pause=0.0)
        assert throttle.limit == expected and isinstance(throttle.limit, int)


def test_the_limit_never_grows_past_the_workers():
    throttle = Throttle(4)
    succeed(throttle, 20)
    assert throttle.limit == 4


def test_half_the_recent_answers_failing_is_an_outage_fewer_is_not():
    mostly_fine = Throttle(16)
    succeed(mostly_fine, 12)
    for _ in range(8):  # 8 of the last 20 failed
        fail(mostly_fine, outage=True)
    assert mostly_fine.limit == 16
    half = Throttle(16)
    for _ in range(8):  # ok, failed, ok, failed, ...: 8 of 16
        succeed(half, 1)
        fail(half, outage=True)
    assert half.limit == 8


def render(dirs, n):
    assert run("prompts", "--n", n, "--data-dir", dirs[0]).exit_code == 0
    return dirs


def test_rate_limited_api_completes_without_a_429_storm(dirs, fake_api):
    rendered = render(dirs, 40)
    server = fake_api(rpm=600, retry_after=1, latency=0.05)  # 10 requests per second
    result = run(*fetch_args(rendered, server, 40, "--workers", 16), OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 0, result.output
    ok, limited = server.stats.outcomes.get("ok", 0), server.stats.outcomes.get("rate_limited", 0)
    assert ok == 40 and limited < ok, server.stats.outcomes  # most requests accepted


def test_rpm_cap_keeps_under_the_providers_limit(dirs, fake_api):
    rendered = render(dirs, 20)
    server = fake_api(rpm=600, retry_after=1)
    result = run(*fetch_args(rendered, server, 20, "--workers", 16, "--rpm", 480), OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 0, result.output
    assert server.stats.outcomes == {"ok": 20}


def test_budget_reserves_room_for_what_is_in_flight():
    budget = Budget(1.0)
    budget.reserve()
    budget.settle(0.3)              # average cost now 0.3
    budget.reserve()                # 0.3 spent + 1 in flight x 0.3 = 0.6
    budget.reserve()                # + another 0.3 = 0.9
    with pytest.raises(BudgetReached, match=r"budget of \$1.00 reached: \$0.3000 spent"):
        budget.reserve()            # 1.2 would pass the cap
    budget.settle(None)             # a failed request costs nothing and frees its room
    budget.reserve()


def test_budget_estimates_from_the_average_answer():
    budget = Budget(1.0)
    for cost in (0.125, 0.375):      # two answers: 0.5 spent, 0.25 on average
        budget.reserve()
        budget.settle(cost)
    for _ in range(2):               # 0.5 + 2 x 0.25 = 1.0: still within the cap
        budget.reserve()
    with pytest.raises(BudgetReached):
        budget.reserve()


def test_budget_stops_the_run_and_a_rerun_continues(dirs, fake_api):
    rendered = render(dirs, 30)
    server = fake_api(latency=0.02)
    capped = run(*fetch_args(rendered, server, 30, "--workers", 4, "--budget", 0.01), OPENROUTER_API_KEY=TEST_KEY)
    assert capped.exit_code == 1
    assert capped.stderr.strip().splitlines()[-1].startswith("Error: budget of $0.01 reached")
    first = server.stats.requests
    assert 0 < first < 30
    rest = run(*fetch_args(rendered, server, 30, "--workers", 4), OPENROUTER_API_KEY=TEST_KEY)
    assert rest.exit_code == 0 and "fetch: 30/30 seeds valid" in rest.stderr
    assert server.stats.requests == 30  # nothing paid for was asked twice


@responses.activate
def test_estimate_reads_prices_and_sends_no_chat_request(rendered):
    base = "http://127.0.0.1:9/api/v1"
    responses.get(base + "/models", json={"data": [{"id": "google/gemini-2.5-flash",
                                                    "pricing": {"prompt": "0.0000003", "completion": "0.0000025"}}]})
    args = ["estimate", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", base]
    first, second = run(*args), run(*args)
    assert first.exit_code == 0, first.output
    assert "still without a valid answer: 5" in first.output
    assert "$0.30 in, $2.50 out per million tokens" in first.output
    assert second.output == first.output
    assert [call.request.method for call in responses.calls] == ["GET"]  # the price list is cached


def test_estimate_without_prices_asks_for_them(rendered):
    args = ["estimate", "--n", 2, "--data-dir", rendered[0], "--cache-dir", rendered[1],
            "--base-url", "http://127.0.0.1:9/api/v1"]
    failed = run(*args)
    assert failed.exit_code == 1 and "give PRICE_IN and PRICE_OUT" in failed.stderr
    with responses.RequestsMock() as mock:
        given = run(*args, "--price-in", 1, "--price-out", 2)
        assert given.exit_code == 0 and "(PRICE_IN/PRICE_OUT)" in given.output
        # given prices are not looked up; the models list is read only for the parameters a model supports
        assert all(call.request.url.endswith("/models") for call in mock.calls)
    half = run(*args, "--price-in", 1)
    assert half.exit_code == 1 and "give both PRICE_IN and PRICE_OUT" in half.stderr


def test_split_run_by_seed_range_then_merge(tmp_path, fake_api):
    server = fake_api()
    halves = []
    for name, seeds in (("a", "0:6"), ("b", "6:10")):
        data, cache = tmp_path / name / "data", tmp_path / name / "cache"
        assert run("prompts", "--seeds", seeds, "--data-dir", data).exit_code == 0
        assert sorted(p.stem for p in (data / "prompts").glob("*.json")) == sorted(str(s) for s in range(*map(int, seeds.split(":"))))
        assert run(*fetch_args((data, cache), server, 0, "--seeds", seeds), OPENROUTER_API_KEY=TEST_KEY).exit_code == 0
        halves.append(cache)
    merged = run("merge", "--cache-dir", halves[0], halves[1])
    assert merged.exit_code == 0 and "4 answers copied" in merged.stderr
    data = tmp_path / "all"
    assert run("prompts", "--n", 10, "--data-dir", data).exit_code == 0
    built = run("dataset", "--n", 10, "--data-dir", data, "--cache-dir", halves[0], "--base-url", server.base_url)
    assert built.exit_code == 0 and "wrote 10 conversations" in built.stderr
    assert server.stats.requests == 10


def test_bad_seed_range_is_a_usage_error():
    result = run("prompts", "--seeds", "9:3")
    assert result.exit_code == 2 and "not a seed range like 0:500" in result.stderr


def test_a_finished_run_is_remembered_until_prompts_or_rules_change(dirs, fake_api):
    rendered = render(dirs, 6)
    server = fake_api()
    args = fetch_args(rendered, server, 6)
    assert "6/6 seeds valid, 0 without" in run(*args, OPENROUTER_API_KEY=TEST_KEY).stderr
    assert run("dataset", "--data-dir", rendered[0]).exit_code == 0  # its notes settle the next fetch
    assert "as an earlier run of these prompts found; 0 requests" in run(*args).stderr
    stricter = run(*args, "--ascii", 1, OPENROUTER_API_KEY=TEST_KEY)  # new rules: every answer is judged again
    assert stricter.exit_code == 0 and "earlier run" not in stricter.stderr
    assert int(re.search(r"(\d+) cached answers reused", stricter.stderr).group(1)) >= 6
    sent = server.stats.requests
    render_again = run("prompts", "--n", 6, "--data-dir", rendered[0], "--temperature", 0.5)
    assert render_again.exit_code == 0
    changed = run(*args, "--ascii", 0, OPENROUTER_API_KEY=TEST_KEY)  # the run record kept ASCII=1: given back
    assert "6/6 seeds valid" in changed.stderr and server.stats.requests == sent + 6


@responses.activate
def test_failed_requests_do_not_lower_the_cost_per_answer(rendered):
    """A request that fails is not billed and says nothing about what an answer costs: counted as
    a $0 answer it would drag the average down and let the run spend past its cap."""
    count = [0]

    def answer(request):
        count[0] += 1
        if count[0] % 2 == 1:  # every other request fails, unbilled
            return 503, {}, json.dumps({"error": {"code": 503, "message": "busy"}})
        return 200, {}, json.dumps(chat_answer(conversation_content(GOOD), cost=0.004))
    responses.add_callback(responses.POST, BASE + "/chat/completions", callback=answer)
    result = run("fetch", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE,
                 "--budget", 0.01, "--workers", 1, "--backoff", 0, "--price-in", 0.3, "--price-out", 2.5,
                 OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1, result.output
    spent = 0.004 * (count[0] // 2)
    assert spent <= 0.01 + 1e-9, f"{count[0]} requests, ${spent:.3f} spent under a $0.01 budget"
    assert result.stderr.strip().splitlines()[-1] == ("Error: budget of $0.01 reached: $0.0080 spent in this run; "
                                                      "rerun with a higher BUDGET to continue where this one stopped")


def test_estimate_prices_only_the_seeds_without_a_valid_answer(rendered):
    for seed in (0, 2, 4):
        store_answer(rendered, seed, 0, cache_entry(conversation_content(GOOD)))
    store_answer(rendered, 1, 0, cache_entry("not json"))  # cached but invalid: still to be asked
    result = run("estimate", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE,
                 "--price-in", 100, "--price-out", 1000)
    assert result.exit_code == 0, result.output
    assert "seeds: 5, still without a valid answer: 2 " in result.output
    each = re.search(r"per conversation +\$([\d.]+)", result.output).group(1)
    total = re.search(r"estimated cost +\$([\d.]+)", result.output).group(1)
    assert float(each) > 1 and total == f"{2 * float(each):.2f}"


def blocks(call, then) -> bool:
    """Whether call() waits until then() frees it: it must not return within 0.3 s, and must after."""
    done = threading.Event()
    threading.Thread(target=lambda: (call(), done.set()), daemon=True).start()
    waited = not done.wait(0.3)
    then()
    return waited and done.wait(5)


def test_no_more_requests_in_flight_than_the_limit():
    throttle = Throttle(2)
    throttle.acquire()
    throttle.acquire()
    assert blocks(throttle.acquire, throttle.release)  # the third waits for a free slot
    throttle.release()
    throttle.release()  # all three done: two slots free again, no more
    throttle.acquire()
    throttle.acquire()
    assert blocks(throttle.acquire, lambda: throttle.release(ok=True))
    assert throttle.in_flight == 2


def test_release_without_arguments_is_a_success():
    throttle = Throttle(4)
    throttle.limit = 2
    for _ in range(2):
        throttle.acquire()
        throttle.release()
    assert throttle.limit == 3


def test_budget_sends_one_request_until_an_answer_tells_the_cost():
    budget = Budget(1.0)
    budget.reserve()
    assert blocks(budget.reserve, lambda: budget.settle(0.1))
    budget.reserve()  # the average is known now: more may go at once
    assert budget.in_flight == 2


def test_rpm_spaces_the_sends_evenly():
    assert Throttle(4, rpm=120).interval == 0.5 and Throttle(4).interval == 0.0
