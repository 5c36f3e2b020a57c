"""How requests travel: the one HTTP client, the shared throttle and budget, answer parsing, the
Batch API and prices. The planner (stages/plan.py) decides what to ask; this package sends it."""
