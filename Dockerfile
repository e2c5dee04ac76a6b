# Roadmap Engine: the gRPC service with the bundled rule base.
#   docker build -t roadmap-engine .
#   docker run -p 50051:50051 roadmap-engine
#   docker run -p 50051:50051 -v "$PWD/my-rules:/rules:ro" -e ROADMAP_RULES=/rules roadmap-engine

FROM python:3.11-slim AS build
# durable-rules compiles a C extension.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc=4:12.* libc6-dev=2.36-* \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine engine
COPY contract contract
COPY server server
COPY clients/__init__.py clients/backend.py clients/cli.py clients/client.py clients/launch.py clients/render.py clients/
COPY proto proto
COPY rules rules
RUN python -m venv /opt/venv \
 && mkdir -p gen/roadmap/v1 \
 && /opt/venv/bin/pip install --no-cache-dir -e . \
 && /opt/venv/bin/python -m grpc_tools.protoc -Iproto --python_out=gen --grpc_python_out=gen proto/roadmap/v1/roadmap.proto

FROM python:3.11-slim
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin roadmap
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ROADMAP_LISTEN=0.0.0.0:50051 \
    ROADMAP_RULES=/app/rules
USER 10001
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["roadmap", "health", "--target", "127.0.0.1:50051"]
ENTRYPOINT ["roadmap", "serve"]
