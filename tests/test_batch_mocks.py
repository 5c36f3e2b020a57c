"""The batch transport against `responses` mocks: what goes on the wire, and each way a batch call fails."""
import json
import re
from dataclasses import replace

import pytest
import requests
import responses
from conftest import GOOD, TEST_KEY, chat_answer, conversation_content, run

from stages.storage.bodies import load_body
from stages.storage.cache import open_cache
from stages.transport.ledger import Ledger
from stages.transport.prices import Prices, request_estimate

BASE = "http://127.0.0.1:9/api/v1"
BATCHES = BASE + "/batches"
MODEL = "google/gemini-2.5-flash"
PRICES = ("--price-in", 0.3, "--price-out", 2.5)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr("stages.transport.batch.POLL_FIRST", 0.01)
    monkeypatch.setattr("stages.transport.batch.POLL_CAP", 0.02)


class MockBatches:
    """Creates answer 202 with ids b1, b2, ...; a poll finds the batch completed with valid answers."""

    def __init__(self):
        self.created: dict[str, dict] = {}
        self.bodies: list[bytes] = []

    def create(self, request):
        self.bodies.append(request.body)
        data = json.loads(request.body)
        batch_id = f"b{len(self.created) + 1}"
        self.created[batch_id] = data
        return 202, {}, json.dumps({"id": batch_id, "status": "validating", "model": data["model"]})

    def get(self, request):
        batch_id = request.url.rsplit("/", 1)[-1]
        data = self.created[batch_id]
        results = [{"custom_id": r["custom_id"], "response": {"status_code": 200, "body": answer()}}
                   for r in data["requests"]]
        return 200, {}, json.dumps({"id": batch_id, "status": "completed", "in_progress_at": 1,
                                    "request_counts": {"total": len(results), "completed": len(results)},
                                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "cost": 0.01},
                                    "results": results})


def answer() -> dict:
    body = chat_answer(conversation_content(GOOD))
    del body["usage"]["cost"]  # per-result usage has tokens, no cost
    return body


def mock_api(mock=None) -> MockBatches:
    mock = mock or MockBatches()
    responses.add_callback(responses.POST, BATCHES, callback=mock.create)
    responses.add_callback(responses.GET, re.compile(BATCHES + r"/b\d+$"), callback=mock.get)
    return mock


def fetch(rendered, *extra):
    return run("fetch", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE,
               "--batch", 1, *PRICES, *extra, OPENROUTER_API_KEY=TEST_KEY)


def records(rendered):
    with open_cache(rendered[1]) as cache:
        return Ledger(cache, BASE).records()


@responses.activate
def test_endpoint_and_model_are_serialized_before_requests(rendered):
    mock = mock_api()
    result = fetch(rendered)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    text = mock.bodies[0].decode()
    assert text.index('"endpoint"') < text.index('"model"') < text.index('"requests"')
    assert json.loads(text)["endpoint"] == "/v1/chat/completions"
    assert not [c for c in responses.calls if c.request.url.endswith("/chat/completions")]


@responses.activate
def test_a_rejected_slug_falls_back_to_the_other_and_keeps_the_sync_cache_key(rendered):
    responses.post(BATCHES, status=400, json={"error": {"code": 400, "message": "use the :batch model"}})
    mock = mock_api()
    result = fetch(rendered)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    sent = [json.loads(c.request.body)["model"] for c in responses.calls if c.request.method == "POST"]
    assert sent == [MODEL + ":batch", MODEL]
    assert {r["body"]["model"] for r in mock.created["b1"]["requests"]} == {MODEL}
    with open_cache(rendered[1]) as cache:
        assert Ledger(cache, BASE).accepted_slug(MODEL) == MODEL
    sync = run("fetch", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE)
    assert "5/5 seeds valid" in sync.stderr and "0 requests" in sync.stderr  # the sync path finds the same keys


