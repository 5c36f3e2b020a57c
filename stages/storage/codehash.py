"""A digest of this package's own source and of the Python running it.

A fingerprint that stands for "this output is up to date" includes it, so it goes stale by
itself when the code that makes the output changes: there is no version number to bump by hand.
"""
import functools
import hashlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent   # stages/, not this subpackage
# The loopback fake API is a test double: editing it cannot change a verdict, so it stays out.
NOT_DECIDING = ("fake",)


@functools.cache
def code_digest() -> str:
    """SHA-256 of every module of the package (path and bytes) and the Python version; read once."""
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in NOT_DECIDING:
            continue
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
