"""Money: tokens split four ways, prices, a batch's bill shared out, BUDGET holds, the fake's usage."""
import json

import pytest
from conftest import TEST_KEY, chat_answer

from stages.transport.answers import Usage, reported_cost, usage_of
from stages.transport.budget import Budget, BudgetReached
from stages.transport.client import Request, post_completion
from stages.transport.ledger import BatchRecord, Covered, decode, encode
from stages.transport.prices import Prices, attribute, given_prices, request_estimate


def test_usage_reads_cached_and_reasoning_tokens_and_adds_up():
    answer = chat_answer("x")
    answer["usage"].update(prompt_tokens_details={"cached_tokens": 40}, completion_tokens_details={"reasoning_tokens": 30})
    usage = usage_of(answer)
    assert usage == Usage(100, 50, 0.001, cached_tokens=40, reasoning_tokens=30)
    assert usage + usage == Usage(200, 100, 0.002, 80, 60) and usage.tokens == 150
    assert reported_cost(answer) == 0.001
    del answer["usage"]["cost"]
    assert reported_cost(answer) is None and usage_of(answer).cost == 0.0


def test_prices_count_cached_prompt_tokens_at_their_own_price():
    prices = Prices(1e-6, 10e-6, "test", per_cached_token=0.25e-6)
    assert prices.cost(Usage(1000, 100, cached_tokens=400)) == pytest.approx(600e-6 + 100e-6 + 1000e-6)
    assert Prices(1e-6, 10e-6, "test").cost(Usage(1000, 100, cached_tokens=400)) == pytest.approx(2000e-6)
    half = prices.scaled(0.5, "half")
    assert (half.per_input_token, half.per_cached_token) == (0.5e-6, 0.125e-6)
    assert given_prices(0.3, 2.5) == Prices(0.3e-6, 2.5e-6, "PRICE_IN/PRICE_OUT")
    assert request_estimate({"messages": [{"content": "x" * 396}]}, Prices(1.0, 0.0, "t"), 0) >= 100


def test_a_bill_is_shared_in_proportion_and_sums_to_itself():
    shares = attribute(0.9, [1.0, 2.0, 6.0])
    assert shares == pytest.approx([0.1, 0.2, 0.6]) and sum(shares) == pytest.approx(0.9)
    assert attribute(0.6, [0, 0, 0]) == pytest.approx([0.2] * 3)
    assert attribute(1.0, []) == []


def test_budget_holds_batch_estimates_and_counts_their_bills():
    budget = Budget(1.0)
    budget.hold(0.6)
    with pytest.raises(BudgetReached):
        budget.hold(0.5)             # 0.6 held + 0.5 would pass $1
    budget.hold(0.5, force=True)     # a batch of an earlier run is billed whatever we decide
    budget.bill(0.6, 0.2)            # the first batch cost less than its estimate
    budget.bill(0.5, None)           # the other ended without a bill
    assert (budget.spent, budget.held) == (pytest.approx(0.2), pytest.approx(0.0))
    budget.hold(0.7)
    budget.reserve()
    budget.settle(0.05)              # a sync answer: $0.05 on average
    with pytest.raises(BudgetReached):
        budget.reserve()             # 0.25 spent + 0.7 held + 0.05 expected passes $1


def test_batch_records_survive_the_cache_as_json():
    record = BatchRecord("b1", "http://x/api/v1", "m", "m:batch", (Covered("s1-c0", 1, "conversation", 0, "k"),),
                         sent=5.0, estimate=0.1, status="completed", counts=(1, 1, 0), cost=0.05, collected=True)
    assert decode(encode(record)) == record
    assert json.loads(encode(record))["asks"] == [["s1-c0", 1, "conversation", 0, "k"]]


@pytest.mark.parametrize("reasoning, thinks", [(None, True), ({"effort": "none"}, False), ({"enabled": False}, False),
                                               ({"max_tokens": 0}, False), ({"effort": "low"}, True)])
def test_the_fake_thinks_unless_the_body_turns_it_off(fake_api, reasoning, thinks):
    server = fake_api()
    body = {"model": "m", "messages": [{"role": "user", "content": "Name: Sprout\n- hi"}]}
    if reasoning is not None:
        body["reasoning"] = reasoning
    usage = usage_of(json.loads(post_completion(Request(server.base_url + "/chat/completions", body, TEST_KEY))))
    assert (usage.reasoning_tokens > 0) == thinks
    assert usage.completion_tokens >= usage.reasoning_tokens and usage.cost > 0


def test_the_fake_can_leave_the_cost_out_and_caches_long_prefixes(fake_api):
    server = fake_api(report_cost=False)
    long_prompt = "The same long instructions. " * 400 + "Name: Sprout\n- hi"
    body = {"model": "m", "messages": [{"role": "user", "content": long_prompt}], "reasoning": {"effort": "none"}}
    answers = [json.loads(post_completion(Request(server.base_url + "/chat/completions", body, TEST_KEY)))
               for _ in range(2)]
    assert all("cost" not in a["usage"] for a in answers)
    assert [usage_of(a).cached_tokens for a in answers] == [0, 2048]
