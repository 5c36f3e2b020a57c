"""Download the real identity datasets that are measured but not stored here (their sources state
no license, or one whose terms we do not copy in), each pinned by commit and checked by SHA-256,
into tests/data/real/<name>.jsonl. `python tests/leak_scores.py` and `python tests/real_replay.py`
then include them. Needs access to raw.githubusercontent.com.

Run `python tests/data/real/fetch.py` (all) or `python tests/data/real/fetch.py nanohindi`.
"""
import hashlib
import sys
import urllib.request
from pathlib import Path

RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
# name -> (repository, commit, path, SHA-256 of the file)
SOURCES = {
    "nanohindi": ("OmuNaman/chat_hindi", "1997c85d41501df5d8ae35819e22b87e146099b6", "identity_conversations.jsonl",
                  "874f5d7b6b62344662fc61028983ddc1b90f3d1ffe721b59a25f28206280ddb8"),
    "nanochat_harness": ("leolbyy/chat", "3b2705b7dcf17aa6c0c86cc382ee55c72a8fada9", "identity_conversations.jsonl",
                         "9dec1e4f5c1d4fd81f59a676f7f6f934edf19ffbe9342eae53dc90fb10d45392"),
    "snout_gemini": ("ljt019/nanochat", "4734d5da439b3ad76ee3dc8c91cf97f0401241c8", "identity_conversations.jsonl",
                     "9ba00c79a3d7b0fd2e8c57e638fd455d70eccdbf8d1e3fa2a50446adc0c6944e"),
    "omnimind_gemini3": ("the15thwiseone/omni-mind", "e363319f3dfb4f9254c7c7669bf35a290dbd7aeb",
                         "identity_conversations.jsonl",
                         "a613e73ffbfb4d9fa59e22ba4d5fb88806b43be5a1007e55c0aefc956f1acd3a"),
    "picochat": ("sushanthr/SLM270", "700c0953124f30344c2da49ce7ae3ef8618bebc8", "identity_conversations.jsonl",
                 "76ab9ae29e87b4500380fd0559e6f560d529a2aa2fbc9ac876a82ffd16668e2b"),
}


def fetch(name: str) -> str:
    repo, commit, path, digest = SOURCES[name]
    url = RAW.format(repo=repo, commit=commit, path=path)
    with urllib.request.urlopen(url, timeout=60) as answer:
        body = answer.read()
    if hashlib.sha256(body).hexdigest() != digest:
        return f"{url}: the file differs from the one measured (SHA-256); not saved"
    target = Path(__file__).with_name(f"{name}.jsonl")
    target.write_bytes(body)
    return f"saved {target} ({len(body.splitlines())} conversations)"


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        print(f"unknown datasets {unknown}; choose from {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    for name in names or SOURCES:
        print(fetch(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
