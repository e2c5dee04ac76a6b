"""`roadmap plan FILE`: the roadmap as the contract's JSON, byte for byte stable; JSON
Lines for several files; --output; --json-names on every JSON-writing command."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.test_cli_rules import REPO, roadmap

if TYPE_CHECKING:
    from pathlib import Path

EXAMPLES = REPO / "clients" / "examples"
EXAMPLE = EXAMPLES / "cd-without-regression-tests.json"
STARTUP = EXAMPLES / "startup-external.json"


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


def test_several_files_print_one_compact_object_per_line() -> None:
    result = roadmap("plan", str(EXAMPLE), str(STARTUP))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line)["unit_id"] for line in lines] == ["web-shop", "startup-web-product"]
    single = json.loads(roadmap("plan", str(EXAMPLE)).stdout)
    assert json.loads(lines[0]) == single


def test_output_creates_the_directory_and_its_parents(tmp_path: Path) -> None:
    out = tmp_path / "new" / "roadmaps"
    result = roadmap("plan", "-o", str(out), str(EXAMPLE), str(STARTUP))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["startup-web-product.json", "web-shop.json"]
    assert json.loads((out / "web-shop.json").read_text())["unit_id"] == "web-shop"
    one = tmp_path / "other" / "web-shop.md"
    result = roadmap("plan", "--format", "markdown", "-o", str(one), str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert one.read_text().startswith("# ")
    result = roadmap("plan", "-o", str(one), str(EXAMPLE), str(STARTUP))
    assert result.returncode == 2
    assert "must be a directory for several files" in result.stderr


def test_json_names_camel_are_the_proto3_json_names_on_every_json_command(tmp_path: Path) -> None:
    camel = json.loads(roadmap("plan", "--json-names", "camel", str(EXAMPLE)).stdout)
    assert {"unitId", "ruleBase", "horizonMonths"} <= set(camel)  # snake: unit_id, ...
    assert camel["unitId"] == "web-shop"
    assert "practiceId" in camel["steps"][0]
    after = tmp_path / "after.json"
    after.write_text(EXAMPLE.read_text())
    explained = roadmap(
        "explain", "knowledge-base", str(EXAMPLE), "--format", "json", "--json-names", "camel"
    )
    assert "unmetPrerequisites" in json.loads(explained.stdout)
    compared = roadmap(
        "compare", str(EXAMPLE), str(after), "--format", "json", "--json-names", "camel"
    )
    assert "stepsCompleted" in json.loads(compared.stdout)
    for command in (["practices", "--format", "json"], ["rules", "list", "--json"]):
        result = roadmap(*command, "--json-names", "camel")
        assert result.returncode == 0, result.stderr
        assert "practices" in json.loads(result.stdout)


def test_explain_blames_a_mistyped_practice_on_the_practice_argument() -> None:
    result = roadmap("explain", "knowledge-bas", str(EXAMPLE))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: PRACTICE: unknown practice 'knowledge-bas' (did you mean 'knowledge-base'?)\n"
    )
    assert "PRACTICE: invalid input, 1 problem(s)" in result.stderr
    assert EXAMPLE.name not in result.stderr
