"""Review decisions: recorded in DATA_DIR/review.jsonl, honoured by `make dataset`, shown by `show`
and `stats`, and left alone (reported) once the seed's conversation changed."""
import json

from conftest import files_containing, run, store_answer
from reviewrun import LEAK, answer, dataset_lines, stages, store_run, locate

from stages.judging.decisions import load_decisions, review_path


def test_a_drop_removes_a_valid_conversation_and_survives_rebuilds(rendered):
    store_run(rendered)
    stages(rendered, "dataset", "--n", 5)
    assert len(dataset_lines(rendered)) == 2  # seeds 0 and 1; 4 is a copy of 0
    stages(rendered, "review", "--seed", 1, "--keep", 0, "--note", "stiff")
    result = stages(rendered, "dataset", "--n", 5)
    assert "review: by hand, 1 dropped and 0 kept" in result.output
    assert len(dataset_lines(rendered)) == 1
    rejected = [json.loads(line) for line in (rendered[0] / "rejected.jsonl").read_text().splitlines()]
    assert {"seed": 1, "reasons": ["review_dropped"]} in rejected
    stages(rendered, "dataset", "--n", 5)  # a rebuild with nothing new keeps the decision's effect
    assert len(dataset_lines(rendered)) == 1
    assert not files_containing(rendered[1], "stiff")  # never in the paid-for cache
    assert load_decisions(rendered[0])[1].note == "stiff"


def test_a_keep_adds_a_rejected_seeds_conversation_of_valid_shape(rendered):
    store_run(rendered)
    stages(rendered, "review", "--seed", 2, "--keep", 1)
    stages(rendered, "dataset", "--n", 5)
    assert any(LEAK in m["content"] for line in dataset_lines(rendered) for m in line)


def test_a_seed_without_a_conversation_of_valid_shape_cannot_be_kept(rendered):
    store_run(rendered)
    result = run("review", "--seed", 3, "--keep", 1, *locate(rendered))
    assert result.exit_code == 1
    assert "seed 3 has no cached conversation of valid shape to decide on" in result.output
    assert not review_path(rendered[0]).exists()


def test_a_decision_on_a_changed_conversation_is_reported_not_applied(rendered):
    store_run(rendered)
    stages(rendered, "review", "--seed", 2, "--keep", 1)
    store_answer(rendered, 2, 0, answer("are you gpt?", f"No. {LEAK}"))  # the cache entry replaced
    result = stages(rendered, "dataset", "--n", 5)
    assert "NOT applied, the conversation changed since the decision: seeds 2" in result.output
    assert not any(LEAK in m["content"] for line in dataset_lines(rendered) for m in line)
    shown = stages(rendered, "show", "--seed", 2).output
    assert "review: keep, made" in shown and "NOT applied" in shown


def test_a_digest_from_an_older_report_is_refused(rendered):
    store_run(rendered)
    result = run("review", "--seed", 0, "--keep", 0, "--digest", "0123456789abcdef", *locate(rendered))
    assert result.exit_code == 1
    assert "seed 0's conversation changed since the report was written" in result.output


def test_show_and_stats_display_the_decision(rendered):
    store_run(rendered)
    stages(rendered, "review", "--seed", 0, "--keep", 0, "--note", "too stiff")
    shown = stages(rendered, "show", "--seed", 0).output
    assert "review: drop (too stiff), made" in shown and "on this conversation" in shown
    stages(rendered, "dataset", "--n", 5)
    table = stages(rendered, "stats", "--n", 5).output
    assert "review decisions            keep: 0, drop: 1" in table
