"""A plain-Python evaluator of the rule conditions, for tests only.

It reads the same facts as the durable-rules evaluator but decides with the condition
tree's own meaning (engine.conditions.evaluate), so a silent wrong answer from the C
engine (misuse, limits, a bad compile) shows up as a difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.conditions import evaluate, tests
from engine.facts import context_facts, service_facts

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.assessment import Assessment, Service
    from engine.model import RuleBase


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
