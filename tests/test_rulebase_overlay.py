"""One organisation's rule base overlays the bundled one: new practices, overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from engine.errors import RuleBaseError
from engine.rulebase import load_rulebase

if TYPE_CHECKING:
    from pathlib import Path

    from engine.model import RuleBase

MANIFEST = """\
format: 1
version: "acme-1"
title: ACME rule base
extends: "@bundled"
"""

ACME = """\
practices:
  - id: acme-change-freeze-calendar
    title: Change freeze calendar
    description: Publish the quarterly change freeze windows to every team.
    model: itsm
    axis: automation
    level: 3
    requires: [service-catalog]
    effort: 1
    value: 2
    source: {addition: "ACME policy: audits require published freeze windows."}
overrides:
  - id: chaos-engineering
    why: Regulated workloads; chaos experiments are out of scope.
    disabled: true
  - id: continuous-deployment
    why: At ACME, continuous deployment also needs dependency scanning, not chaos engineering.
    requires_add: [dependency-vulnerability-scanning]
    requires_remove: [chaos-engineering]
    value: 4
"""


def write_overlay(directory: Path, rules: str) -> Path:
    directory.mkdir()
    (directory / "rulebase.yaml").write_text(MANIFEST)
    (directory / "acme.yaml").write_text(rules)
    return directory


def test_overlay_adds_overrides_and_disables(tmp_path: Path, bundled: RuleBase) -> None:
    acme = load_rulebase(write_overlay(tmp_path / "acme", ACME))
    assert acme.version == "acme-1"
    assert acme.digest != bundled.digest
    assert "acme-change-freeze-calendar" in acme.practices
    assert "chaos-engineering" not in acme.practices
    assert len(acme.practices) == len(bundled.practices)  # one added, one disabled
    deployment = acme.practices["continuous-deployment"]
    assert deployment.value == 4
    assert deployment.requires == (
        *(
            r
            for r in bundled.practices["continuous-deployment"].requires
            if r != "chaos-engineering"
        ),
        "dependency-vulnerability-scanning",
    )


def test_overlay_cannot_remove_a_prerequisite_that_is_not_there(tmp_path: Path) -> None:
    broken = ACME.replace("[chaos-engineering]", "[chaos-engineering, lean-delivery]")
    with pytest.raises(RuleBaseError) as raised:
        load_rulebase(write_overlay(tmp_path / "acme", broken))
    assert [p.message for p in raised.value.problems] == [
        "requires_remove: 'continuous-deployment' does not require 'lean-delivery'"
    ]


def test_overlay_problems_name_the_overlay_file(tmp_path: Path) -> None:
    broken = ACME.replace("requires: [service-catalog]", "requires: [service-catalogue]")
    with pytest.raises(RuleBaseError) as raised:
        load_rulebase(write_overlay(tmp_path / "acme", broken))
    (problem,) = raised.value.problems
    assert problem.file.endswith("acme/acme.yaml")
    assert problem.entry == "practice 'acme-change-freeze-calendar'"
    assert "did you mean 'service-catalog'" in problem.message
