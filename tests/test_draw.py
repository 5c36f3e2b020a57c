"""Stable draws by content: what moves when a pool is edited, and weights in proportion."""
import random
import shutil
from collections import Counter

import pytest
from conftest import ROOT

from stages.render import load_sources
from stages.draw import draw
from stages.storage.texts import read_lines

SEEDS = range(3000)
POOL = tuple(f"message number {i}" for i in range(60))


def draws(items, k, pool="test", weights=None, seeds=SEEDS):
    return [tuple(draw(pool, seed, tuple(items), k, weights)) for seed in seeds]


def moved(before, after) -> list[int]:
    return [seed for seed, (a, b) in enumerate(zip(before, after)) if a != b]


@pytest.mark.parametrize("k", [1, 5])
def test_adding_an_item_moves_only_the_seeds_that_now_draw_it(k):
    before = draws(POOL, k)
    grown = POOL[:30] + ("a brand new line",) + POOL[30:]  # inserted in the middle
    after = draws(grown, k)
    assert moved(before, after) == [s for s, picks in enumerate(after) if "a brand new line" in picks]
    share = len(moved(before, after)) / len(SEEDS)
    assert abs(share - k / len(grown)) < 0.35 * k / len(grown)  # about k/len, the least possible


@pytest.mark.parametrize("k", [1, 5])
def test_removing_an_item_moves_only_the_seeds_that_had_it(k):
    before = draws(POOL, k)
    after = draws(POOL[:10] + POOL[11:], k)
    assert moved(before, after) == [s for s, picks in enumerate(before) if POOL[10] in picks]
    assert all(POOL[10] not in picks for picks in after)


def test_reordering_moves_nothing():
    shuffled = list(POOL)
    random.Random(1).shuffle(shuffled)
    assert draws(shuffled, 5) == draws(POOL, 5)
    assert draws(sorted(POOL, reverse=True), 1) == draws(POOL, 1)


def test_comments_blank_lines_and_repeats_never_count(tmp_path):
    plain, noisy = tmp_path / "plain.txt", tmp_path / "noisy.txt"
    plain.write_text("\n".join(POOL) + "\n")
    noisy.write_text("# a comment\n\n" + "\n\n# another\n".join(POOL[:20]) + "\n   \n" + "\n".join(POOL[20:])
                     + "\n" + POOL[3] + "\n# trailing comment\n")
    assert draws(read_lines(noisy), 5) == draws(read_lines(plain), 5)


def test_a_draw_has_k_distinct_items_and_differs_across_seeds_and_pools():
    picks = draws(POOL, 5)
    assert all(len(set(p)) == 5 for p in picks)
    assert len(set(picks)) > 2900
    assert draws(POOL, 5, pool="other") != picks
    assert draws(POOL[:3], 5)[0] and all(len(p) == 3 for p in draws(POOL[:3], 5))


def test_every_item_is_drawn_about_equally_often():
    counts = Counter(item for picks in draws(POOL, 5) for item in picks)
    expected = len(SEEDS) * 5 / len(POOL)
    assert set(counts) == set(POOL)
    assert all(abs(count - expected) < 0.3 * expected for count in counts.values())


def test_weights_are_respected_in_proportion():
    weights = (3.0, 1.0, 1.0, 0.5)
    names = ("a/x:free", "b/y", "c/z:batch", "d/w")
    counts = Counter(p[0] for p in draws(names, 1, weights=weights, seeds=range(12000)))
    for name, weight in zip(names, weights):
        assert counts[name] / 12000 == pytest.approx(weight / sum(weights), abs=0.015)


def test_adding_a_weighted_model_moves_only_the_seeds_it_wins():
    before = draws(("a", "b", "c"), 1, weights=(1.0, 1.0, 1.0))
    after = draws(("a", "b", "c", "d"), 1, weights=(1.0, 1.0, 1.0, 1.0))
    assert moved(before, after) == [s for s, picks in enumerate(after) if picks == ("d",)]
    assert len(moved(before, after)) / len(SEEDS) == pytest.approx(0.25, abs=0.03)


def changed_bodies(tmp_path, edit) -> tuple[int, int]:
    """(bodies of seeds 0..299 that change, lines in the edited pool) after `edit` on a copy of prompts/."""
    from stages.render import Settings, request_body
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    size = edit(tmp_path / "prompts")
    old, new = load_sources(), load_sources(tmp_path / "prompts")
    return sum(request_body(old, Settings(), s) != request_body(new, Settings(), s) for s in range(300)), size


def test_inserting_a_first_message_in_the_middle_changes_about_5_of_len_bodies(tmp_path):
    def insert(folder):
        path = folder / "first_messages.txt"
        lines = path.read_text().splitlines()
        lines.insert(len(lines) // 2, "hey, quick question about you")
        path.write_text("\n".join(lines) + "\n")
        return len(read_lines(path))
    changed, size = changed_bodies(tmp_path, insert)
    assert 0 < changed <= 2.5 * 300 * 5 / size  # about 300 * 5 / len, against 300 of 300 by position


def test_sorting_an_axis_file_changes_no_body(tmp_path):
    def sort_topics(folder):
        path = folder / "axes" / "topic.txt"
        lines = path.read_text().splitlines()
        comments = [line for line in lines if line.startswith("#")]
        path.write_text("\n".join(comments + sorted(set(lines) - set(comments))) + "\n")
        return len(read_lines(path))
    assert changed_bodies(tmp_path, sort_topics)[0] == 0