@responses.activate
def test_402_on_a_poll_keeps_the_batch_for_the_next_run(rendered):
    mock = MockBatches()
    responses.add_callback(responses.POST, BATCHES, callback=mock.create)
    responses.get(BATCHES + "/b1", status=402, json={"error": {"code": 402, "message": "add credits"}, "results": None})
    result = fetch(rendered)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: batch b1 has finished but the API withholds its results until credits are added (HTTP 402); "
        "add credits, then run the same command again to collect them (the batch is not run or billed again)")
    assert [(r.id, r.collected) for r in records(rendered)] == [("b1", False)]
    note = batch_row(rendered, "b1").lower()
    assert "402" in note and "credits" in note
    responses.reset()
    mock_api(mock)
    again = fetch(rendered)
    assert again.exit_code == 0 and "5/5 seeds valid" in again.stderr
    assert len(mock.created) == 1


@responses.activate
def test_a_lost_create_stops_and_the_next_run_checks_the_list_before_sending_again(rendered):
    responses.post(BATCHES, body=requests.ConnectionError("connection reset by peer"))
    lost = fetch(rendered)
    assert lost.exit_code == 1
    assert "the answer to creating a batch of 5 requests (google/gemini-2.5-flash:batch) was lost" in lost.stderr
    assert f"curl -H \"Authorization: Bearer $OPENROUTER_API_KEY\" {BATCHES}" in lost.stderr
    assert TEST_KEY not in lost.output
    assert [(r.status, r.collected) for r in records(rendered)] == [("lost", False)]
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1  # never resent blindly
    responses.reset()
    responses.get(BATCHES, json={"object": "list", "data": [], "has_more": False})
    mock_api()
    again = fetch(rendered)
    assert again.exit_code == 0, again.output
    assert "is not listed by GET /batches: it was not created, and its requests are sent again" in again.stderr
    assert [r.status for r in records(rendered)] == ["not created", "completed"]


@responses.activate
def test_a_dropped_poll_is_retried_and_a_busy_create_waits(rendered):
    mock = MockBatches()
    responses.post(BATCHES, status=429, json={"error": {"code": 429, "message": "slow down"}})
    responses.add_callback(responses.POST, BATCHES, callback=mock.create)
    responses.get(BATCHES + "/b1", body=requests.ConnectionError("reset"))
    responses.add_callback(responses.GET, BATCHES + "/b1", callback=mock.get)
    result = fetch(rendered, "--backoff", 0)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    assert len(mock.created) == 1


@responses.activate
def test_a_too_large_batch_is_split_in_two(rendered):
    responses.post(BATCHES, status=413, json={"error": {"code": 413, "message": "too large"}})
    mock = mock_api()
    result = fetch(rendered)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    assert [len(data["requests"]) for data in mock.created.values()] == [2, 3]


@responses.activate
def test_paged_results_follow_the_cursor(rendered):
    mock = MockBatches()
    responses.add_callback(responses.POST, BATCHES, callback=mock.create)
    responses.get(BATCHES + "/b1", json={"id": "b1", "status": "completed", "in_progress_at": 1,
                                         "usage": {"cost": 0.02}, "results": None})
    ids = [f"s{seed}-c0" for seed in range(5)]
    pages = [ids[:3], ids[3:]]
    for number, page in enumerate(pages):
        data = [{"custom_id": i, "response": {"status_code": 200, "body": answer()}} for i in page]
        more = number == 0
        responses.get(BATCHES + "/b1/results", json={"object": "list", "data": data, "has_more": more,
                                                      "next_cursor": "c1" if more else None})
    result = fetch(rendered)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    pages_read = [c.request.url for c in responses.calls if "/results" in c.request.url]
    assert pages_read == [BATCHES + "/b1/results?limit=1000", BATCHES + "/b1/results?limit=1000&cursor=c1"]
    assert "$0.0200 spent now" in result.stderr


