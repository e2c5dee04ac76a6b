# Roadmap Engine: the gRPC service with the bundled rule base.
#   docker build -t roadmap-engine .
#   docker run -p 50051:50051 roadmap-engine
#   docker run -p 50051:50051 -v "$PWD/my-rules:/rules:ro" -e ROADMAP_RULES=/rules roadmap-engine
#   make image    # no registry at hand: builds on Debian's own packages, runs and calls it
#
# The base is Debian bookworm, the release the apt pins below belong to (gcc 4:12,
# libc6-dev 2.36; trixie, today's python:3.11-slim, has neither): python:3.11-slim-bookworm
# at the digest docker-library/repo-info records for it (multi-platform index; Python
# 3.11.16, bookworm as of 2026-08-24). That digest could not be pulled from the machine
# this was written on (no registry reachable); tests/test_deploy.py checks that the tag's
# release and the pins agree. BASE may be any Debian bookworm image with python3.11, its
# venv module and headers (`make image` makes one with debootstrap).
ARG BASE=python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

FROM ${BASE} AS build
# durable-rules compiles a C extension.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc=4:12.* libc6-dev=2.36-* \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY contract contract
COPY server server
# The `roadmap` command (the console script) with the whole Python client package:
# .dockerignore leaves out the Node.js client and the examples.
COPY clients clients
COPY proto proto
COPY rules rules
# Bytecode is compiled here: the image's user cannot write it beside the sources, so
# without this every start would compile every module again (about 0.2 s). So are the
# rule files' schema validators (`make gen` does the same).
# PIP_CERT: a CA bundle for pip, where a proxy re-signs TLS (set by `make image`).
ARG PIP_CERT
RUN python3.11 -m venv /opt/venv \
 && mkdir -p gen/roadmap/v1 \
 && /opt/venv/bin/pip install --no-cache-dir -e . \
 && /opt/venv/bin/python -m grpc_tools.protoc -Iproto --python_out=gen --grpc_python_out=gen proto/roadmap/v1/roadmap.proto \
 && /opt/venv/bin/python -m engine.rulefiles gen/roadmap/schemas \
 && /opt/venv/bin/python -m compileall -q engine contract server clients gen

FROM ${BASE}
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin roadmap
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ROADMAP_LISTEN=0.0.0.0:50051 \
    ROADMAP_RULES=/app/rules
USER 10001
EXPOSE 50051
# The address the server listens on (ROADMAP_LISTEN, as `docker run -e` may set it), a
# wildcard host (0.0.0.0, [::], none) read as loopback; unix:PATH as it is.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["sh", "-c", "listen=${ROADMAP_LISTEN:-127.0.0.1:50051}; case $listen in 0.0.0.0:*|'[::]':*|:*) listen=127.0.0.1:${listen##*:} ;; esac; exec roadmap health --target \"$listen\""]
ENTRYPOINT ["roadmap", "serve"]
