"""`roadmap plan FILE`: the roadmap as the contract's JSON, byte for byte stable."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.test_cli_rules import REPO, roadmap

if TYPE_CHECKING:
    from pathlib import Path

EXAMPLE = REPO / "clients" / "examples" / "cd-without-regression-tests.json"


def test_plan_prints_the_get_roadmap_response_as_json() -> None:
    result = roadmap("plan", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert set(response) == {
        "levels",
        "steps",
        "outsourcing",
        "warnings",
        "rule_base",
        "unit_id",
        "horizon_months",
        "quarter_capacity",
    }
    assert response["unit_id"] == "web-shop"
    assert response["rule_base"]["digest"].startswith("sha256:")
    assert "loaded_at" not in response["rule_base"]
    step = response["steps"][0]
    assert set(step) >= {"practice_id", "title", "wave", "score", "reasons", "unlocks"}
    assert set(step["reasons"][0]) == {"rule_id", "source", "amount", "text"}
    codes = {w["code"] for w in response["warnings"]}
    assert "continuous-deployment-without-regression-tests" in codes


def test_plan_output_is_byte_identical_across_runs() -> None:
    first = roadmap("plan", str(EXAMPLE))
    second = roadmap("plan", str(EXAMPLE))
    assert first.returncode == 0
    assert first.stdout == second.stdout


def test_plan_reports_every_problem_with_its_field_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "unit_id": "x",
                "practices": [{"practice_id": "infra-as-code", "adoption": "ADOPTION_ADOPTED"}],
                "metrics": {"self_service_share": 1.5},
                "services": [{"id": "a", "annual_cost": -3}],
            }
        )
    )
    result = roadmap("plan", str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "practices[0].practice_id: unknown practice 'infra-as-code'" in result.stderr
    assert (
        "metrics.self_service_share: must be a fraction between 0 and 1, got 1.5" in result.stderr
    )
    assert "services[0].annual_cost: must be between 0 and" in result.stderr
    assert "3 problem(s)" in result.stderr


def test_plan_refuses_a_file_that_is_not_an_assessment(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"unit_id": "x", "practises": []}')
    result = roadmap("plan", str(bad))
    assert result.returncode == 1
    assert "not a roadmap.v1.Assessment in JSON" in result.stderr
    assert "practises" in result.stderr
    missing = roadmap("plan", str(tmp_path / "missing.json"))
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
