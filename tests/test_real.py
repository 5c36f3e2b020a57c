"""The checks on real model output (tests/data/real/): the hand-labelled sentences, the share of
each real dataset the leak check rejects, and real conversations replayed as the API's answers."""
import pytest

from conftest import ROOT
from leak_scores import REAL_DATASETS, REAL_HELD_OUT, REAL_TUNING, describe, flagged, load_real_rows, rejected_share
from real_replay import replay

REAL_ROWS = load_real_rows(REAL_TUNING) + load_real_rows(REAL_HELD_OUT)
MOST_REJECTED = 0.005  # the share of real conversations the leak check may reject


@pytest.mark.parametrize("row", REAL_ROWS, ids=lambda row: row.test_id)
def test_real_labelled_sentence(row):
    """A row marked `miss` or `false alarm` documents a known limit: the check must disagree there."""
    expected = row.leak if not row.known else not row.leak
    assert flagged(row) == expected


def test_the_real_sets_are_large_and_cover_identities_and_generators():
    assert len(REAL_ROWS) >= 300
    identities = {row.identity for row in REAL_ROWS}
    assert len(identities) >= 3


@pytest.mark.parametrize("dataset", REAL_DATASETS)
def test_few_real_conversations_are_rejected_as_leaks(dataset):
    rejected, total = rejected_share(dataset)
    assert total >= 900 and rejected <= MOST_REJECTED * total


def test_replayed_real_answers_are_rarely_asked_again():
    """Each seed answered with a real conversation through fetch and its checks: few are re-asked."""
    result = replay("chibuchat_gemini", limit=300)
    assert result.valid == result.seeds == 300
    assert result.reasked <= 0.01 * result.seeds


def test_the_docs_state_the_real_figures():
    page = " ".join((ROOT / "docs" / "checks.md").read_text().split())
    for name, path in (("real tuning set", REAL_TUNING), ("real held-out set", REAL_HELD_OUT)):
        assert describe(name, load_real_rows(path)) in page
    for dataset in REAL_DATASETS:
        rejected, total = rejected_share(dataset)
        assert f"| {total} |" in page and f"{rejected} ({100 * rejected / total:.1f}%)" in page
