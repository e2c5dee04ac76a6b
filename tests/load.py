"""A load generator for fault tests: callers in threads, each on its own connection.

Every call is recorded (its status, its latency, the rule base version it names), so
a test asserts on counts: sent, succeeded, failed per status, retried and recovered.
Used with a few callers for seconds in `make test`, and 64 callers for minutes in
`make soak`.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.client import RoadmapClient, ServiceError

if TYPE_CHECKING:
    from collections.abc import Callable

REFERENCE = json_format.Parse(
    (
        Path(__file__).resolve().parent.parent
        / "clients"
        / "examples"
        / "reference-mid-maturity.json"
    ).read_text(),
    pb.Assessment(),
)


@dataclass
class Report:
    sent: int = 0
    ok: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    retried: int = 0  # calls that failed, were sent again by the caller, and succeeded
    latencies: list[float] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    complaints: list[str] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[int(0.99 * (len(ordered) - 1))] * 1000

    def summary(self) -> str:
        return (
            f"sent {self.sent}, ok {self.ok}, failed {dict(self.failed)}, retried-ok "
            f"{self.retried}, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"versions {dict(self.versions)}"
        )


class Load:
    """``callers`` threads calling GetRoadmap in a loop until :meth:`stop`."""

    def __init__(
        self,
        target: str,
        callers: int,
        *,
        request: pb.Assessment = REFERENCE,
        retry_once: bool = False,
        check: Callable[[pb.GetRoadmapResponse], str | None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.request = request
        self.retry_once = retry_once
        self.check = check
        self.timeout = timeout
        self.report = Report()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"caller-{n}", daemon=True)
            for n in range(callers)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Report:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return self.report

    def wait_calls(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` more calls have succeeded (the load is really flowing)."""
        goal = self.report.ok + count
        deadline = time.monotonic() + timeout
        while self.report.ok < goal:
            assert time.monotonic() < deadline, f"load stalled: {self.report.summary()}"
            time.sleep(0.01)

    def _record(self, response: pb.GetRoadmapResponse, started: float) -> None:
        complaint = self.check(response) if self.check else None
        with self._lock:
            self.report.ok += 1
            self.report.latencies.append(time.perf_counter() - started)
            self.report.versions[response.rule_base.version] += 1
            if complaint:
                self.report.complaints.append(complaint)

    def _run(self) -> None:
        with RoadmapClient(self.target, timeout=self.timeout) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                with self._lock:
                    self.report.sent += 1
                try:
                    response = client.get_roadmap(self.request)
                except ServiceError as exc:
                    with self._lock:
                        self.report.failed[exc.code.name] += 1
                    if not self.retry_once or exc.code != grpc.StatusCode.UNAVAILABLE:
                        continue
                    try:
                        # Sent again once the connection is back: after a server worker
                        # is killed, a channel fails fast until gRPC has reconnected
                        # (its reconnect back-off outlasts the client's retry policy).
                        response = client.stub.GetRoadmap(
                            pb.GetRoadmapRequest(assessment=self.request),
                            timeout=self.timeout,
                            wait_for_ready=True,
                        )
                    except grpc.RpcError as error:
                        again = ServiceError.from_rpc_error(error)
                        with self._lock:
                            self.report.failed[f"{again.code.name} (retried)"] += 1
                        continue
                    with self._lock:
                        self.report.retried += 1
                self._record(response, started)
