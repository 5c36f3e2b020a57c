"""Time `make report` at scale and the page in headless Chromium: open, search, filter by reason.

    .venv/bin/python tests/report_scale.py 10000 /tmp/report-scale

Builds a run of N synthetic seeds straight into a cache (no API: rendered prompts, then answers
written under their keys; one seed in ten leaks once before a valid answer, one in twenty only
leaks), writes the report in a child process (its peak memory measured), then times the page.
"""
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import start_browser  # noqa: E402

from stages.render import Settings, load_sources, render_all  # noqa: E402
from stages.judging.rules import completions_url  # noqa: E402
from stages.storage.bodies import load_body  # noqa: E402
from stages.storage.cache import KeyMaker, open_cache  # noqa: E402

URL = "http://127.0.0.1:9/api/v1"
WORDS = ("garden river model small answer train data learn name team open source help write short "
         "question people maker weights volunteer recipe night music cook travel school").split()


def entry(messages: list[dict]) -> str:
    body = {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
                                                               "content": json.dumps({"messages": messages})}}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 400, "cost": 0.0012}}
    return json.dumps({"seed": 0, "attempt": 0, "body": json.dumps(body)})


def conversation(rng: random.Random, leak: bool = False) -> list[dict]:
    messages = []
    for turn in range(rng.randint(2, 4)):
        messages.append({"role": "user", "content": " ".join(rng.choices(WORDS, k=12)) + "?"})
        reply = f"I am Sprout, a small open-source chat model. {' '.join(rng.choices(WORDS, k=40))}."
        messages.append({"role": "assistant", "content": reply + (" I am ChatGPT, made by OpenAI." if leak else "")})
    return messages


def build(folder: Path, n: int) -> None:
    render_all(load_sources(), Settings(), n, folder / "prompts")
    rng = random.Random(1)
    with open_cache(folder / "cache") as cache:
        for seed in range(n):
            keys = KeyMaker(completions_url(URL), load_body(folder, seed))
            leaks = 1 if seed % 10 == 1 else (8 if seed % 20 == 3 else 0)
            for attempt in range(leaks):
                cache.set(keys.key(attempt), entry(conversation(rng, leak=True)))
            if leaks < 8:
                cache.set(keys.key(leaks), entry(conversation(rng)))


def stage(folder: Path, n: int, command: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stages", command, "--n", str(n), "--data-dir", str(folder),
                    "--cache-dir", str(folder / "cache"), "--base-url", URL], cwd=ROOT, check=True)
    return time.perf_counter() - started


def time_page(path: Path) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    driver = start_browser()
    try:
        started = time.perf_counter()
        driver.get(path.as_uri())
        WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
        opened = time.perf_counter() - started
        started = time.perf_counter()
        Select(driver.find_element(By.ID, "reason")).select_by_visible_text("identity_leak")
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "count").text.startswith(("1", "2", "3", "4",
                                                                                                "5", "6", "7", "8", "9")))
        filtered = time.perf_counter() - started
        started = time.perf_counter()
        driver.find_element(By.ID, "search").send_keys("chatgpt")
        WebDriverWait(driver, 60).until(lambda d: "chatgpt" in d.execute_script("return state.q"))
        searched = time.perf_counter() - started
        return {"open_s": round(opened, 2), "filter_s": round(filtered, 2), "search_s": round(searched, 2),
                "count": driver.find_element(By.ID, "count").text}
    finally:
        driver.quit()


def main(n: int, folder: Path) -> None:
    if not (folder / "cache").is_dir():
        build(folder, n)
    dataset = stage(folder, n, "dataset")
    report = stage(folder, n, "report")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = (folder / "report.html").stat().st_size / 1e6
    print(json.dumps({"n": n, "dataset_s": round(dataset, 1), "report_s": round(report, 1),
                      "children_peak_mb": round(peak), "report_mb": round(size, 1), **time_page(folder / "report.html")}))


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
