"""The judge pass: one more request body through the same path, cached, re-asked, reported."""
import json
import re
import shutil

import pytest
import responses
from conftest import GOOD, ROOT, TEST_KEY, chat_answer, conversation_content, run

from stages.fetching import Job, run_fetch
from stages.render import load_sources
from stages.judging.rules import rules_for
from stages.judging.rules import CheckChoice
from stages.judging.checks import make_validator
from stages.judging.judge import SCHEMA_NAME, judge_body, load_judge, read_verdict
from stages.judging.review import make_rules, review_seed
from stages.storage.bodies import load_body

URL = "http://127.0.0.1:9/api/v1/chat/completions"
OTHER = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hi, I am Sprout, a small model."}]


def verdict(result, *problems):
    return chat_answer(json.dumps({"verdict": result, "problems": [{"kind": k, "quote": q} for k, q in problems]}))


def judge_rules(model=""):
    sources = load_sources()
    return make_rules(sources.schema, judge=load_judge(sources.identity, model))


def fetch(rendered, n=1, max_attempts=3, rules=None):
    data, cache = rendered
    job = Job(URL, data, max_attempts, timeout=5, backoff=0, rules=rules or judge_rules(), key=TEST_KEY)
    return run_fetch(job, cache, range(n), workers=1)


def sent_bodies():
    return [json.loads(call.request.body) for call in responses.calls]


def is_judge(body):
    return body["response_format"]["json_schema"]["name"] == SCHEMA_NAME


@responses.activate
def test_a_failed_verdict_rejects_the_conversation_and_the_seed_is_asked_again(rendered):
    for answer in (chat_answer(conversation_content(GOOD)), verdict("fail", ("invented_fact", "I have 7B parameters")),
                   chat_answer(conversation_content(OTHER)), verdict("pass")):
        responses.post(URL, json=answer)
    tally = fetch(rendered)
    assert (tally.valid, tally.requests) == (1, 4)
    assert [is_judge(body) for body in sent_bodies()] == [False, True, False, True]
    judge_request = sent_bodies()[1]
    assert "Hello, I am Sprout." in judge_request["messages"][0]["content"]  # the conversation under review
    assert "Name: Sprout." in judge_request["messages"][0]["content"]        # and the identity
    assert judge_request["temperature"] == 0.0
    review = review_seed(*open_review(rendered), judge_rules())
    assert review.conversation == OTHER
    assert review.verdicts[0].reasons == ["judge:invented_fact"]
    assert review.verdicts[0].problems == (("invented_fact", "I have 7B parameters"),)


def open_review(rendered):
    from stages.storage.cache import open_cache
    data, cache_dir = rendered
    cache = open_cache(cache_dir).__enter__()
    return cache, URL, load_body(data, 0), 0


@responses.activate
def test_an_unreadable_verdict_is_asked_again_without_a_new_conversation(rendered):
    for answer in (chat_answer(conversation_content(GOOD)), chat_answer('{"verdict": "maybe", "problems": []}'),
                   chat_answer("not json"), verdict("pass")):
        responses.post(URL, json=answer)
    tally = fetch(rendered)
    assert (tally.valid, tally.requests) == (1, 4)
    assert [is_judge(body) for body in sent_bodies()] == [False, True, True, True]
    bodies = sent_bodies()
    assert bodies[1] == bodies[2] == bodies[3]  # the same judge body, attempts 0, 1, 2


@responses.activate
def test_a_judge_that_never_answers_is_reported_not_fatal(rendered):
    responses.post(URL, json=chat_answer(conversation_content(GOOD)))
    for _ in range(2):
        responses.post(URL, json=chat_answer("no verdict here"))
    tally = fetch(rendered, max_attempts=2)
    assert (tally.valid, tally.done, tally.requests) == (0, 1, 3)
    result = run("validate", "--n", 1, "--data-dir", rendered[0], "--cache-dir", rendered[1],
                 "--base-url", URL.removesuffix("/chat/completions"), "--judge", 1, "--max-attempts", 2)
    assert result.exit_code == 0 and "judge_no_verdict 1" in result.stderr


@responses.activate
def test_judge_model_and_a_rerun_that_sends_nothing(rendered):
    responses.post(URL, json=chat_answer(conversation_content(GOOD)))
    responses.post(URL, json=verdict("pass"))
    assert fetch(rendered, rules=judge_rules("judge/model")).valid == 1
    assert [body["model"] for body in sent_bodies()] == ["google/gemini-2.5-flash", "judge/model"]
    again = fetch(rendered, rules=judge_rules("judge/model"))
    assert (again.valid, again.requests) == (1, 0)
    assert len(responses.calls) == 2


def test_read_verdict_accepts_only_the_schema():
    validator = make_validator(load_judge("x").schema)
    def read(content, finish="stop"):
        return read_verdict(chat_answer(content, finish), validator)
    assert read('{"verdict": "pass", "problems": []}').reasons == []
    assert read('{"verdict": "fail", "problems": [{"kind": "unnatural", "quote": "x"}]}').reasons == ["judge:unnatural"]
    assert read('{"verdict": "fail", "problems": []}').reasons == ["judge:unspecified"]
    for bad in ('{"verdict": "pass"}', '{"verdict": "ok", "problems": []}', "[]", "",
                '{"verdict": "pass", "problems": [], "extra": 1}',
                '{"verdict": "fail", "problems": [{"kind": "rude", "quote": "x"}]}'):
        assert read(bad).reasons == ["judge_invalid"], bad
    assert read('{"verdict": "pass", "problems": []}', finish="length").reasons == ["judge_invalid"]


