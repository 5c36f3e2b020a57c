"""The answer cache: keys, entries, and which keys count as answers."""
import json

import pytest

from stages.storage.cache import (KeyMaker, answer_key, cached_attempts, decode_entry, encode_entry, is_answer_key,
                                  open_cache)

URL = "http://127.0.0.1:9/api/v1/chat/completions"
BODY = {"model": "m", "messages": [{"role": "user", "content": "héllo"}]}


@pytest.mark.parametrize("key, answer", [
    (answer_key(URL, BODY, 0), True), ("settled:" + "0" * 56, False), ("a" * 63 + ":", False), ("a" * 63, False),
    ("a" * 65, False), ("models:" + URL, False), (12, False), (None, False)])
def test_answers_are_bare_digests_and_notes_are_not(key, answer):
    assert is_answer_key(key) is answer


def test_key_maker_gives_answer_key_for_every_attempt():
    maker = KeyMaker(URL, BODY)
    assert [maker.key(a) for a in (0, 1, 12)] == [answer_key(URL, BODY, a) for a in (0, 1, 12)]
    assert len({maker.key(a) for a in range(20)}) == 20


def test_entries_round_trip_and_foreign_values_are_none():
    raw = encode_entry(3, 1, '{"choices": []}')
    assert json.loads(raw) == {"seed": 3, "attempt": 1, "body": '{"choices": []}'}
    assert decode_entry(raw) == {"seed": 3, "attempt": 1, "body": '{"choices": []}'}
    assert "Привет" in encode_entry(0, 0, "Привет")  # readable text, not \u escapes
    for foreign in (b"bytes", "not json", "[1]", json.dumps({"body": 5}), None):
        assert decode_entry(foreign) is None


def test_cached_attempts_stop_at_the_first_gap(tmp_path):
    with open_cache(tmp_path) as cache:
        for attempt in (0, 1, 3):
            cache.set(answer_key(URL, BODY, attempt), f"entry {attempt}")
        assert list(cached_attempts(cache, URL, BODY)) == ["entry 0", "entry 1"]


def test_the_key_format_is_pinned_so_caches_stay_readable_across_versions():
    """Every cache ever written is looked up by this exact format: sorted keys, no spaces, UTF-8 as is."""
    url, body = "http://127.0.0.1:9/v1/chat/completions", {"b": [1, 2], "a": "é"}
    # SHA-256 of '["http://127.0.0.1:9/v1/chat/completions",{"a":"é","b":[1,2]},3]'
    pinned = "b776105d8e66fc48c6c4783c1ace5b8eb0a0010ecd54cc7d9c888033e87b12fc"
    assert answer_key(url, body, 3) == pinned and KeyMaker(url, body).key(3) == pinned
