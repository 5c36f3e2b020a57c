"""How requests travel: the HTTP client, the shared throttle and budget, answer parsing, and the
loopback fake API. The commands in `stages/` decide what to ask; this package sends it."""
