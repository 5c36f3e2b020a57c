"""Identity conversations for small chat models: prompts -> fetch -> validate -> dataset.

`python -m stages --help` lists the commands. The layers, each importing only those below it:
- commands/: one module per `make` target (the click command and what only it needs);
- plan.py, draw.py, elsewhere.py, config.py, localserver.py: what several commands share (what
  to ask next, the stable draws, where other answers are, the options, a real local model server);
- judging/: the rules an answer must pass and what the data teaches (checks, leaks, judge, fidelity);
- transport/: how requests travel (the one HTTP client, throttle, budget, Batch API, prices);
- storage/: the cache and the files on disk;
- fake/: the loopback fake API and the bare baseline script, for tests, `make demo` and `make bench`.
"""
