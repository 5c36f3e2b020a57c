"""Judging answers: the rules a conversation must pass (schema, role order, leaks, the judge) and
what the kept data teaches (fidelity, per-model numbers)."""
