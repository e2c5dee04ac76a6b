"""Callers of three kinds for the shutdown tests, none of them ours and none retrying:
plain grpcio stubs, Node.js's @grpc/grpc-js (``tests/node_callers.js``) and `buf curl`
(Go). Each records, for every GetRoadmap it sends, when it sent it (wall clock, to compare
with the server's log) and the status it got, so a test can count the statuses of the
calls sent before and after a signal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from tests.load import REFERENCE

if TYPE_CHECKING:
    from collections.abc import Callable

REPO = Path(__file__).resolve().parent.parent
BUF = str(Path(sys.executable).parent / "buf")
NODE_CALLERS = REPO / "tests" / "node_callers.js"
EXAMPLE = REPO / "clients" / "examples" / "reference-mid-maturity.json"
TIMEOUT = 10.0


@dataclass
class Calls:
    """Every call one kind of caller sent: (sent at, status name)."""

    kind: str
    sent: list[tuple[float, str]] = field(default_factory=list)
    said: dict[str, str] = field(default_factory=dict)  # a message per status other than OK

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        return Counter(status for at, status in self.sent if since <= at < until)

    def summary(self, stopping: float) -> str:
        """Counts of the calls sent before and after ``stopping`` (the server's log line)."""
        before = dict(self.statuses(until=stopping))
        after = dict(self.statuses(since=stopping))
        said = {status: message for status, message in self.said.items() if status != "UNAVAILABLE"}
        return f"{self.kind}: {len(self.sent)} calls; before stopping {before}, after {after}" + (
            f"; messages {said}" if said else ""
        )


class _Threads:
    """``callers`` threads, each running ``_call`` in a loop until :meth:`stop`."""

    kind = ""

    def __init__(self, callers: int) -> None:
        self.calls = Calls(self.kind)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(callers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_answered(self, timeout: float) -> None:
        """Until one call got its answer (the load is really flowing)."""
        deadline = time.monotonic() + timeout
        while not self.calls.statuses()["OK"]:
            assert time.monotonic() < deadline, f"{self.kind}: no answer: {self.calls.sent[-5:]}"
            time.sleep(0.02)

    def stop(self) -> Calls:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 20)
        return self.calls

    def _run(self) -> None:
        raise NotImplementedError

    def _record(self, sent: float, status: str, message: str = "") -> None:
        with self._lock:
            self.calls.sent.append((sent, status))
            if message:
                self.calls.said.setdefault(status, message[:300])


class GrpcioCallers(_Threads):
    """Threads, each on its own connection, calling a plain stub (no retry policy)."""

    kind = "grpcio"

    def __init__(self, target: str, callers: int) -> None:
        super().__init__(callers)
        self._target = target

    def _run(self) -> None:
        options = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own
        request = pb.GetRoadmapRequest(assessment=REFERENCE)
        with grpc.insecure_channel(self._target, options=options) as channel:
            stub = pb_grpc.RoadmapServiceStub(channel)
            while not self._stop.is_set():
                sent = time.time()
                try:
                    stub.GetRoadmap(request, timeout=TIMEOUT)
                except grpc.RpcError as error:
                    self._record(sent, error.code().name, str(error.details()))
                else:
                    self._record(sent, "OK")


class NodeCallers:
    """A Node.js process with ``callers`` loops, each on its own connection."""

    kind = "node"

    def __init__(self, target: str, callers: int) -> None:
        self.calls = Calls(self.kind)
        self._args = ["node", str(NODE_CALLERS), target, str(callers), str(EXAMPLE)]
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        assert self._process.stdout.readline().strip() == "started"

    def wait_answered(self, timeout: float) -> None:
        """Until one call got its answer (its line is read with a deadline)."""
        assert self._process is not None
        assert self._process.stdout is not None
        timer = threading.Timer(timeout, self._process.kill)
        timer.start()
        try:
            assert self._process.stdout.readline().strip() == "answered", "node: no answer"
        finally:
            timer.cancel()

    def stop(self) -> Calls:
        assert self._process is not None
        out, _ = self._process.communicate(timeout=TIMEOUT + 20)  # closes its stdin
        assert self._process.returncode == 0, out
        last = out.strip().splitlines()[-1]
        for at, status, message in json.loads(last):
            self.calls.sent.append((at / 1000, status))
            if message:
                self.calls.said.setdefault(status, message[:300])
        return self.calls


class BufCurlCallers(_Threads):
    """Threads, each running `buf curl` (Go, connect-go) in a loop: a process per call."""

    kind = "buf curl"

    def __init__(self, target: str, callers: int, workdir: Path) -> None:
        super().__init__(callers)
        schema = workdir / "roadmap.binpb"  # compiled once: each call then starts faster
        if not schema.exists():
            subprocess.run(
                [BUF, "build", "proto", "-o", str(schema)], cwd=REPO, check=True, timeout=120
            )
        request = workdir / "request.json"
        request.write_text(json.dumps({"assessment": json.loads(EXAMPLE.read_text())}))
        self._args = [
            *(BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge"),
            *("--schema", str(schema), "--data", f"@{request}"),
            f"http://{target}/roadmap.v1.RoadmapService/GetRoadmap",
        ]

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.time()
            result = subprocess.run(
                self._args, capture_output=True, text=True, timeout=TIMEOUT + 20, check=False
            )
            if result.returncode == 0:
                self._record(sent, "OK")
            else:
                self._record(sent, _connect_status(result.stderr), result.stderr.strip())


def _connect_status(stderr: str) -> str:
    """The gRPC status name of `buf curl`'s error (it prints connect's JSON error)."""
    try:
        code = str(json.loads(stderr)["code"])
    except (ValueError, KeyError, TypeError):
        return f"no status: {stderr.strip()[:200]}"
    return "CANCELLED" if code == "canceled" else code.upper()


def every_kind(target: str, callers: int, workdir: Path) -> list[Callable[[], Calls]]:
    """Start one group of each kind on ``target`` and wait until each has had an answer;
    their ``stop`` functions."""
    groups = [
        GrpcioCallers(target, callers),
        NodeCallers(target, callers),
        BufCurlCallers(target, min(8, max(1, callers // 2)), workdir),  # a process per call
    ]
    for group in groups:
        group.start()
    try:
        for group in groups:
            group.wait_answered(timeout=30)
    except BaseException:
        for group in groups:
            group.stop()
        raise
    return [group.stop for group in groups]
