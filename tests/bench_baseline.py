"""The yardstick `make bench` holds fetch against: the one-off script this tool replaces.

`python -m stages.fake.baseline PROMPT_DIR URL N WORKERS` posts the bodies of seeds 0..N-1 to URL from a
thread pool, one requests session per thread, and keeps the answers in memory: no cache, no
checks, no retries. Deliberately bare, so the comparison shows what fetch's extra work costs.
"""
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

local = threading.local()


def post(url: str, body: dict) -> str:
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return local.session.post(url, json=body, headers={"Authorization": "Bearer bench"}, timeout=60).text


def main(prompt_dir: str, url: str, n: str, workers: str) -> None:
    bodies = [json.loads(Path(prompt_dir, f"{seed}.json").read_text(encoding="utf-8")) for seed in range(int(n))]
    with ThreadPoolExecutor(int(workers)) as pool:
        answers = list(pool.map(lambda body: post(url, body), bodies))
    print(f"baseline: {len(answers)} answers", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
