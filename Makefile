# Roadmap Engine: every target bootstraps what it needs on a fresh machine.
# `make run` starts on the bundled rule base; `make test` runs the suite (what CI runs).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROTOS := $(shell find proto -name '*.proto')
GEN    := gen/.generated-stamp
NODE   := clients/node/node_modules/.package-lock.json

.PHONY: all venv gen chromium test lint run rules-check bench bench-long soak fuzz release-contract examples clean

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else "Python 3.11 or 3.12 is required (durable-rules does not import on 3.13); set PYTHON=")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@mkdir -p gen/roadmap/v1  # must exist when the package is installed (namespace roadmap.v1)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Generated protobuf and gRPC code, never edited by hand, never committed.
$(GEN): $(STAMP) $(PROTOS)
	rm -rf gen/roadmap && mkdir -p gen/roadmap/v1
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=gen --grpc_python_out=gen \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_out=gen \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --mypy_grpc_out=gen $(PROTOS)
	@touch $@

# The Node.js client's dependencies (npm registry), exactly as locked.
$(NODE): clients/node/package.json clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Headless Chromium renders the HTML roadmap in the tests (Debian's package; CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the HTML tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

venv: $(STAMP)

gen: $(GEN)

# Coverage of engine/, contract/, server/ and clients/ as the pytest process runs them
# (servers and CLIs the tests start as processes are not traced): reported with the lines
# missed, and the run fails below the floor.
COVERAGE_FLOOR := 61

test: $(GEN) $(NODE) chromium
	$(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered \
		--cov-fail-under=$(COVERAGE_FLOOR)

# Minutes of load: 64 callers, every fault test scaled up, and a steady run checking that
# memory, descriptors, threads and processes stay flat (ROADMAP_SOAK_SECONDS, default 180).
soak: $(GEN)
	ROADMAP_FAULT_CALLERS=$${ROADMAP_FAULT_CALLERS:-64} ROADMAP_FAULT_SECONDS=$${ROADMAP_FAULT_SECONDS:-20} \
		$(BIN)/python -m pytest -m "soak or not soak" -o timeout=1800 -s -q tests/test_faults.py

# Many more fuzz cases than `make test` runs (ROADMAP_FUZZ_EXAMPLES per method and kind).
fuzz: $(GEN)
	ROADMAP_FUZZ_EXAMPLES=$${ROADMAP_FUZZ_EXAMPLES:-5000} \
		$(BIN)/python -m pytest -o timeout=3600 -s -q tests/test_fuzz.py

lint: $(GEN)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/buf lint
	$(BIN)/buf breaking --against proto/released/roadmap-v1.binpb
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict deploy/kubernetes/*.yaml

# The rendered example the README links (a test checks it is current).
examples: $(GEN)
	$(BIN)/roadmap plan --format html -o clients/examples/reference-mid-maturity.html \
		clients/examples/reference-mid-maturity.json

# Record the current contract as released: `buf breaking` guards it from then on.
release-contract: $(STAMP)
	$(BIN)/buf build -o proto/released/roadmap-v1.binpb

rules-check: $(STAMP)
	$(BIN)/roadmap rules check rules

# Serve the bundled rule base on 127.0.0.1:50051 (ROADMAP_LISTEN to change), show the
# roadmap of a bundled example through the service, then keep serving until Ctrl-C.
run: $(GEN)
	@$(BIN)/roadmap rules check rules
	@$(BIN)/roadmap serve & server=$$!; \
	trap 'kill -TERM $$server 2>/dev/null; wait $$server' INT TERM; \
	$(BIN)/roadmap plan --target "$${ROADMAP_LISTEN:-127.0.0.1:50051}" --wait 15 --format table \
		clients/examples/reference-mid-maturity.json || { kill -TERM $$server; exit 1; }; \
	echo "serving on $${ROADMAP_LISTEN:-127.0.0.1:50051} (Ctrl-C stops)"; \
	wait $$server

# Benchmarks (minutes; not part of `make test`). Engine micro-benchmark
# (bench/results-engine.json), then real servers and clients (bench/results.json).
bench: $(GEN)
	$(BIN)/python -m bench.engine_bench
	$(BIN)/python -m bench.service_bench

# The same, with server memory measured after 100,000 evaluations (about 10 more minutes).
bench-long: $(GEN)
	$(BIN)/python -m bench.service_bench --long

clean:
	rm -rf $(VENV) gen clients/node/node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
