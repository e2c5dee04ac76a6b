"""Every kind of bad rule base is refused, naming file, entry and line; nothing loads.

The cases are data (tests/rulebase_cases.yaml); this one test drives them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml

from engine.checks import CHECKS
from engine.errors import ProblemKind, RuleBaseError
from engine.rulebase import load_rulebase
from engine.rulefiles import MAX_RULE_FILE_BYTES, _fast_validator, _validator

CASES_FILE = Path(__file__).with_name("rulebase_cases.yaml")
CASES = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


def write_rulebase(directory: Path, files: dict[str, str | None]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in {**CASES["base"], **files}.items():
        if content is not None:
            (directory / name).write_text(content, encoding="utf-8")
    return directory


def test_the_base_of_the_cases_is_valid(tmp_path: Path) -> None:
    rulebase = load_rulebase(write_rulebase(tmp_path, {}))
    assert list(rulebase.practices) == ["version-control", "ci", "cd"]


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_bad_rule_base_is_refused_with_every_problem_located(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    directory = write_rulebase(tmp_path / "rules", case["files"])
    result = None
    with pytest.raises(RuleBaseError) as raised:
        result = load_rulebase(directory)
    assert result is None, "a bad rule base must never half-load"
    found = [
        {
            "file": Path(p.file).name,
            "entry": p.entry,
            "message": p.message,
            "line": p.line,
            "kind": p.kind.value,
        }
        for p in raised.value.problems
    ]
    assert len(found) == len(case["problems"]), f"got {found}"
    for got, want in zip(found, case["problems"], strict=True):
        assert got["file"] == want["file"], got
        assert got["entry"] == want["entry"], got
        assert want["message"] in got["message"], got
        assert got["kind"] == want["kind"], got
        if "line" in want:
            assert got["line"] == want["line"], got
    # The error message itself lists every problem, so a log line is enough to fix them.
    for problem in raised.value.problems:
        assert str(problem) in str(raised.value)


def _case_documents() -> list[tuple[str, str, object]]:
    documents = []
    for case in CASES["cases"]:
        for name, content in {**CASES["base"], **case["files"]}.items():
            if content is None:
                continue
            try:
                data = yaml.safe_load(content)
            except yaml.YAMLError:
                continue
            schema = "manifest.schema.json" if name == "rulebase.yaml" else "rulefile.schema.json"
            documents.append((f"{case['name']}: {name}", schema, data))
    return documents


@pytest.mark.parametrize(
    ("name", "schema", "data"), _case_documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_fast_and_full_schema_validators_agree(name: str, schema: str, data: object) -> None:
    # The loader trusts the fast validator when it accepts: it must never be laxer.
    fast_accepts = not _fast_rejects(schema, data)
    full_accepts = not list(_validator(schema).iter_errors(data))
    assert fast_accepts == full_accepts, name


def _fast_rejects(schema: str, data: object) -> bool:
    try:
        _fast_validator(schema)(data)
    except fastjsonschema.JsonSchemaValueException:
        return True
    return False


def test_an_oversized_rule_file_is_refused_unread(tmp_path: Path) -> None:
    directory = write_rulebase(tmp_path / "rules", {})
    huge = directory / "huge.yaml"
    with huge.open("wb") as handle:  # sparse: nothing is written, nothing is parsed
        handle.truncate(MAX_RULE_FILE_BYTES + 1)
    with pytest.raises(RuleBaseError) as raised:
        load_rulebase(directory)
    assert [str(p) for p in raised.value.problems] == [
        f"{huge}: too large: {MAX_RULE_FILE_BYTES + 1:,} bytes (at most {MAX_RULE_FILE_BYTES:,})"
    ]


def test_a_problem_names_its_entry_id_and_field_path_for_tools(tmp_path: Path) -> None:
    case = next(
        c for c in CASES["cases"] if c["name"] == "unknown id in requires, with a suggestion"
    )
    with pytest.raises(RuleBaseError) as raised:
        load_rulebase(write_rulebase(tmp_path / "rules", case["files"]))
    assert [(p.kind, p.id, p.path) for p in raised.value.problems] == [
        (ProblemKind.UNKNOWN, "release-notes", ("requires", 0)),
        (ProblemKind.UNKNOWN, "release-notes", ("requires", 1)),
    ]


def test_a_schema_problem_has_the_field_path_within_its_file(tmp_path: Path) -> None:
    directory = write_rulebase(tmp_path / "rules", {})
    (directory / "bad.yaml").write_text(
        "practices:\n  - {id: x, title: X, description: d, model: ops, axis: build, level: 2,\n"
        "     effort: 9, value: 1, source: {addition: test}}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleBaseError) as raised:
        load_rulebase(directory)
    (problem,) = raised.value.problems
    assert (problem.kind, problem.path) == (ProblemKind.SCHEMA, ("practices", 0, "effort"))


def test_every_semantic_check_is_registered_once() -> None:
    names = [check.__name__ for check in CHECKS]
    assert len(names) == len(set(names))
    assert {"prerequisites", "prerequisite_cycles", "aliases", "duplicate_ids"} <= set(names)
