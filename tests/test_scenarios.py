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

from server.convert import assessment_from_proto

if TYPE_CHECKING:
    from engine.results import Roadmap
    from engine.roadmap import RoadmapEngine

SCENARIOS = sorted(Path(__file__).with_name("scenarios").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    scenario: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return scenario


def check_roadmap(roadmap: Roadmap, expect: dict[str, Any]) -> None:  # noqa: PLR0912
    steps = {s.practice_id: s for s in roadmap.steps}
    order = [s.practice_id for s in roadmap.steps]
    for pid in expect.get("steps_include", []):
        assert pid in steps, f"{pid} missing from {order}"
    for pid in expect.get("steps_exclude", []):
        assert pid not in steps, f"{pid} should not be in {order}"
    for earlier, later in expect.get("order", []):
        assert earlier in steps, f"{earlier} missing"
        assert later in steps, f"{later} missing"
        assert order.index(earlier) < order.index(later), (
            f"{earlier} should come before {later}: {order}"
        )
    for earlier, later in expect.get("waves_before", []):
        assert steps[earlier].wave < steps[later].wave
    for a, b in expect.get("same_wave", []):
        assert steps[a].wave == steps[b].wave, (steps[a].wave, steps[b].wave)
    if "first" in expect:
        assert set(order[: len(expect["first"])]) == set(expect["first"]), order
    for pid, unlocked in expect.get("unlocks", {}).items():
        assert list(steps[pid].unlocks) == unlocked
    for pid, rule_ids in expect.get("reasons", {}).items():
        found = [r.rule_id for r in steps[pid].reasons]
        for rule_id in rule_ids:
            assert rule_id in found, f"{pid}: {rule_id} not in {found}"
    for pid, amounts in expect.get("reason_amounts", {}).items():
        for rule_id, amount in amounts.items():
            got = sum(r.amount for r in steps[pid].reasons if r.rule_id == rule_id)
            assert got == amount, f"{pid}: {rule_id} contributes {got}, expected {amount}"
    for model, level in expect.get("levels", {}).items():
        assert next(m.level for m in roadmap.levels if m.model == model) == level
    for want in expect.get("warnings", []):
        matches = [w for w in roadmap.warnings if w.code == want["code"]]
        assert matches, f"no warning {want['code']} in {[w.code for w in roadmap.warnings]}"
        assert any(list(w.practice_ids) == want["practices"] for w in matches), matches
        if "rule" in want:
            assert any(w.rule_id == want["rule"] for w in matches)
    codes = {w.code for w in roadmap.warnings}
    for code in expect.get("no_warnings", []):
        assert code not in codes
    for want in expect.get("outsourcing", []):
        decision = next(d for d in roadmap.outsourcing if d.service_id == want["service"])
        assert decision.recommendation.value == want["recommendation"]
        assert decision.estimated_annual_saving == want["saving"]
        assert decision.provisional == want["provisional"]
        assert [
            r.rule_id for r in decision.reasons if r.rule_id != "outsourcing.provisional"
        ] == want["rules"]
    if "max_wave_effort" in expect:
        for wave in {s.wave for s in roadmap.steps}:
            members = [s for s in roadmap.steps if s.wave == wave]
            if len(members) > 1:
                assert sum(s.effort for s in members) <= expect["max_wave_effort"]
    for pid in expect.get("alone_in_wave", []):
        assert [s.practice_id for s in roadmap.steps if s.wave == steps[pid].wave] == [pid]


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
