"""What the planner hands a transport: one request to send, and where its answer is cached."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Ask:
    """One request fetch wants answered, and where its answer is cached."""
    seed: int
    kind: str          # "conversation" or "judge": two bodies, one path
    attempt: int
    url: str
    body: dict
    key: str
