"""SIGTERM under load never costs a caller a CANCELLED.

Callers that are not ours and do not retry (plain grpcio, Node.js's @grpc/grpc-js, `buf
curl`) call GetRoadmap in loops while the server is told to stop, twice (the second
signal lands during the drain). Every call sent before the signal ends with its answer
or UNAVAILABLE; every call sent once the server logged ``stopping`` ends UNAVAILABLE
(refused by the gate, on a dropped connection, or refused a connection); nothing else.

`make test` runs a few rounds with a few callers; `make soak` (``soak`` marker) many
rounds with more callers, with one and with two worker processes
(ROADMAP_SHUTDOWN_ROUNDS, ROADMAP_FAULT_CALLERS).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from tests.callers import GrpcioCallers, every_kind
from tests.server_process import ServerProcess, free_port

if TYPE_CHECKING:
    from pathlib import Path

    from tests.callers import Calls

LOAD_SECONDS = 1.0
#: A call sent this long after the server logged ``stopping`` cannot have reached a
#: handler before the gate closed (the log line comes just before it closes).
AFTER_STOPPING = 0.05
ANSWER_OR_UNAVAILABLE = {"OK", "UNAVAILABLE"}


def sigterm_under_load(
    tmp_path: Path, callers: int, *args: str, listen: str = "127.0.0.1:0"
) -> tuple[list[Calls], tuple[float, float]]:
    """One round: a server, callers of every kind, SIGTERM twice; every call, and when
    the server logged ``stopping`` (wall clock; the first and the last worker)."""
    server = ServerProcess(tmp_path, "--grace-seconds", "5", *args, listen=listen)
    try:
        server.wait_serving()
        stops = every_kind(server.target, callers, tmp_path)
        try:
            time.sleep(LOAD_SECONDS)
            server.signal(signal.SIGTERM)
            time.sleep(0.1)
            server.signal(signal.SIGTERM)  # during the drain: changes nothing
            code = server.wait_exit(timeout=15)
            time.sleep(0.3)  # calls to a port nobody listens on any more
        finally:
            calls = [stop() for stop in stops]
    finally:
        _kill_if_running(server)
    assert code == 0, server.log_path.read_text()
    stopping = server.events("stopping")
    assert stopping, server.log_path.read_text()
    times = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in stopping]
    return calls, (min(times), max(times))


def _kill_if_running(server: ServerProcess) -> None:
    """A server that failed to stop is killed: no test leaves one running."""
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(10)


def check_round(calls: list[Calls], stopping: tuple[float, float]) -> list[str]:
    """The promise, per kind of caller; the round's summary lines. With several workers,
    "after" starts once the last of them logged ``stopping``."""
    first, last = stopping
    lines = []
    for kind in calls:
        before = kind.statuses(until=first)
        after = kind.statuses(since=last + AFTER_STOPPING)
        lines.append(kind.summary(first))
        assert set(kind.statuses()) <= ANSWER_OR_UNAVAILABLE, lines[-1]
        assert before["OK"] > 0, f"no load before the signal: {lines[-1]}"
        assert set(after) <= {"UNAVAILABLE"}, lines[-1]
    return lines


def rounds(
    tmp_path: Path, count: int, callers: int, *args: str, listen: str = "127.0.0.1:0"
) -> Counter[str]:
    total: Counter[str] = Counter()
    for number in range(count):
        workdir = tmp_path / f"round-{number}"
        workdir.mkdir(parents=True)
        calls, stopping = sigterm_under_load(workdir, callers, *args, listen=listen)
        for line in check_round(calls, stopping):
            print(f"round {number}: {line}")
        for kind in calls:
            total.update(f"{kind.kind} {status}" for _, status in kind.sent)
    print(f"{count} rounds, {callers} callers of each kind: {dict(sorted(total.items()))}")
    return total


def test_sigterms_under_load_answer_or_refuse_every_call_and_cancel_none(
    tmp_path: Path,
) -> None:
    total = rounds(tmp_path, 2, 4)
    assert not any(status.endswith("CANCELLED") for status in total)


def test_a_burst_of_signals_under_load_still_drains_and_exits_0(tmp_path: Path) -> None:
    """Ctrl-C pressed again and again, SIGTERM on top: each handler only notes its signal
    (a handler that logged could interrupt the log line of the one before, inside the
    log's lock, and hang the process for good)."""
    server = ServerProcess(tmp_path, "--grace-seconds", "5")
    load = None
    try:
        server.wait_serving()
        load = GrpcioCallers(server.target, 8)
        load.start()
        load.wait_answered(timeout=30)
        for _ in range(50):
            server.signal(signal.SIGINT)
            server.signal(signal.SIGTERM)
        code = server.wait_exit(timeout=15)
    finally:
        _kill_if_running(server)
        calls = load.stop() if load is not None else None
    assert calls is not None
    assert code == 0, server.log_path.read_text()
    assert set(calls.statuses()) <= ANSWER_OR_UNAVAILABLE, calls.said
    assert len(server.events("stopped")) == 1


@pytest.mark.soak
def test_many_sigterms_under_heavier_load_cancel_no_call(tmp_path: Path) -> None:
    count = int(os.environ.get("ROADMAP_SHUTDOWN_ROUNDS", "20"))
    callers = int(os.environ.get("ROADMAP_FAULT_CALLERS", "16"))
    one = rounds(tmp_path / "one", count, callers)
    two = rounds(
        tmp_path / "two", count, callers, "--workers", "2", listen=f"127.0.0.1:{free_port()}"
    )
    assert not any(status.endswith("CANCELLED") for status in one + two)
