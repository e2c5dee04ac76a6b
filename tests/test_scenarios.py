"""Scenarios from the seeds: each file in tests/scenarios/ is an assessment (the proto3
JSON form, written as YAML) and what must hold of its roadmap. One test drives them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from contract.convert import assessment_from_proto
from tests.expectations import check_roadmap

if TYPE_CHECKING:
    from engine.roadmap import RoadmapEngine

SCENARIOS = sorted(Path(__file__).with_name("scenarios").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    scenario: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return scenario


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(engine: RoadmapEngine, path: Path) -> None:
    scenario = load(path)
    assessment = assessment_from_proto(
        json_format.ParseDict(scenario["assessment"], pb.Assessment())
    )
    roadmap = engine.roadmap(assessment)
    expect = scenario["expect"]
    check_roadmap(roadmap, expect)
    if "explain" in expect:
        want = expect["explain"]
        explanation = engine.explain(want["practice"], assessment)
        assert explanation.in_roadmap == want["in_roadmap"]
        assert list(explanation.unmet_prerequisites) == want["unmet"]
        if "beyond_target" in want:
            assert explanation.beyond_target == want["beyond_target"]
        assert want["practice"] in explanation.summary


def test_there_are_scenarios_for_each_seed_rule_the_issue_names() -> None:
    assert len(SCENARIOS) >= 10
