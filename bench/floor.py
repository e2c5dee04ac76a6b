"""Reference servers for the service benchmark: what a GetRoadmap costs at the least.

    python -m bench.floor bare    --listen 127.0.0.1:PORT --response FILE
    python -m bench.floor handler --listen 127.0.0.1:PORT --response FILE

``bare`` (the floor): a plain grpc server, same grpc and thread pool size as
``roadmap serve``, whose GetRoadmap answers the bytes in FILE (a real response,
serialised once beforehand). What sending the answer costs, and no more.

``handler`` (the handler floor): ``roadmap serve``'s own stack (``server.app.Server``:
its options, ``add_to_server``'s request decoding, the handler wrapper's gate, trailing
metadata, metrics and log) whose GetRoadmap answers the message in FILE, parsed once
beforehand. The difference to the floor is the cost of our stack around the engine.
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from roadmap.v1 import roadmap_pb2 as pb

from server import app, service
from server.config import Config


def bare(listen: str, response: bytes) -> None:
    threads = next(f.default for f in dataclasses.fields(Config) if f.name == "threads")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))

    def answer(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        return response

    handler = grpc.unary_unary_rpc_method_handler(answer)  # bytes in, bytes out
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.SERVICE_NAME, {"GetRoadmap": handler}),)
    )
    server.add_insecure_port(listen)
    server.start()
    threading.Event().wait()


def handler(listen: str, response: bytes) -> None:
    answer = pb.GetRoadmapResponse.FromString(response)

    class Precomputed(service.RoadmapService):
        @service._unary(service._unit, prefix=("assessment",))  # the wrapper itself
        def GetRoadmap(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
            return answer

    app.RoadmapService = Precomputed  # type: ignore[misc]
    parser = argparse.ArgumentParser()
    from server.config import add_arguments, from_namespace  # noqa: PLC0415

    add_arguments(parser)
    args = parser.parse_args(
        ["--listen", listen, "--engine-workers", "0", "--log-level", "warning"]
    )
    app.serve(from_namespace(args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["bare", "handler"])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--response", type=Path, required=True)
    args = parser.parse_args()
    {"bare": bare, "handler": handler}[args.kind](args.listen, args.response.read_bytes())


if __name__ == "__main__":
    main()
