"""Download the Hindi identity dataset (not redistributed here: its source states no license),
pinned by commit and checked by SHA-256, to tests/data/real/nanohindi.jsonl.

Run `python tests/data/real/fetch_hindi.py`; it needs access to raw.githubusercontent.com.
"""
import hashlib
import sys
import urllib.request
from pathlib import Path

URL = ("https://raw.githubusercontent.com/OmuNaman/chat_hindi/"
       "1997c85d41501df5d8ae35819e22b87e146099b6/identity_conversations.jsonl")
SHA256 = "874f5d7b6b62344662fc61028983ddc1b90f3d1ffe721b59a25f28206280ddb8"
TARGET = Path(__file__).with_name("nanohindi.jsonl")


def main() -> int:
    with urllib.request.urlopen(URL, timeout=60) as answer:
        body = answer.read()
    if hashlib.sha256(body).hexdigest() != SHA256:
        print(f"{URL}: the file changed (SHA-256 differs); not saved", file=sys.stderr)
        return 1
    TARGET.write_bytes(body)
    print(f"saved {TARGET} ({len(body.splitlines())} conversations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
