"""Every kind of bad assessment is refused with every problem at its field path.

The cases are data (tests/assessment_cases.yaml); this one test drives them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from contract.convert import assessment_from_proto
from engine.assessment import validate

if TYPE_CHECKING:
    from engine.errors import FieldViolation
    from engine.model import RuleBase

CASES_FILE = Path(__file__).with_name("assessment_cases.yaml")


class _CasesLoader(yaml.SafeLoader):
    """YAML with ``!repeat [item, n]``: n copies of item (a list, or a string)."""


def _repeat(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> object:
    item, times = loader.construct_sequence(node, deep=True)
    return item * times if isinstance(item, str) else [item] * times


_CasesLoader.add_constructor("!repeat", _repeat)
CASES = yaml.load(CASES_FILE.read_text(encoding="utf-8"), Loader=_CasesLoader)


def what_it_says(violation: FieldViolation) -> str:
    """The violation as a caller reads it after the path: its description and any hint."""
    return str(violation).removeprefix(f"{violation.field}: ")


def test_case_names_are_unique() -> None:
    names = [case["name"] for case in CASES["cases"]]
    assert len(names) == len(set(names))


def _cases() -> list[Any]:
    """The cases; one with ``known_bug`` is expected to fail (strictly) until it is fixed."""
    return [
        pytest.param(
            case,
            id=case["name"],
            marks=[pytest.mark.xfail(raises=AssertionError, reason=case["known_bug"])]
            if "known_bug" in case
            else [],
        )
        for case in CASES["cases"]
    ]


@pytest.mark.parametrize("case", _cases())
def test_assessment_is_validated_with_every_problem_at_its_field_path(
    bundled: RuleBase, case: dict[str, Any]
) -> None:
    message = json_format.ParseDict({**CASES["base"], **case["assessment"]}, pb.Assessment())
    found = validate(assessment_from_proto(message), bundled)
    said = [f"{v.field}: {what_it_says(v)}" for v in found]
    assert [v.field for v in found] == [want["field"] for want in case["violations"]], said
    for got, want in zip(found, case["violations"], strict=True):
        assert want["description"] in what_it_says(got), said


def _enum_fields(
    descriptor: Any, path: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every enum field reachable in a message (a repeated message's first item)."""
    found = []
    for field in descriptor.fields:
        here = (*path, field.name) if not field.is_repeated else (*path, field.name, 0)
        if field.enum_type is not None:
            found.append((here, field))
        elif field.message_type is not None:
            found.extend(_enum_fields(field.message_type, here))
    return found


@pytest.mark.parametrize(
    ("path", "field"),
    _enum_fields(pb.Assessment.DESCRIPTOR),
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else "",
)
def test_an_undefined_number_in_any_enum_field_is_refused_at_its_path(
    bundled: RuleBase, path: tuple[str | int, ...], field: Any
) -> None:
    message = pb.Assessment(unit_id="u")
    target: Any = message
    for part in path[:-1]:  # a repeated field's item 0 is added on the way
        target = target.add() if isinstance(part, int) else getattr(target, part)
    setattr(target, str(path[-1]), 99)  # proto3 keeps a number its enum does not define
    found = validate(assessment_from_proto(message), bundled)
    refused = [v for v in found if v.path[: len(path)] == path and "value 99" in v.description]
    assert refused, [str(v) for v in found]
    assert field.enum_type.name in refused[0].description
