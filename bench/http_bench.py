"""GetRoadmap over HTTP/JSON (the Connect protocol) beside gRPC, on one server, in one run.

One `roadmap serve --http-listen` process in the shipped configuration (the engine in
2 worker processes; ``--engine-workers 0`` for in-process), the bundled reference
assessment, and the two transports taking turns in blocks of 50 calls, so that noise
on this shared machine falls on both. Each side is a plain client on a kept-alive
connection: grpcio's stub, and the standard library's ``http.client`` posting the
request's JSON (made once, as the protobuf request is) and reading the answer's. Prints
the medians and their ratio (the target: HTTP at most about 1.5x gRPC) and writes
``bench/results-http.json``.

    python -m bench.http_bench [--calls 2000] [--engine-workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "clients" / "examples" / "reference-mid-maturity.json"
RESULTS = HERE / "results-http.json"
ROADMAP = str(Path(sys.executable).parent / "roadmap")
PATH = "/roadmap.v1.RoadmapService/GetRoadmap"
BLOCK = 50
TARGET_RATIO = 1.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(engine_workers: int) -> tuple[subprocess.Popen[bytes], str, int]:
    target, http_port = f"127.0.0.1:{free_port()}", free_port()
    process = subprocess.Popen(
        [
            *(ROADMAP, "serve", "--listen", target, "--http-listen", f"127.0.0.1:{http_port}"),
            *("--engine-workers", str(engine_workers), "--log-level", "warning"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with grpc.insecure_channel(target) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=0.5
                )
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return process, target, http_port
        except grpc.RpcError:
            time.sleep(0.05)
    process.kill()
    raise TimeoutError("the server did not start")


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "calls": len(samples),
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 3),
    }


def measure(calls: int, engine_workers: int) -> dict[str, Any]:
    process, target, http_port = serve(engine_workers)
    try:
        assessment = json.loads(REFERENCE.read_text(encoding="utf-8"))
        request = pb.GetRoadmapRequest(
            assessment=json_format.ParseDict(assessment, pb.Assessment())
        )
        body = json.dumps({"assessment": assessment}).encode()
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        channel = grpc.insecure_channel(target)
        stub = pb_grpc.RoadmapServiceStub(channel)
        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)

        def over_grpc() -> None:
            stub.GetRoadmap(request, timeout=30)

        def over_http() -> None:
            connection.request("POST", PATH, body=body, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status != 200 or not answer.get("steps"):
                raise RuntimeError(f"HTTP {response.status}: {answer}")

        kinds: dict[str, Callable[[], None]] = {"grpc": over_grpc, "http_json": over_http}
        for _ in range(100):  # warm-up
            for call in kinds.values():
                call()
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(0, calls, BLOCK):
            for kind, call in kinds.items():
                for _ in range(BLOCK):
                    started = time.perf_counter()
                    call()
                    times[kind].append(time.perf_counter() - started)
        connection.close()
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    result: dict[str, Any] = {kind: summary(samples) for kind, samples in times.items()}
    result["ratio"] = round(result["http_json"]["median_ms"] / result["grpc"]["median_ms"], 2)
    result["engine_workers"] = engine_workers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls of each kind")
    parser.add_argument("--engine-workers", type=int, default=2, help="as `roadmap serve`")
    args = parser.parse_args()
    result = measure(args.calls, args.engine_workers)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = result["ratio"] <= TARGET_RATIO
    print(
        f"GetRoadmap(reference) median: HTTP/JSON {result['http_json']['median_ms']} ms, "
        f"gRPC {result['grpc']['median_ms']} ms: {result['ratio']}x "
        f"(target <= {TARGET_RATIO}x) {'PASS' if ok else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
