"""Plain, literal versions of what the engine computes faster, for tests only.

The rule evaluator reads the same facts as the durable-rules evaluator but decides with
the condition tree's own meaning (engine.conditions.evaluate), so a silent wrong answer
from the C engine (misuse, limits, a bad compile) shows up as a difference. The levels
are the level rule read literally, against which the one-pass engine.levels is checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.conditions import evaluate, tests
from engine.facts import context_facts, service_facts
from engine.levels import PRECISION, credit, is_adopted
from engine.model import Status
from engine.results import AxisLevel, ModelLevel

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.assessment import Assessment, PracticeStatus, Service
    from engine.model import Practice, RuleBase


def fired_context_rules(rulebase: RuleBase, assessment: Assessment) -> list[str]:
    fields = {t.field for rule in rulebase.context_rules for t in tests(rule.when)}
    facts = context_facts(assessment, fields)
    return [rule.id for rule in rulebase.context_rules if evaluate(rule.when, facts)]


def matched_outsourcing_rules(rulebase: RuleBase, services: Sequence[Service]) -> list[list[str]]:
    rules = rulebase.outsourcing.rules if rulebase.outsourcing else ()
    total = sum(s.annual_cost for s in services)
    return [
        [rule.id for rule in rules if evaluate(rule.when, service_facts(service, total))]
        for service in services
    ]


# Levels, as the rule in rules/README.md reads: each set of practices (a model, an axis)
# filtered and grouped afresh. engine.levels computes the same in one pass.


def _fraction(practices: Sequence[Practice], statuses: Mapping[str, PracticeStatus]) -> float:
    if not practices:
        return 1.0
    return round(sum(credit(statuses.get(p.id)) for p in practices) / len(practices), PRECISION)


def _reached(
    practices: Sequence[Practice], max_level: int, statuses: Mapping[str, PracticeStatus]
) -> tuple[int, float]:
    applicable = [
        p
        for p in practices
        if not (s := statuses.get(p.id)) or s.status is not Status.NOT_APPLICABLE
    ]
    if max_level == 0:
        return 0, _fraction(applicable, statuses)
    by_level: dict[int, list[Practice]] = {}
    for practice in applicable:
        by_level.setdefault(practice.level or 0, []).append(practice)
    level = 1
    for candidate in sorted(n for n in by_level if 2 <= n <= max_level):
        if not all(is_adopted(statuses.get(p.id)) for p in by_level[candidate]):
            needed = [p for p in applicable if p.level is not None and p.level <= candidate]
            return level, _fraction(needed, statuses)
        level = candidate
    return level, 1.0


def standings(rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]) -> tuple[ModelLevel, ...]:
    result = []
    for model_id in sorted(rulebase.models):
        model = rulebase.models[model_id]
        practices = rulebase.practices_of(model.id)
        level, progress = _reached(practices, model.max_level, statuses)
        axes = tuple(
            AxisLevel(
                axis.id,
                *_reached([p for p in practices if p.axis == axis.id], model.max_level, statuses),
            )
            for axis in model.axes
        )
        result.append(ModelLevel(model.id, level, model.max_level, progress, axes))
    return tuple(result)
