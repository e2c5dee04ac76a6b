"""Faults under load, against real servers: each test counts calls sent, succeeded and
failed (per status) and asserts the outcome the service promises.

`make test` runs them with 8 callers for seconds; `make soak` runs the same tests with
64 callers for longer (ROADMAP_FAULT_CALLERS, ROADMAP_FAULT_SECONDS), plus the
steady-load test marked ``soak`` (64 callers for ROADMAP_SOAK_SECONDS, default 180).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from engine.rulebase import BUNDLED_RULES, load_rulebase
from tests.load import REFERENCE, Load
from tests.server_process import ServerProcess, free_port, resources

CALLERS = int(os.environ.get("ROADMAP_FAULT_CALLERS", "8"))
SECONDS = float(os.environ.get("ROADMAP_FAULT_SECONDS", "2"))
SOAK_SECONDS = float(os.environ.get("ROADMAP_SOAK_SECONDS", "180"))
FAULTS = "hang:stuck,hang:stuck-in-stream,abort:crash"


def unit(unit_id: str) -> pb.Assessment:
    assessment = pb.Assessment()
    assessment.CopyFrom(REFERENCE)
    assessment.unit_id = unit_id
    return assessment


def call(target: str, unit_id: str, timeout: float = 10.0) -> grpc.RpcError | None:
    """One GetRoadmap on a plain stub (no retries): the error, or None."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.RoadmapServiceStub(channel)
        try:
            stub.GetRoadmap(pb.GetRoadmapRequest(assessment=unit(unit_id)), timeout=timeout)
        except grpc.RpcError as error:
            return error
    return None


def test_a_hang_and_a_crash_in_the_engine_fail_only_their_own_calls(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path, "--max-evaluation-seconds", "1", env={"ROADMAP_FAULT_INJECTION": FAULTS}
    )
    server.wait_serving()
    try:
        with Load(server.target, CALLERS) as load:
            load.wait_calls(20)
            started = time.monotonic()
            hang = call(server.target, "stuck", timeout=10)
            assert hang is not None
            assert hang.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "ran past the 1 s limit" in hang.details()
            assert time.monotonic() - started < 3  # the server's limit, not the caller's 10 s
            again = call(server.target, "stuck")
            assert again is not None
            assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "refused" in again.details()

            crash = call(server.target, "crash")
            assert crash is not None
            assert crash.code() == grpc.StatusCode.UNAVAILABLE
            assert "died (exit code -6)" in crash.details()
            again = call(server.target, "crash")
            assert again is not None
            assert again.code() == grpc.StatusCode.FAILED_PRECONDITION

            with grpc.insecure_channel(server.target) as channel:
                stub = pb_grpc.RoadmapServiceStub(channel)
                items = [
                    pb.StreamRoadmapsRequest(assessment=unit(u))
                    for u in ("a", "stuck-in-stream", "b")
                ]
                answers = list(stub.StreamRoadmaps(iter(items), timeout=10))
            assert [a.WhichOneof("result") for a in answers] == ["roadmap", "error", "roadmap"]
            assert answers[1].error.code == "DEADLINE_EXCEEDED"
            assert server.health() == "SERVING"
            load.wait_calls(20)  # still answering after four engine workers were lost
        report = load.report
        print(report.summary())
        assert report.failed == {}
        assert report.ok == report.sent
        assert len(server.events("engine_worker_killed")) == 2  # the two hangs
        assert len(server.events("engine_worker_died")) == 1
        # each overran the 1 s limit or crashed: remembered at once
        assert len(server.events("engine_input_refused")) == 3
        # two at start, one per worker lost (hang, crash, hang in the stream)
        server.wait_event("engine_worker_started", 2 + 3)
    finally:
        assert server.stop() == 0


