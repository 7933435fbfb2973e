# Two commands do all the set-up on a fresh machine with only Python:
#   make demo    run the order workflow end to end on a real Redis and a real Celery worker
#   make test    run the test suite
# Both go through `make setup` (idempotent): .venv with the project and its dev extras,
# and a redis-server binary.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test test-fast lint typecheck bench chaos chaos-rabbitmq chaos-cluster multihost stop clean worker flower fuzz

setup: $(STAMP)
	@scripts/ensure-redis.sh
	@scripts/ensure-system-deps.sh
	@scripts/ensure-rabbitmq.sh || echo "rabbitmq-server is missing: the RabbitMQ tests will be skipped" >&2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/sfn run workflows/order_processing.asl.json --input '{"orderId": "12345"}'

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not redis and not worker" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check engine tasks workflows tests worker.py multihost

typecheck: setup
	$(BIN)/mypy engine tasks worker.py multihost

# Property-based fuzz (tests/test_fuzz.py) of the HTTP API, the definition loader and the
# interpreter, longer than the pass in `make test`: FUZZ_EXAMPLES per property (default
# 3000), new random examples each run; prints requests/definitions/executions, crashes, hangs.
fuzz: setup
	SFN_FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),3000) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/test_fuzz.py

# Fault injection: Redis (AOF) + 3 workers, a few hundred executions while workers are
# SIGKILLed, Redis is restarted and messages are duplicated. QUICK=1: the 1-2 minute run.
chaos: setup
	$(BIN)/python -m chaos $(if $(QUICK),--quick)

# The same run with RabbitMQ as the broker (the store on Redis), RabbitMQ restarted at the
# restart points instead of Redis (needs rabbitmq-server: scripts/ensure-rabbitmq.sh).
chaos-rabbitmq: setup
	$(BIN)/python -m chaos --topology rabbitmq $(if $(QUICK),--quick)

# The same run with the store on a 6-node Redis Cluster (3 primaries, 3 replicas; commits
# WAIT for a replica) and a plain Redis as the broker; at the restart points a primary is
# SIGKILLed and its replica takes over (docs/fleets.md).
chaos-cluster: setup
	$(BIN)/python -m chaos --topology cluster $(if $(QUICK),--quick)

# Several hosts on this machine (multihost/, needs root): Redis, the API and two worker
# hosts in network namespaces on a bridge (10.203.0.0/24, only addresses it creates), the
# chaos workload through the API, one worker host cut off mid-run and brought back.
# QUICK=1: the short run (also run by tests/test_multihost_quick.py). Cleans up after itself;
# `$(BIN)/python -m multihost --clean` removes what a SIGKILLed run left.
multihost: setup
	@scripts/ensure-iproute2.sh
	$(BIN)/python -m multihost $(if $(filter-out 0,$(QUICK)),--quick)

# Engine and plain Celery side by side (bench/): `make bench`, or `make bench QUICK=1` for a
# tiny run that only proves the harness works. Results: bench/results/*.json.
bench: setup
	$(BIN)/python -m bench $(if $(filter-out 0,$(QUICK)),--quick) $(BENCH_ARGS)

worker: setup
	$(BIN)/celery -A worker worker -Q sfn -n "worker-$$$$@%h" --loglevel INFO

flower: setup
	$(BIN)/celery -A worker flower

# Stop the project's embedded redis-server and the workers started for it (`sfn down`);
# its data stay in .sfn/. Without a .venv there is no sfn, and nothing of ours to stop.
stop:
	@if [ -x $(BIN)/sfn ]; then $(BIN)/sfn down; fi

# Stops first: deleting .sfn/ under a running redis-server would orphan it.
clean: stop
	rm -rf .sfn .pytest_cache

# System programs of the web view (scripts/ensure-system-deps.sh installs only what is
# missing): Graphviz, which lays out the /ui/ graphs, and Chromium for the browser tests.
system-deps:
	@scripts/ensure-system-deps.sh