@responses.activate
def test_a_404_for_an_unsupported_parameter_names_it(rendered):
    for seed in range(5):
        path = rendered[0] / "prompts" / f"{seed}.json"
        body = json.loads(path.read_text())
        body["reasoning"] = {"effort": "none"}
        path.write_text(json.dumps(body))
    responses.get(BASE + "/models", json={"data": [{"id": MODEL, "pricing": {"prompt": "0", "completion": "0"},
                                                    "supported_parameters": ["max_tokens", "temperature",
                                                                             "response_format", "structured_outputs"]}]})
    responses.post(BASE + "/chat/completions", status=404,
                   json={"error": {"code": 404, "message": "No endpoints found that can handle the requested parameters."}})
    result = run("fetch", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE,
                 OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: HTTP 404, {MODEL} does not support `reasoning`")
    assert "set REASONING=default" in line
    estimate = run("estimate", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE)
    assert f"warning: {MODEL} does not support `reasoning`" in estimate.output


def edit_bodies(rendered, seeds, change) -> None:
    for seed in seeds:
        path = rendered[0] / "prompts" / f"{seed}.json"
        body = json.loads(path.read_text())
        change(body)
        path.write_text(json.dumps(body))


def batch_row(rendered, batch_id: str) -> str:
    """The line `make batches` prints for this batch."""
    listed = run("batches", "--cache-dir", rendered[1], "--base-url", BASE)
    assert listed.exit_code == 0, listed.output
    return next(line for line in listed.output.splitlines() if line.startswith(batch_id))


def lose_a_create(rendered) -> None:
    """A first run whose create is sent and its answer lost: the ledger holds a `lost` record."""
    responses.post(BATCHES, body=requests.ConnectionError("connection reset by peer"))
    assert fetch(rendered).exit_code == 1
    responses.reset()


def listed_batch(batch_id: str, slug: str, total, created: float, status: str = "in_progress") -> dict:
    counts = {"total": total, "completed": 0, "failed": 0} if total is not None else None
    return {"id": batch_id, "object": "batch", "model": slug, "status": status, "request_counts": counts,
            "created_at": int(created)}


@responses.activate
def test_batches_are_split_by_response_format_not_by_the_order_its_keys_are_written(rendered):
    edit_bodies(rendered, [1, 2], lambda body: body.update(response_format=dict(reversed(body["response_format"].items()))))
    edit_bodies(rendered, [3, 4], lambda body: body["response_format"]["json_schema"].update(name="conversation_b"))
    mock = mock_api()
    result = fetch(rendered)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    names = [[r["body"]["response_format"]["json_schema"]["name"] for r in data["requests"]]
             for data in mock.created.values()]
    assert sorted(names) == [["conversation"] * 3, ["conversation_b"] * 2]


@responses.activate
def test_the_summary_and_the_bar_count_every_batch_and_request_sent(rendered):
    mock_api()
    result = fetch(rendered, "--batch-size", 2)
    assert result.exit_code == 0, result.output
    assert "answer; 5 requests in 3 batches" in result.stderr
    bar = result.stderr.split("\r")[-1].splitlines()[0]   # the progress bar as last drawn
    assert "requests=5/5" in bar and "batches=completed=3," in bar


@responses.activate
def test_a_lost_create_adopts_no_listed_batch_of_another_slug_size_or_time(rendered):
    lose_a_create(rendered)
    sent = records(rendered)[0].sent
    slug = MODEL + ":batch"
    others = [listed_batch("other-counts-null", slug, None, sent),
              listed_batch("other-size", slug, 4, sent),
              listed_batch("other-slug", MODEL, 5, sent),
              listed_batch("other-earlier", slug, 5, sent - 3600, "completed")]
    responses.get(BATCHES, json={"object": "list", "data": others, "has_more": False})
    responses.get(re.compile(BATCHES + r"/other-"), status=404, json={"error": {"code": 404, "message": "not here"}})
    mock = mock_api()
    again = fetch(rendered)
    assert again.exit_code == 0 and "5/5 seeds valid" in again.stderr, again.output
    assert "is not listed by get /batches" in again.stderr.lower()
    assert [len(data["requests"]) for data in mock.created.values()] == [5]   # sent again, once
    assert [r.id for r in records(rendered) if r.status != "not created"] == ["b1"]
    lost = next(r for r in records(rendered) if r.status == "not created")
    assert "get /batches does not list it" in batch_row(rendered, lost.id).lower()


@responses.activate
def test_two_lost_creates_of_one_size_adopt_the_one_listed_batch_once(rendered):
    """Two runs of the same command, each losing its create: the list holds one batch of that size."""
    lose_a_create(rendered)
    first = records(rendered)[0]
    with open_cache(rendered[1]) as cache:
        Ledger(cache, BASE).write(replace(first, id="sending-second"))
    mock = MockBatches()
    mock.created["b1"] = {"requests": [{"custom_id": c.custom_id} for c in first.asks]}
    responses.get(BATCHES, json={"object": "list", "data": [listed_batch("b1", first.slug, 5, first.sent)],
                                 "has_more": False})
    mock_api(mock)
    again = fetch(rendered)
    assert again.exit_code == 0 and "5/5 seeds valid" in again.stderr, again.output
    assert again.stderr.count("is listed by the API") == 1 and "is not listed" in again.stderr
    assert sorted(r.status for r in records(rendered)) == ["completed", "not created"]
    assert not [c for c in responses.calls if c.request.method == "POST"]   # covered by the adopted batch


@responses.activate
def test_a_lost_create_with_an_unreadable_batch_list_stops_and_sends_nothing(rendered):
    lose_a_create(rendered)
    responses.get(BATCHES, status=404, json={"error": {"code": 404, "message": "not found"}})
    again = fetch(rendered)
    assert again.exit_code == 1
    line = again.stderr.strip().splitlines()[-1]
    assert f"GET {BATCHES}" in line and "run again later" in line
    assert not [c for c in responses.calls if c.request.method == "POST"]
    assert [r.status for r in records(rendered)] == ["lost"]


@responses.activate
def test_a_found_batch_is_listed_with_the_status_the_api_gave_and_how_it_was_found(rendered):
    lose_a_create(rendered)
    sent = records(rendered)[0].sent
    responses.get(BATCHES, json={"object": "list", "data": [listed_batch("b7", MODEL + ":batch", 5, sent)],
                                 "has_more": False})
    responses.get(BATCHES + "/b7", body=requests.ConnectionError("reset"))
    again = fetch(rendered, "--batch-wait", 0)
    assert again.exit_code == 75, again.output
    row = batch_row(rendered, "b7")
    assert "in_progress (open)" in row and "found in get /batches" in row.lower()


@responses.activate
def test_both_slugs_rejected_while_validating_stops_naming_each_slug_and_reason(rendered):
    mock = MockBatches()

    def create(request):   # a third create would try a slug already refused
        if len(mock.created) == 2:
            return 400, {}, json.dumps({"error": {"code": 400, "message": "a third create"}})
        return mock.create(request)

    def get(request):      # the :batch slug refused with a reason, the other with none
        batch_id = request.url.rsplit("/", 1)[-1]
        slug = mock.created[batch_id]["model"]
        error = {"message": f"unknown model {slug}"} if slug.endswith(":batch") else None
        return 200, {}, json.dumps({"id": batch_id, "status": "failed", "in_progress_at": None, "error": error})
    responses.add_callback(responses.POST, BATCHES, callback=create)
    responses.add_callback(responses.GET, re.compile(BATCHES + r"/b\d+$"), callback=get)
    result = fetch(rendered)
    assert result.exit_code == 1 and len(mock.created) == 2   # each slug tried once
    line = result.stderr.strip().splitlines()[-1]
    assert f"rejected {MODEL} under every slug" in line
    assert f"{MODEL}:batch: unknown model {MODEL}:batch" in line
    assert f"{MODEL}: failed while validating".lower() in line.lower()
    assert "check MODEL" in line and "without BATCH=1" in line
    assert "unknown model" in batch_row(rendered, "b1")


class FirstBatchFails(MockBatches):
    """The first batch bills `cost` and ends its last two requests with per-request errors."""

    def __init__(self, cost: float):
        super().__init__()
        self.cost = cost

    def get(self, request):
        status, headers, text = super().get(request)
        data = json.loads(text)
        if data["id"] == "b1":
            data["usage"]["cost"] = self.cost
            for result in data["results"][-2:]:
                result.pop("response")
                result["error"] = {"message": "the provider failed this request"}
        return status, headers, json.dumps(data)


@responses.activate
def test_budget_holds_a_later_batch_at_the_answer_length_this_run_measured(rendered):
    """20 answers of 50 completion tokens: the re-asked two are held at 50 tokens each, not at the
    assumed length, which would pass the cap."""
    assert run("prompts", "--n", 22, "--data-dir", rendered[0]).exit_code == 0
    prices = Prices(0.15e-6, 1.25e-6, "half of PRICE_IN/PRICE_OUT")
    bodies = [load_body(rendered[0], seed) for seed in range(22)]
    cap = 1.01 * sum(request_estimate(body, prices) for body in bodies)   # room for the first batch's hold
    measured = sum(request_estimate(body, prices, 50) for body in bodies[20:])
    assumed = sum(request_estimate(body, prices) for body in bodies[20:])
    mock = mock_api(FirstBatchFails(cost=cap - (measured + assumed) / 2))
    result = run("fetch", "--n", 22, "--data-dir", rendered[0], "--cache-dir", rendered[1], "--base-url", BASE,
                 "--batch", 1, *PRICES, "--budget", f"{cap:.6f}", OPENROUTER_API_KEY=TEST_KEY)
    assert result.exit_code == 0 and "22/22 seeds valid" in result.stderr, result.output
    assert [len(data["requests"]) for data in mock.created.values()] == [22, 2]


class SeedZeroFails(MockBatches):
    """Every batch ends seed 0's request with a per-request error."""

    def get(self, request):
        status, headers, text = super().get(request)
        data = json.loads(text)
        for result in data["results"]:
            if result["custom_id"].startswith("s0-"):
                result.pop("response")
                result["error"] = {"message": "the provider failed this request"}
        return status, headers, json.dumps(data)


@responses.activate
def test_a_request_failing_in_every_batch_is_tried_five_times_then_left_for_the_next_run(rendered):
    mock = mock_api(SeedZeroFails())
    result = fetch(rendered)
    assert result.exit_code == 0, result.output
    assert "fetch: 4/5 seeds valid, 1 without a valid answer" in result.stderr
    assert "last failure: in batch: the provider failed" in result.stderr   # the provider's reason
    tries = [data for data in mock.created.values() if any(r["custom_id"].startswith("s0-") for r in data["requests"])]
    assert len(tries) == 5


class ResultShapes(MockBatches):
    """The first batch's results in shapes providers use: no status_code, the body as JSON text,
    an error given as plain text, a 500 carrying the provider's error, and one result twice."""

    def get(self, request):
        status, headers, text = super().get(request)
        data = json.loads(text)
        if data["id"] == "b1":
            no_status, as_text, plain, failed = data["results"][:4]
            del no_status["response"]["status_code"]
            as_text["response"]["body"] = json.dumps(as_text["response"]["body"])
            plain.pop("response")
            plain["error"] = "quota exceeded"
            data["results"].append(dict(data["results"][-1]))   # one result given twice
            failed["response"] = {"status_code": 500, "body": {"error": {"message": "provider overloaded"}}}
        return status, headers, json.dumps(data)


@responses.activate
def test_results_without_status_or_with_a_text_body_are_stored_and_errors_are_asked_again(rendered):
    mock = mock_api(ResultShapes())
    result = fetch(rendered)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    assert [[r["custom_id"] for r in data["requests"]] for data in mock.created.values()][1:] == [["s2-c0", "s3-c0"]]
    assert "(2 per-request errors" in result.stderr
    assert "last=in batch: provider overloaded" in result.stderr   # the provider's reason, not "no answer"


@responses.activate
def test_a_busy_create_is_shown_as_the_last_failure(rendered):
    responses.post(BATCHES, status=429, json={"error": {"code": 429, "message": "slow down"}})
    mock_api()
    result = fetch(rendered, "--backoff", 0)
    assert result.exit_code == 0 and "5/5 seeds valid" in result.stderr, result.output
    bar = result.stderr.split("\r")[-1].splitlines()[0]
    assert "last=" in bar and "429" in bar.split("last=")[1]
