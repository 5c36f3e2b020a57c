"""show, validate and stats say where the answers are when none match BASE_URL."""
import json

import pytest
from conftest import FAKE_URL, TEST_KEY, chat_answer, conversation_content, run, store_answer

from stages.judging.rules import completions_url
from stages.storage.cache import decode_entry, encode_entry, open_cache

OTHER = "http://127.0.0.1:8765/api/v1"
GOOD = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello, I am Sprout."}]


def answer(seed: int, url: str | None) -> str:
    """An entry as fetch writes it for this endpoint (None: as entries were before they named it)."""
    body = json.dumps(chat_answer(conversation_content(GOOD)))
    return encode_entry(seed, 0, body, url=completions_url(url) if url else None)


@pytest.fixture
def elsewhere(rendered):
    """Answers for seeds 0..4 fetched through OTHER, none through FAKE_URL."""
    for seed in range(5):
        store_answer(rendered, seed, 0, answer(seed, OTHER), url=OTHER)
    return rendered


def located(dirs, base_url=FAKE_URL) -> list:
    return ["--data-dir", dirs[0], "--cache-dir", dirs[1], "--base-url", base_url]


def test_show_names_the_endpoint_holding_the_seed(elsewhere):
    shown = run("show", "--seed", 3, *located(elsewhere))
    assert shown.exit_code == 0
    assert (f"no cached attempts; no answers under BASE_URL={FAKE_URL}, but the cache holds answers for these "
            f"seeds: 1 under BASE_URL={OTHER}; run `make show SEED=3 BASE_URL={OTHER}` to use them") in shown.output
    pointed = run("show", "--seed", 3, *located(elsewhere, OTHER))
    assert "attempt 0: valid (used)" in pointed.output


def test_validate_and_stats_name_it_too(elsewhere):
    validated = run("validate", "--n", 5, *located(elsewhere))
    assert validated.exit_code == 0
    assert f"5 under BASE_URL={OTHER}; run `make validate BASE_URL={OTHER}`" in validated.stderr
    assert run("dataset", "--n", 5, *located(elsewhere, OTHER)).exit_code == 0
    stats = run("stats", "--n", 5, *located(elsewhere))
    assert stats.exit_code == 0
    assert f"stats: cost unknown, no answers under BASE_URL={FAKE_URL}" in stats.stderr
    assert f"run `make stats BASE_URL={OTHER}`" in stats.stderr


def test_answers_for_other_request_bodies_under_the_same_endpoint(elsewhere):
    assert run("prompts", "--n", 5, "--data-dir", elsewhere[0], "--temperature", 0.3).exit_code == 0
    validated = run("validate", "--n", 5, *located(elsewhere, OTHER))
    assert f"the cache holds 5 answers for these seeds under BASE_URL={OTHER} that were asked with other " \
           "request bodies" in validated.stderr


def test_old_entries_without_an_endpoint_are_counted(rendered):
    store_answer(rendered, 1, 0, answer(1, None), url=OTHER)
    shown = run("show", "--seed", 1, *located(rendered))
    assert "the cache holds 1 answers for these seeds under another BASE_URL or other request bodies" in shown.output


def test_no_hint_when_the_cache_holds_nothing_for_these_seeds(rendered):
    store_answer(rendered, 4, 0, answer(4, OTHER), url=OTHER)
    shown = run("show", "--seed", 1, *located(rendered))
    assert "no cached attempts: run `make fetch`" in shown.output
    validated = run("validate", "--n", 3, *located(rendered))
    assert validated.stderr.count("\n") == 1  # the summary line alone


def test_fetch_names_the_endpoint_in_each_entry(rendered, fake_api):
    server = fake_api()
    fetched = run("fetch", "--n", 2, *located(rendered, server.base_url), OPENROUTER_API_KEY=TEST_KEY)
    assert fetched.exit_code == 0, fetched.output
    with open_cache(rendered[1]) as cache:
        urls = {decode_entry(cache.get(key))["url"] for key in cache.iterkeys() if ":" not in key}
    assert urls == {completions_url(server.base_url)}