def test_kill_9_of_the_engine_workers_under_load_fails_no_call(tmp_path: Path) -> None:
    # One worker killed, then both at once (as the OOM killer may do): each call on a
    # killed worker waits for a live one or a replacement, so no call fails, and the
    # server answered every call OK (not a failure the client's retries hid).
    server = ServerProcess(tmp_path)
    server.wait_serving()
    try:
        engine_pids = [e["pid"] for e in server.wait_event("engine_worker_started", 2)]
        with Load(server.target, CALLERS) as load:
            load.wait_calls(20)
            os.kill(engine_pids[0], signal.SIGKILL)
            load.wait_calls(20)
            survivors = [
                e["pid"] for e in server.wait_event("engine_worker_started", 3)[2:]
            ] + engine_pids[1:]
            for pid in survivors:
                os.kill(pid, signal.SIGKILL)
            load.wait_calls(20)
            time.sleep(SECONDS)
        report = load.report
        print(report.summary())
        assert report.failed == {}
        assert report.ok == report.sent
        assert {e["code"] for e in server.events("request")} == {"OK"}
        server.wait_event("engine_worker_started", 5)
        # Killed from outside, the reference input is not held against itself.
        assert call(server.target, "after-kill") is None
    finally:
        assert server.stop() == 0


def test_kill_9_of_a_server_worker_under_load_is_retried_and_replaced(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(tmp_path, "--workers", "2", listen=f"127.0.0.1:{port}")
    server.wait_serving()
    try:
        workers = server.wait_event("worker_started", 2)
        with Load(server.target, CALLERS, retry_once=True) as load:
            load.wait_calls(40)
            os.kill(workers[0]["pid"], signal.SIGKILL)
            time.sleep(SECONDS)
            load.wait_calls(20)
        report = load.report
        print(report.summary())
        assert set(report.failed) <= {"UNAVAILABLE"}
        assert report.retried == sum(report.failed.values())
        died = server.wait_event("worker_died")
        assert died[0]["pid"] == workers[0]["pid"]
        server.wait_event("worker_started", 3)
    finally:
        assert server.stop() == 0


def test_sigterm_under_load_finishes_calls_in_flight_and_refuses_new_ones(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path, "--grace-seconds", "5")
    server.wait_serving()
    with Load(server.target, CALLERS, timeout=3) as load:
        load.wait_calls(40)
        time.sleep(SECONDS)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        code = server.wait_exit(timeout=10)
        exited = time.monotonic() - started
    report = load.report
    print(report.summary(), f"exit {code} after {exited:.2f} s")
    assert code == 0
    assert exited < 5
    assert set(report.failed) <= {"UNAVAILABLE"}, report.summary()
    stopped = server.events("stopped")
    assert stopped[0]["in_flight_finished"] is True


def _versioned_rules(directory: Path, practice: str, version: str) -> None:
    """Version the copy, and put the version in one practice's title (to spot mixing)."""
    manifest = directory / "rulebase.yaml"
    text = manifest.read_text()
    manifest.write_text(re.sub(r'version: "[^"]*"', f'version: "{version}"', text, count=1))
    for path in directory.glob("*.yaml"):
        text = path.read_text()
        marker = f"  - id: {practice}\n    title: "
        if marker in text:
            start = text.index(marker) + len(marker)
            end = text.index("\n", start)
            path.write_text(text[:start] + f"Versioned [{version}]" + text[end:])
            return
    raise AssertionError(f"practice {practice} not found")


def test_reload_every_second_under_load_mixes_no_versions(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    practice = "incident-and-request-logging"
    _versioned_rules(rules, practice, "v0")
    server = ServerProcess(tmp_path, "--rules", str(rules))
    server.wait_serving()

    def consistent(response: pb.GetRoadmapResponse) -> str | None:
        version = response.rule_base.version
        for step in response.steps:
            if step.practice_id == practice and step.title != f"Versioned [{version}]":
                return f"{version} answered with the title {step.title!r}"
        return None

    request = unit("reload")
    del request.practices[:]  # nothing adopted: the versioned practice is a step
    try:
        with Load(server.target, CALLERS, request=request, check=consistent) as load:
            load.wait_calls(20)
            reloads = max(3, int(SECONDS * 2))
            for n in range(1, reloads + 1):
                _versioned_rules(rules, practice, f"v{n}")
                server.signal(signal.SIGHUP)
                time.sleep(1.0)
            deadline = time.monotonic() + 20
            while not load.report.versions[f"v{reloads}"]:
                assert time.monotonic() < deadline, f"v{reloads} never served"
                time.sleep(0.05)
            load.wait_calls(20)
        report = load.report
        print(report.summary())
        assert report.failed == {}
        assert report.complaints == []
        assert report.versions[f"v{reloads}"] > 0
        assert len(report.versions) >= 3
        # Logged just after the swap: a caller can see the last version before its line.
        assert len(server.wait_event("rule_base_loaded", reloads + 1)) == reloads + 1
    finally:
        assert server.stop() == 0


def test_an_unreadable_or_invalid_rule_base_mid_run_keeps_the_old_one(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, rules)
    metrics = free_port()
    server = ServerProcess(tmp_path, "--rules", str(rules), "--metrics-port", str(metrics))
    server.wait_serving()

    def refused() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as r:
            text = r.read().decode()
        found = re.search(r'roadmap_rule_base_reloads_total\{result="refused"\} (\S+)', text)
        return int(float(found.group(1))) if found else 0

    itsm = rules / "itsm.yaml"
    saved = itsm.read_bytes()
    try:
        with Load(server.target, CALLERS) as load:
            load.wait_calls(20)
            itsm.unlink()
            itsm.mkdir()  # unreadable as a file, even for root
            server.signal(signal.SIGHUP)
            server.wait_event("rule_base_refused")
            assert refused() == 1
            assert server.health() == "SERVING"
            load.wait_calls(20)

            itsm.rmdir()
            itsm.write_bytes(saved.replace(b"model: itsm", b"model: no-such-model", 1))
            server.signal(signal.SIGHUP)
            server.wait_event("rule_base_refused", 2)
            assert refused() == 2
            assert server.health() == "SERVING"
            load.wait_calls(20)
        report = load.report
        print(report.summary())
        assert report.failed == {}
        assert set(report.versions) == {load_rulebase().version}
        assert len(server.events("rule_base_loaded")) == 1
    finally:
        assert server.stop() == 0


@pytest.mark.soak
def test_steady_load_keeps_memory_descriptors_and_threads_flat(tmp_path: Path) -> None:
    """64 callers (ROADMAP_FAULT_CALLERS) for ROADMAP_SOAK_SECONDS: nothing fails or grows."""
    server = ServerProcess(tmp_path, "--threads", str(max(16, CALLERS)))
    server.wait_serving()
    pid = server.process.pid
    try:
        with Load(server.target, CALLERS) as load:
            load.wait_calls(2000, timeout=120)  # warm: allocator pools, caches, connections
            before = resources(pid)
            half = SOAK_SECONDS / 2
            time.sleep(half)
            middle = resources(pid)
            time.sleep(half)
            after = resources(pid)
        report = load.report
        print(report.summary())
        print(f"resources: warm {before}, middle {middle}, end {after}")
        assert report.failed == {}
        assert after["rss_kib"] <= before["rss_kib"] * 1.05
        assert after["fds"] <= before["fds"]
        assert after["threads"] <= before["threads"]
        assert after["processes"] == before["processes"]
    finally:
        assert server.stop() == 0


def test_nothing_is_left_running_after_a_stop(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    server.wait_serving()
    engine_pids = [e["pid"] for e in server.wait_event("engine_worker_started", 2)]
    assert server.stop() == 0
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in engine_pids):
        assert time.monotonic() < deadline, "engine workers outlived the server"
        time.sleep(0.05)
