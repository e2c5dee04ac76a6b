"""`roadmap serve --workers N`: processes sharing one port, replaced when they die."""

from __future__ import annotations

import collections
import os
import signal
import time
from typing import TYPE_CHECKING

from roadmap.v1 import roadmap_pb2 as pb

from clients.client import RoadmapClient
from tests.server_process import ServerProcess, free_port

if TYPE_CHECKING:
    from pathlib import Path


def worker_of_a_new_connection(target: str, unit: str) -> str:
    with RoadmapClient(target) as client:  # a new connection: the kernel picks a worker
        _, call = client.stub.GetRoadmap.with_call(
            pb.GetRoadmapRequest(assessment=pb.Assessment(unit_id=unit)), timeout=10
        )
        return str(dict(call.trailing_metadata())["roadmap-worker"])


def test_two_workers_share_the_port_and_survive_a_kill(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, "--workers", "2", listen=f"127.0.0.1:{free_port()}")
    try:
        process.wait_serving()
        deadline = time.monotonic() + 20
        seen: collections.Counter[str] = collections.Counter()
        while time.monotonic() < deadline and len(seen) < 2:
            seen[worker_of_a_new_connection(process.target, f"u{sum(seen.values())}")] += 1
        assert set(seen) == {"0", "1"}, seen

        started = [e for e in process.logs() if e.get("event") == "worker_started"]
        victim = next(e for e in started if e["worker"] == 1)
        os.kill(victim["pid"], signal.SIGKILL)
        restarted = process.wait_lines(
            lambda e: e.get("event") == "worker_started" and e["worker"] == 1,
            count=2,
            what="worker 1 started (the killed worker replaced)",
        )
        assert len(restarted) == 2
        died = [e for e in process.logs() if e.get("event") == "worker_died"]
        assert [(e["worker"], e["code"]) for e in died] == [(1, -9)]
        # Calls keep succeeding (new connections reach the live workers).
        for n in range(10):
            assert worker_of_a_new_connection(process.target, f"after-{n}") in {"0", "1"}
    finally:
        assert process.stop() == 0
    lines = process.log_path.read_text().splitlines()
    broken = [line for line in lines if line.strip() and not (line[0] == "{" and line[-1] == "}")]
    assert broken == [], "log lines that are not one JSON object each (interleaved, or stray)"
    assert [e["event"] for e in process.logs()][-1] == "supervisor_stopped"


def test_workers_need_a_fixed_tcp_port(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, "--workers", "2", listen=f"unix:{tmp_path}/s.sock")
    assert process.wait_exit(20) == 3
    assert any("needs a fixed TCP port" in e.get("error", "") for e in process.logs())


def test_a_bad_rule_base_stops_all_workers_with_exit_1(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rulebase.yaml").write_text("format: 1\nversion: x\ntitle: broken\n")
    (rules / "bad.yaml").write_text("practices: [{id: X}]\n")
    process = ServerProcess(
        tmp_path, "--workers", "2", "--rules", str(rules), listen=f"127.0.0.1:{free_port()}"
    )
    assert process.wait_exit(30) == 1
    events = [e["event"] for e in process.logs()]
    assert "rule_base_refused" in events
    assert "worker_failed" in events
    assert "worker_died" not in events  # no restart loop


def test_round_robin_over_a_multi_address_target_spreads_calls(tmp_path: Path) -> None:
    servers = [ServerProcess(tmp_path) for _ in range(2)]
    try:
        for server in servers:
            server.wait_serving()
        target = "ipv4:" + ",".join(server.target for server in servers)
        pids = []
        with RoadmapClient(target) as client:  # its service config selects round_robin
            client.wait_ready(10)
            for n in range(20):
                _, call = client.stub.GetRoadmap.with_call(
                    pb.GetRoadmapRequest(assessment=pb.Assessment(unit_id=f"rr{n}")), timeout=10
                )
                pids.append(dict(call.trailing_metadata())["roadmap-pid"])
        expected = {str(server.process.pid) for server in servers}
        assert set(pids) == expected
        counts = collections.Counter(pids)
        assert min(counts.values()) >= 8, counts  # round robin: about half each
    finally:
        for server in servers:
            assert server.stop() == 0
