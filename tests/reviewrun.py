"""A small run to review: five rendered seeds and their cached answers, with one of each kind the
report and the review must handle (shared by test_review.py and test_report.py)."""
import json

from conftest import FAKE_URL, cache_entry, chat, conversation_content, run, store_answer

LEAK = "I am ChatGPT, a model made by OpenAI."
REPEATED = "I am a small open-source chat model."


def answer(*texts: str) -> str:
    return cache_entry(conversation_content(chat(*texts)))


def store_run(dirs) -> None:
    """seed 0 valid; seed 1 a leak, then valid; seed 2 only a leak (rejected, of valid shape);
    seed 3 not JSON; seed 4 a copy of seed 0 (dropped as a duplicate)."""
    first = answer("who are you?", f"I am Sprout. {REPEATED}", "who made you?", f"Volunteers. {REPEATED}")
    store_answer(dirs, 0, 0, first)
    store_answer(dirs, 1, 0, answer("hello", LEAK))
    store_answer(dirs, 1, 1, answer("what is your name?", f"Sprout. {REPEATED} Ask me anything."))
    store_answer(dirs, 2, 0, answer("are you gpt?", f"Yes. {LEAK}"))
    store_answer(dirs, 3, 0, cache_entry("this is not json"))
    store_answer(dirs, 4, 0, first)


def locate(dirs) -> list[str]:
    return ["--data-dir", str(dirs[0]), "--cache-dir", str(dirs[1]), "--base-url", FAKE_URL]


def stages(dirs, *args):
    result = run(*args, *locate(dirs))
    assert result.exit_code == 0, result.output
    return result


def dataset_lines(dirs) -> list:
    return [json.loads(line) for line in (dirs[0] / "identity_conversations.jsonl").read_text().splitlines()]
