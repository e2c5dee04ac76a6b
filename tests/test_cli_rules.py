"""`roadmap rules check|list` and what every command shares (--version, help, pipes),
driven as a user would: the installed console script."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from clients.cli import build_parser
from server.command import add_serve_command
from tests.conftest import REPO

ROADMAP = shutil.which("roadmap", path=str(Path(sys.executable).parent)) or "roadmap"
EXAMPLE = REPO / "clients" / "examples" / "cd-without-regression-tests.json"


def roadmap(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROADMAP, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def roadmap_into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """The command with a stdout nobody reads any more, as after ``| head -1``: every
    write fails at once, so the test does not depend on how much fits in a pipe."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [ROADMAP, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


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


def test_rules_list_json_is_an_object_with_the_practice_keys() -> None:
    result = roadmap("rules", "list", "--format", "json", "--model", "devsecops")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert set(listing) == {"practices"}  # an object, as every command's JSON
    assert roadmap("rules", "list", "--json", "--model", "devsecops").stdout == result.stdout
    practices = listing["practices"]
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


def test_version_names_the_package_and_the_bundled_rule_base() -> None:
    result = roadmap("--version")
    assert result.returncode == 0, result.stderr
    package, bundled = result.stdout.splitlines()
    assert package == f"roadmap-engine {metadata.version('roadmap-engine')}"
    assert bundled.startswith("bundled rule base 2026.12.0 (sha256:")


def test_every_positional_argument_has_help() -> None:
    parsers = [build_parser([add_serve_command])]
    silent = []
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif not action.option_strings and not action.help:
                silent.append(f"{parser.prog} {action.metavar}")
    assert silent == []


@pytest.mark.parametrize(
    "args",
    [
        ("rules", "list", "--json"),
        ("plan", "--format", "table", str(EXAMPLE)),
        ("plan", str(EXAMPLE), str(EXAMPLE)),
        ("--version",),
    ],
    ids=["rules-list-json", "plan-table", "plan-json-lines", "version"],
)
def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(args: tuple[str, ...]) -> None:
    result = roadmap_into_a_closed_pipe(*args)
    assert result.stderr == ""  # no BrokenPipeError traceback
    assert result.returncode == 141  # what the shell reports for `cat` in `cat | head`
