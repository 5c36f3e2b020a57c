import json

import pytest

from stages.errors import PipelineError
from stages.prompts import (EXAMPLES_PER_SEED, Settings, Sources, encode_body, load_sources, pick_examples,
                            render_all, request_body)


def test_pool_has_enough_varied_first_messages():
    pool = load_sources().first_messages
    assert len(pool) >= 150
    assert len(set(pool)) == len(pool), "duplicates in first_messages.txt"
    assert sum(not m.isascii() for m in pool) >= 30, "too few non-English messages"
    assert any(m.isupper() for m in pool), "no all-caps messages"


def test_render_is_byte_identical_on_rerun(tmp_path):
    sources, settings = load_sources(), Settings()
    assert render_all(sources, settings, 20, tmp_path / "a") == 20
    assert render_all(sources, settings, 20, tmp_path / "a") == 0  # nothing changed the second time
    render_all(sources, settings, 20, tmp_path / "b")
    for seed in range(20):
        assert (tmp_path / "a" / f"{seed}.json").read_bytes() == (tmp_path / "b" / f"{seed}.json").read_bytes()


def test_seed_picks_the_examples():
    pool = load_sources().first_messages
    assert pick_examples(pool, 7) == pick_examples(pool, 7)
    assert len(set(pick_examples(pool, 7))) == EXAMPLES_PER_SEED
    assert len({tuple(pick_examples(pool, seed)) for seed in range(50)}) == 50


def test_body_has_the_exact_request_fields():
    sources = load_sources()
    body = request_body(sources, Settings(model="m/x", temperature=0.5, max_tokens=123), 3)
    assert body["model"] == "m/x" and body["temperature"] == 0.5 and body["max_tokens"] == 123
    assert body["provider"] == {"require_parameters": True}
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == sources.schema
    prompt = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "user"
    assert sources.identity in prompt and "$" not in prompt
    for example in pick_examples(sources.first_messages, 3):
        assert f"- {example}" in prompt
    assert json.loads(encode_body(body)) == body


def test_unknown_placeholder_is_a_clear_error():
    sources = load_sources()
    broken = Sources(sources.identity, "Hello $nobody", sources.first_messages, sources.schema)
    with pytest.raises(PipelineError, match=r"unknown placeholder 'nobody'"):
        request_body(broken, Settings(), 0)


def test_missing_source_file_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="cannot read .*identity.md"):
        load_sources(tmp_path)
