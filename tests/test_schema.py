"""The JSON Schema of assessment files (proto/schema/assessment.schema.json): current with
the contract, met by every assessment the project ships, and refusing the usual mistakes
as the parser and the engine do."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import yaml
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.assessment_schema import CONSTRAINTS, SCHEMA_PATH, render
from clients.outputs import camel_keys
from contract.convert import assessment_from_proto
from engine.assessment import validate

if TYPE_CHECKING:
    from engine.model import RuleBase

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "clients" / "examples"
VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def shipped() -> list[tuple[str, Any]]:
    """Every assessment in the repository: the examples (JSON, JSONL) and the
    assessments of the scenarios and personas (YAML)."""
    found: list[tuple[str, Any]] = [
        (path.name, json.loads(path.read_text())) for path in sorted(EXAMPLES.glob("*.json"))
    ]
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        lines = path.read_text().splitlines()
        found += [(f"{path.name}:{n}", json.loads(line)) for n, line in enumerate(lines, 1)]
    for folder in ("scenarios", "personas"):
        for path in sorted((REPO / "tests" / folder).glob("*.yaml")):
            found.append((f"{folder}/{path.name}", yaml.safe_load(path.read_text())["assessment"]))
    return found


SHIPPED = shipped()
REFERENCE = json.loads((EXAMPLES / "reference-mid-maturity.json").read_text())


def schema_errors(record: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(record)]


def engine_accepts(record: Any, rulebase: RuleBase) -> bool:
    """What `roadmap plan` does with the record: protobuf's parser, then the engine."""
    try:
        message = json_format.ParseDict(record, pb.Assessment())
    except json_format.ParseError:
        return False
    return not validate(assessment_from_proto(message), rulebase)


def test_the_committed_schema_is_generated_from_the_current_contract() -> None:
    assert SCHEMA_PATH.read_text() == render(), "regenerate it: make schema"


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(VALIDATOR.schema)


def test_every_shipped_assessment_meets_the_schema() -> None:
    assert len(SHIPPED) >= 40
    for where, record in SHIPPED:
        assert schema_errors(record) == [], where


def test_camel_case_names_enum_numbers_and_nulls_are_accepted_as_the_parser_does(
    bundled: RuleBase,
) -> None:
    for record in (
        camel_keys(REFERENCE),
        {**REFERENCE, "practices": [{"practiceId": "agile-delivery", "adoption": 1}]},
        {**REFERENCE, "wave_capacity": None, "metrics": {"self_service_share": None}},
        {**REFERENCE, "context": None, "services": None},
    ):
        assert schema_errors(record) == []
        assert engine_accepts(record, bundled)


def mutate(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """The reference assessment with one value replaced (or a key removed: value ...)."""
    record = copy.deepcopy(REFERENCE)
    *parents, last = path
    node: Any = record
    for step in parents:
        node = node[step]
    if value is Ellipsis:
        del node[last]
    else:
        node[last] = value
    return record


#: Typical mistakes; each is refused by the schema and by `roadmap plan` alike.
MISTAKES = {
    "an unknown field": mutate(("unit",), "x"),
    "a misspelt nested field": mutate(("practices", 0, "adopted"), True),
    "an enum value without its prefix": mutate(("practices", 0, "adoption"), "ADOPTED"),
    "an enum value in lower case": mutate(("practices", 1, "adoption"), "adoption_adopted"),
    "an unspecified adoption": mutate(("practices", 0, "adoption"), "ADOPTION_UNSPECIFIED"),
    "no adoption": mutate(("practices", 0, "adoption"), ...),
    "a percentage as a string": mutate(("practices", 0, "progress"), "40%"),
    "a percentage where a fraction goes": mutate(("practices", 0, "progress"), 40),
    "a metric as a percentage": mutate(("metrics", "keep_the_lights_on_share"), 57),
    "a boolean as a string": mutate(("services", 0, "live_requirement"), "yes"),
    "a number as the unit id": mutate(("unit_id",), 7),
    "no unit id": mutate(("unit_id",), ...),
    "a blank unit id": mutate(("unit_id",), "  "),
    "a list where an object goes": mutate(("metrics",), [0.5]),
    "an object where a list goes": mutate(("practices",), {"practice_id": "x"}),
    "null inside a list": mutate(("practices", 0), None),
    "a negative annual cost": mutate(("services", 0, "annual_cost"), -1),
    "a date in another format": mutate(("services", 0, "contract_end_date"), "31/03/2027"),
    "a horizon out of range": mutate(("horizon_months",), 240),
    "a wave capacity of zero": mutate(("wave_capacity",), 0),
    "a fractional wave capacity": mutate(("wave_capacity",), 2.5),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_typical_mistake_fails_the_schema_as_it_fails_plan(
    mistake: str, bundled: RuleBase
) -> None:
    record = MISTAKES[mistake]
    assert schema_errors(record), mistake
    assert not engine_accepts(record, bundled), mistake


def test_both_spellings_of_one_field_at_once_are_refused() -> None:
    record = {**REFERENCE, "unitId": REFERENCE["unit_id"]}
    assert any("unitId" in message for message in schema_errors(record))


def test_an_error_names_the_field_it_is_about() -> None:
    errors = list(VALIDATOR.iter_errors(MISTAKES["an enum value without its prefix"]))
    assert [list(e.absolute_path) for e in errors] == [["practices", 0, "adoption"]]
    assert "'ADOPTED' is not one of ['ADOPTION_ADOPTED'" in errors[0].message


def test_every_engine_constraint_in_the_schema_holds_in_the_engine(bundled: RuleBase) -> None:
    """Each bound the generator adds is one the engine enforces: on it, both accept;
    just outside it, both refuse."""
    minimal: dict[str, Any] = {
        "unit_id": "u",
        "practices": [{"practice_id": "agile-delivery", "adoption": "ADOPTION_PARTIAL"}],
        "metrics": {},
        "targets": [{"model": "high-performing-it"}],  # no levels: level 0 is its minimum
        "services": [{"id": "s"}],
    }
    where = {
        "Assessment": (),
        "PracticeStatus": ("practices", 0),
        "Metrics": ("metrics",),
        "Target": ("targets", 0),
        "Service": ("services", 0),
    }
    integers = {"wave_capacity", "horizon_months", "level"}
    checked = 0
    for name, rules in CONSTRAINTS.items():
        message, field = name.removeprefix("roadmap.v1.").split(".")
        for bound, sign in (("minimum", -1), ("maximum", +1)):
            if bound not in rules:
                continue
            edge = rules[bound]
            step = 1 if field in integers or edge > 1 else 0.01
            for value, ok in ((edge, True), (edge + sign * step, False)):
                record = copy.deepcopy(minimal)
                node: Any = record
                for part in where[message]:
                    node = node[part]
                node[field] = value
                assert (schema_errors(record) == []) is ok, (name, value)
                assert engine_accepts(record, bundled) is ok, (name, value)
                checked += 1
    assert checked >= 20
