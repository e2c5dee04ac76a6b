"""The condition language of context and outsourcing rules.

A condition is a tree: ``all`` / ``any`` nodes over tests. A test reads one field of
the facts (``practice:<id>``, ``metric:<name>``, ``context:user_base`` or
``service:<name>``) and applies one operator from ``OPERATORS`` to it. The rule file
schema fixes the vocabulary; this module turns the parsed YAML into typed trees and
defines what each operator means, once, for the compiler and the reference evaluator.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SUBJECTS = ("practice", "metric", "context", "service")

#: Fields whose values are fractions (0..1): thresholds outside that range are errors.
FRACTION_FIELDS = frozenset(
    {
        "metric:keep_the_lights_on_share",
        "metric:staff_turnover_rate",
        "metric:self_service_share",
        "service:cost_share",
    }
)

Value = str | float | None
Operand = float | tuple[str, ...]


def _compare(cmp: Callable[[float, float], bool]) -> Callable[[Value, Operand], bool]:
    def test(value: Value, operand: Operand) -> bool:
        # An unknown number (None) satisfies no comparison: rules on metrics only fire
        # for units that reported the metric.
        if value is None or isinstance(value, str) or isinstance(operand, tuple):
            return False
        return cmp(value, operand)

    return test


def _member(value: Value, operand: Operand) -> bool:
    return isinstance(operand, tuple) and value in operand


#: What each operator means. The durable-rules compiler maps the same names.
OPERATORS: Mapping[str, Callable[[Value, Operand], bool]] = {
    "in": _member,
    "lt": _compare(operator.lt),
    "lte": _compare(operator.le),
    "gt": _compare(operator.gt),
    "gte": _compare(operator.ge),
}


@dataclass(frozen=True, slots=True)
class Test:
    """One field compared with one operand, e.g. ``metric:self_service_share lt 0.36``."""

    subject: str
    name: str
    op: str
    operand: Operand

    @property
    def field(self) -> str:
        return f"{self.subject}:{self.name}"

    def holds(self, facts: Mapping[str, Value]) -> bool:
        return OPERATORS[self.op](facts.get(self.field), self.operand)


@dataclass(frozen=True, slots=True)
class AllOf:
    terms: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    terms: tuple[Condition, ...]


Condition = Test | AllOf | AnyOf


def parse_condition(raw: Mapping[str, Any]) -> Condition:
    """Build a condition tree from schema-valid YAML data."""
    if "all" in raw:
        return AllOf(tuple(parse_condition(term) for term in raw["all"]))
    if "any" in raw:
        return AnyOf(tuple(parse_condition(term) for term in raw["any"]))
    subject = next(key for key in SUBJECTS if key in raw)
    op = next(key for key in OPERATORS if key in raw)
    operand = raw[op]
    value: Operand = tuple(_vocabulary_word(v) for v in operand) if op == "in" else float(operand)
    return Test(subject=subject, name=str(raw[subject]), op=op, operand=value)


def _vocabulary_word(value: object) -> str:
    # YAML reads unquoted yes/no/true/false as booleans; the vocabulary spells them.
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def tests(condition: Condition) -> Iterator[Test]:
    """Every test in the tree, depth first, in file order."""
    if isinstance(condition, Test):
        yield condition
    else:
        for term in condition.terms:
            yield from tests(term)


def evaluate(condition: Condition, facts: Mapping[str, Value]) -> bool:
    """Plain-Python meaning of a condition over facts keyed by field."""
    if isinstance(condition, Test):
        return condition.holds(facts)
    if isinstance(condition, AllOf):
        return all(evaluate(term, facts) for term in condition.terms)
    return any(evaluate(term, facts) for term in condition.terms)
