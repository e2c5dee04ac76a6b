"""`roadmap rules check|list`, driven as a user would: the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

ROADMAP = shutil.which("roadmap", path=str(Path(sys.executable).parent)) or "roadmap"


def roadmap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROADMAP, *args], capture_output=True, text=True, cwd=REPO, timeout=60, check=False
    )


def test_rules_check_accepts_the_bundled_rule_base() -> None:
    result = roadmap("rules", "check", "rules")
    assert result.returncode == 0, result.stderr
    assert "valid rule base" in result.stdout
    assert "sha256:" in result.stdout
    assert "devsecops           6 levels, 7 axes" in result.stdout


def test_rules_check_refuses_a_bad_rule_base_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "rules"
    shutil.copytree(REPO / "rules", bad)
    text = (bad / "devsecops.yaml").read_text()
    text = text.replace("requires: [infrastructure-as-code]", "requires: [infra-as-code]", 1)
    (bad / "devsecops.yaml").write_text(text)
    (bad / "extra.yaml").write_text(
        "practices:\n"
        "  - {id: x, title: X, description: d, model: devsecop, axis: testing, level: 2,\n"
        "     effort: 1, value: 1, source: {addition: test}}\n"
    )
    result = roadmap("rules", "check", str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, result.stderr
    assert "devsecops.yaml:" in errors[0]
    assert (
        "requires unknown practice 'infra-as-code' (did you mean 'infrastructure-as-code'?)"
        in errors[0]
    )
    assert (
        "extra.yaml:2: practice 'x': unknown model 'devsecop' (did you mean 'devsecops'?)"
        in errors[1]
    )
    assert "2 problem(s); nothing was loaded" in result.stderr


def test_rules_check_reports_every_schema_problem_of_a_file(tmp_path: Path) -> None:
    bad = tmp_path / "rules"
    shutil.copytree(REPO / "rules", bad)
    (bad / "extra.yaml").write_text("practices: [{id: X}]\n")
    result = roadmap("rules", "check", str(bad))
    assert result.returncode == 1
    assert "extra.yaml:1: practices 'X': at id: 'X' does not match" in result.stderr
    for key in ("title", "description", "model", "axis", "effort", "value", "source"):
        assert f"'{key}' is a required property" in result.stderr


def test_rules_list_json_has_the_practice_keys() -> None:
    result = roadmap("rules", "list", "--json", "--model", "devsecops")
    assert result.returncode == 0, result.stderr
    practices = json.loads(result.stdout)
    assert {p["model"] for p in practices} == {"devsecops"}
    iac = next(p for p in practices if p["id"] == "immutable-infrastructure")
    assert set(iac) == {
        "id",
        "title",
        "description",
        "model",
        "axis",
        "level",
        "requires",
        "effort",
        "value",
        "source",
    }
    assert iac["requires"] == ["infrastructure-as-code"]
    assert set(iac["source"]) == {"seed", "section", "quote"}


def test_rules_list_rejects_an_unknown_model() -> None:
    result = roadmap("rules", "list", "--model", "itil")
    assert result.returncode == 1
    assert "--model: unknown model 'itil'" in result.stderr


def test_usage_errors_exit_2() -> None:
    assert roadmap("rules", "frobnicate").returncode == 2
    assert roadmap().returncode == 2
