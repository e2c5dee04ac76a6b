# Roadmap Engine: every target bootstraps what it needs on a fresh machine.
# `make run` starts on the bundled rule base; `make test` runs the suite (what CI runs).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROTOS := $(shell find proto -name '*.proto')
GEN    := gen/.generated-stamp
NODE   := clients/node/node_modules/.package-lock.json

.PHONY: all venv gen chromium test lint run rules-check bench bench-long soak fuzz release-contract examples schema image clean

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else "Python 3.11 or 3.12 is required (durable-rules does not import on 3.13); set PYTHON=")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@mkdir -p gen/roadmap/v1  # must exist when the package is installed (namespace roadmap.v1)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Generated code, never edited by hand, never committed: the protobuf and gRPC modules,
# and the rule files' schema validators (compiled once here, not at every server start).
$(GEN): $(STAMP) $(PROTOS) $(wildcard rules/schema/*.schema.json)
	rm -rf gen/roadmap && mkdir -p gen/roadmap/v1
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=gen --grpc_python_out=gen \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_out=gen \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --mypy_grpc_out=gen $(PROTOS)
	$(BIN)/python -m engine.rulefiles gen/roadmap/schemas >/dev/null
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
		$(BIN)/python -m pytest -m "soak or not soak" -o timeout=1800 -s -q tests/test_faults.py tests/test_shutdown.py

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

# The JSON Schema of assessment files, generated from proto/ (a test checks it is current).
schema: $(STAMP)
	$(BIN)/python -m clients.assessment_schema proto/schema/assessment.schema.json

# Record the current contract as released: `buf breaking` guards it from then on.
release-contract: $(STAMP)
	$(BIN)/buf build -o proto/released/roadmap-v1.binpb

rules-check: $(STAMP)
	$(BIN)/roadmap rules check rules

# Serve the bundled rule base on 127.0.0.1:50051 (ROADMAP_LISTEN to change), with
# HTTP/JSON and the web app on 127.0.0.1:8080 (ROADMAP_HTTP_LISTEN), show the
# roadmap of a bundled example fetched from that server, then serve (and show its log)
# until Ctrl-C or SIGTERM, and exit 0. It waits for its own server's "serving" log line,
# never for the port, so it never queries a server it did not start: an address in use
# stops it at once, with a message. `set -m` gives the server and the log their own
# process groups: Ctrl-C at a terminal reaches this recipe and not make (make would
# end killed by SIGINT, whatever the recipe does) nor the server (stopped by the trap).
run: $(GEN)
	@$(BIN)/roadmap rules check rules
	@set -m 2>/dev/null; address="$${ROADMAP_LISTEN:-127.0.0.1:50051}"; log=$$(mktemp); tail=; \
	http="$${ROADMAP_HTTP_LISTEN:-127.0.0.1:8080}"; \
	$(BIN)/roadmap serve --listen "$$address" --http-listen "$$http" >"$$log" 2>&1 & server=$$!; \
	trap 'kill -TERM $$server 2>/dev/null; wait $$server; code=$$?; [ -z "$$tail" ] || wait $$tail; \
		rm -f "$$log"; exit $$code' INT TERM; \
	until grep -q '"event": "serving"' "$$log"; do \
		if ! kill -0 $$server 2>/dev/null; then \
			wait $$server; code=$$?; cat "$$log" >&2; rm -f "$$log"; \
			if [ $$code = 3 ]; then \
				echo "make run: cannot serve on $$address and $$http (one is in use, or not an address of" \
					"this machine): nothing was queried; choose others with ROADMAP_LISTEN=HOST:PORT" \
					"and ROADMAP_HTTP_LISTEN=HOST:PORT" >&2; fi; \
			exit $$code; fi; \
		sleep 0.1; \
	done; \
	$(BIN)/roadmap plan --target "$$address" --format table clients/examples/reference-mid-maturity.json \
		|| { kill -TERM $$server; wait $$server; rm -f "$$log"; exit 1; }; \
	echo "serving gRPC on $$address; the web app and HTTP/JSON on http://$$http/ (Ctrl-C stops)"; \
	tail -s 0.2 -n +1 -f --pid=$$server "$$log" & tail=$$!; \
	wait $$server; code=$$?; wait $$tail; rm -f "$$log"; exit $$code

# The container image, built and proven here with no registry and no Docker daemon
# (minutes; not part of `make test`; needs root and Debian's package mirror). podman,
# debootstrap and runc come from Debian if missing; the base is Debian bookworm with
# python3.11, made once with debootstrap ($(IMAGE_BASE)); the Dockerfile is built on it
# (pip reaches its registry through the host's network and CA bundle). Then the image
# runs as it ships (listening on 0.0.0.0:50051, published on a free loopback port), its
# own HEALTHCHECK command must say SERVING, GetRoadmap is called through it, and SIGTERM
# must stop it with exit 0 after the drain.
IMAGE      ?= localhost/roadmap-engine:dev
IMAGE_BASE ?= localhost/bookworm-python:3.11
PODMAN     := podman --storage-driver vfs --runtime runc
CONTAINER  := --ulimit nofile=1024:1024 --ulimit nproc=4096:4096

image: $(GEN)
	@command -v podman >/dev/null && command -v debootstrap >/dev/null && command -v runc >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap runc >/dev/null; }
	@$(PODMAN) image exists $(IMAGE_BASE) || { \
		echo "making $(IMAGE_BASE): Debian bookworm (debootstrap) with python3.11"; \
		root=$$(mktemp -d) && trap 'rm -rf "$$root"' EXIT && \
		debootstrap --variant=minbase bookworm "$$root" http://deb.debian.org/debian >/dev/null && \
		chroot "$$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends python3.11 python3.11-venv python3.11-dev >/dev/null; rm -rf /var/lib/apt/lists/*' && \
		tar -C "$$root" -c . | $(PODMAN) import - $(IMAGE_BASE) >/dev/null; }
	$(PODMAN) build --format docker --network host $(CONTAINER) -v /etc/ssl/certs:/etc/ssl/certs:ro \
		--build-arg BASE=$(IMAGE_BASE) --build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt -t $(IMAGE) .
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	name=roadmap-image-$$$$; \
	trap '$(PODMAN) rm -f $$name >/dev/null 2>&1' EXIT; \
	$(PODMAN) run -d --name $$name --health-interval=disable $(CONTAINER) -p 127.0.0.1:$$port:50051 $(IMAGE) \
		>/dev/null 2>&1 || { echo "image: the container did not start" >&2; exit 1; }; \
	tries=0; until $(PODMAN) healthcheck run $$name >/dev/null 2>&1; do \
		tries=$$((tries + 1)); \
		[ $$tries -lt 60 ] || { $(PODMAN) logs $$name >&2; echo "image: not healthy after 60 s" >&2; exit 1; }; \
		sleep 1; \
	done; \
	echo "image: $(IMAGE) healthy (its HEALTHCHECK, at ROADMAP_LISTEN=0.0.0.0:50051)"; \
	$(BIN)/roadmap plan --target 127.0.0.1:$$port --format table clients/examples/reference-mid-maturity.json \
		|| { $(PODMAN) logs $$name >&2; exit 1; }; \
	$(PODMAN) stop -t 30 $$name >/dev/null 2>&1; \
	code=$$($(PODMAN) inspect $$name --format '{{.State.ExitCode}}'); \
	$(PODMAN) logs $$name 2>&1 | grep -E '"event": "(signal|stopping|stopped)"'; \
	[ "$$code" = 0 ] || { echo "image: exit $$code after SIGTERM" >&2; exit 1; }; \
	echo "image: GetRoadmap answered through the container; SIGTERM stopped it with exit 0"

# Benchmarks (minutes; not part of `make test`). Engine micro-benchmark
# (bench/results-engine.json), then real servers and clients (bench/results.json).
# Bytecode is compiled first, as the image does, so cold starts are a deployment's.
bench: $(GEN)
	$(BIN)/python -m compileall -q engine contract server clients gen >/dev/null
	$(BIN)/python -m bench.engine_bench
	$(BIN)/python -m bench.service_bench
	$(BIN)/python -m bench.http_bench

# The same, with server memory measured after 100,000 evaluations (about 10 more minutes).
bench-long: $(GEN)
	$(BIN)/python -m compileall -q engine contract server clients gen >/dev/null
	$(BIN)/python -m bench.service_bench --long

clean:
	rm -rf $(VENV) gen clients/node/node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
