"""`roadmap batch` across replicas: several streams spread over every server a target
names, answers in input order, and a server killed mid-batch costs no item."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.client import RoadmapClient
from clients.fanout import stream_in_order
from tests.load import REFERENCE
from tests.server_process import ServerProcess

if TYPE_CHECKING:
    from collections.abc import Iterator

ROADMAP = str(Path(sys.executable).parent / "roadmap")
ITEMS = 600


def units(count: int) -> list[pb.Assessment]:
    batch = []
    for n in range(count):
        assessment = pb.Assessment()
        assessment.CopyFrom(REFERENCE)
        assessment.unit_id = f"unit-{n:04d}"
        batch.append(assessment)
    return batch


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    started = [ServerProcess(tmp_path) for _ in range(2)]
    for server in started:
        server.wait_serving()
    yield started
    for server in started:
        server.stop()


def served_items(server: ServerProcess) -> int:
    return sum(e.get("items", 0) for e in server.events("request"))


def two(servers: list[ServerProcess]) -> str:
    return "ipv4:" + ",".join(server.target for server in servers)


def test_streams_spread_over_every_server_and_answers_come_in_input_order(
    servers: list[ServerProcess],
) -> None:
    batch = units(ITEMS)
    with RoadmapClient(two(servers)) as client:
        answers = list(stream_in_order(client, batch, streams=4))
    assert [a.unit_id for a in answers] == [a.unit_id for a in batch]
    assert [a.index for a in answers] == list(range(ITEMS))
    assert not any(a.HasField("error") for a in answers)
    for server in servers:
        server.stop()
    shares = [served_items(server) for server in servers]
    assert sum(shares) == ITEMS
    assert min(shares) >= ITEMS // 4, shares  # both replicas worked


def test_a_server_killed_mid_batch_costs_no_item(servers: list[ServerProcess]) -> None:
    batch = units(ITEMS)
    answers = []
    with RoadmapClient(two(servers)) as client:
        for answer in stream_in_order(client, batch, streams=4):
            answers.append(answer)
            if len(answers) == ITEMS // 5:
                servers[0].process.send_signal(signal.SIGKILL)
    assert [a.unit_id for a in answers] == [a.unit_id for a in batch]
    assert not any(a.HasField("error") for a in answers)
    assert servers[0].process.wait(10) == -signal.SIGKILL


def test_the_batch_command_reports_every_item_against_two_servers(
    servers: list[ServerProcess], tmp_path: Path
) -> None:
    source = tmp_path / "units.jsonl"
    source.write_text(
        "\n".join(json_format.MessageToJson(a, indent=None) for a in units(50)) + "\n"
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [ROADMAP, "batch", str(source), "--target", two(servers), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "50 roadmaps written" in done.stderr
    assert len(list(out.glob("unit-*.json"))) == 50