def test_the_judge_body_keeps_what_the_server_needs():
    body = {"model": "m", "temperature": 1.0, "max_tokens": 4096, "messages": [{"role": "user", "content": "x"}],
            "provider": {"require_parameters": True}, "response_format": {}}
    made = judge_body(body, GOOD, load_judge("Name: Sprout."))
    assert made["provider"] == body["provider"] and made["model"] == "m"
    assert made["response_format"]["json_schema"]["strict"] is True


def test_a_broken_judge_schema_is_one_line(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts" / "judge_schema.json").write_text('{"type": "object", "properties": {"ok": {}}}')
    result = run("validate", "--n", 0, "--data-dir", tmp_path / "data", "--judge", 1)
    assert result.exit_code == 1
    assert "must have exactly the top-level properties verdict and problems" in result.stderr
    (tmp_path / "prompts" / "judge.md").write_text("judge $nothing")
    (tmp_path / "prompts" / "judge_schema.json").write_text((ROOT / "prompts" / "judge_schema.json").read_text())
    with pytest.raises(Exception, match="unknown placeholder"):
        judge_body({"model": "m"}, GOOD, load_judge("x", folder=tmp_path / "prompts"))


def judged_run(tmp_path, server, n, *extra):
    args = ["dataset", "--n", n, "--data-dir", tmp_path / "data", "--cache-dir", tmp_path / "cache",
            "--base-url", server.base_url, "--judge", 1, *extra]
    return run(*args)


def test_against_the_fake_every_kept_conversation_was_judged_pass_and_edits_reask_only_the_judge(
        tmp_path, monkeypatch, fake_api):
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    monkeypatch.chdir(tmp_path)
    server = fake_api(judge_fail_rate=0.3, fault_rate=0.2, retry_after=0)
    data, cache = tmp_path / "data", tmp_path / "cache"
    assert run("prompts", "--n", 30, "--data-dir", data).exit_code == 0
    fetched = run("fetch", "--n", 30, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url,
                  "--judge", 1, "--backoff", 0.01, OPENROUTER_API_KEY=TEST_KEY)
    assert fetched.exit_code == 0 and "30/30 seeds valid" in fetched.stderr, fetched.stderr
    built = judged_run(tmp_path, server, 30)
    assert built.exit_code == 0 and "wrote 30 conversations" in built.stderr
    rules = rules_for(CheckChoice(judge=True))
    from stages.storage.cache import open_cache
    with open_cache(cache) as opened:
        reviews = [review_seed(opened, server.base_url + "/chat/completions", load_body(data, s), s, rules)
                   for s in range(30)]
    assert all(r.judge_verdicts[-1][-1].reasons == [] for r in reviews)       # the last word was a pass
    assert sum(v.reasons[0].startswith("judge:") for r in reviews for v in r.verdicts if not v.valid) > 0

    sent = server.stats.requests
    again = run("fetch", "--n", 30, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url,
                "--judge", 1)
    assert again.exit_code == 0 and server.stats.requests == sent  # a rerun sends nothing

    judge_md = tmp_path / "prompts" / "judge.md"
    judge_md.write_text(judge_md.read_text() + "\nBe strict about greetings.\n")
    server.config.judge_fail_rate = 0.0
    seen = []
    original = server.RequestHandlerClass.answer
    monkeypatch.setattr(server.RequestHandlerClass, "answer",
                        lambda handler, body, fault: (seen.append(body), original(handler, body, fault)))
    edited = run("fetch", "--n", 30, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url,
                 "--judge", 1, "--backoff", 0.01, OPENROUTER_API_KEY=TEST_KEY)
    assert edited.exit_code == 0 and "30/30 seeds valid" in edited.stderr
    assert seen and all(is_judge(body) for body in seen)  # only the judge was asked again


def test_show_prints_the_judges_word(tmp_path, monkeypatch, fake_api):
    server = fake_api(judge_fail_rate=1.0)
    data, cache = tmp_path / "data", tmp_path / "cache"
    assert run("prompts", "--n", 1, "--data-dir", data).exit_code == 0
    run("fetch", "--n", 1, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url, "--judge", 1,
        "--max-attempts", 2, OPENROUTER_API_KEY=TEST_KEY)
    shown = run("show", "--seed", 0, "--data-dir", data, "--cache-dir", cache, "--base-url", server.base_url,
                "--judge", 1)
    assert shown.exit_code == 0
    assert shown.output.count("judge 0: fail") == 2 and "rejected: judge:" in shown.output
    assert "conversation: none valid yet" in shown.output


def test_estimate_adds_the_judge(rendered):
    args = ["estimate", "--n", 5, "--data-dir", rendered[0], "--cache-dir", rendered[1],
            "--base-url", "http://127.0.0.1:9/api/v1", "--price-in", 1, "--price-out", 10]
    plain, judged = run(*args), run(*args, "--judge", 1)
    assert plain.exit_code == judged.exit_code == 0, judged.output
    assert "judge (" not in plain.output and "judge (google/gemini-2.5-flash)" in judged.output
    cost = [float(re.search(r"estimated cost +\$([\d.]+)", out.output).group(1)) for out in (plain, judged)]
    assert cost[1] > cost[0]


@responses.activate
def test_stats_count_what_the_judge_answers_cost(rendered):
    for answer in (chat_answer(conversation_content(GOOD), cost=0.002), verdict("pass")):
        responses.post(URL, json=answer)
    assert fetch(rendered).valid == 1
    from stages.commands.stats import spent_on
    from stages.storage.cache import open_cache
    with open_cache(rendered[1]) as cache:
        plain = spent_on(cache, URL.removesuffix("/chat/completions"), rendered[0], 1)
        judged = spent_on(cache, URL.removesuffix("/chat/completions"), rendered[0], 1, judge_rules())
    assert (plain.cost, judged.cost) == (pytest.approx(0.002), pytest.approx(0.003))  # the verdict cost $0.001
