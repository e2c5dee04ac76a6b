"""Outsourcing and decommission recommendations for a unit's service portfolio.

The outsourcing rules that matched each service come from the rule engine; here the
first in precedence order decides, every match that agrees with the decision gives a
reason, and the saving is the deciding rule's share of the service's annual cost, with
the one-off transition cost netted out and its payback. Without the practices the
policy names as preconditions (a service catalogue, agreed criteria, cost and
performance metrics), every recommendation is provisional and those practices enter
the roadmap; they are raised to come first only when the portfolio holds material
candidates (something to decommission or outsource), as seed 001's process puts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.levels import is_adopted
from engine.model import Recommendation
from engine.results import Reason, RoadmapWarning, ServiceRecommendation

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.assessment import PracticeStatus, Service
    from engine.model import OutsourcingPolicy, OutsourcingRule, RuleBase

#: Score given to the preconditions of outsourcing decisions when the portfolio has
#: material candidates: seed 001's process puts them before the evaluation.
PRECONDITION_BOOST = 2.0
#: Decisions that make a portfolio's candidates material (money to save).
MATERIAL = frozenset({Recommendation.DECOMMISSION, Recommendation.OUTSOURCE})
_SOURCE = "engine: rules/README.md § outsourcing"


@dataclass(frozen=True, slots=True)
class _Policy:
    """What decisions read from the policy, built once per rule base: the rules by id,
    each rule's reason when it agrees with the decider (constant: no amount), and the
    fallback with its reason."""

    rules: Mapping[str, OutsourcingRule]
    agreeing: Mapping[str, Reason]
    fallback: Recommendation
    fallback_reason: Reason
    preconditions: tuple[str, ...]


def _policy(rulebase: RuleBase) -> _Policy | None:
    policy = rulebase.outsourcing
    if policy is None:
        return None
    return _Policy(
        rules={rule.id: rule for rule in policy.rules},
        agreeing={
            rule.id: Reason(rule.id, rule.source.cite(), 0.0, rule.reason) for rule in policy.rules
        },
        fallback=policy.fallback,
        fallback_reason=Reason("outsourcing.fallback", _SOURCE, 0.0, policy.fallback_reason),
        preconditions=policy.provisional_unless_adopted,
    )


def _missing_preconditions(
    preconditions: Sequence[str], statuses: Mapping[str, PracticeStatus]
) -> tuple[str, ...]:
    return tuple([pid for pid in preconditions if not is_adopted(statuses.get(pid))])


def has_material_candidates(rulebase: RuleBase, matched: Sequence[Sequence[str]]) -> bool:
    """Whether any service's deciding rule would decommission or outsource it."""
    policy = rulebase.derived("outsourcing.policy", _policy)
    if policy is None:
        return False
    rules = policy.rules
    return any(rule_ids and rules[rule_ids[0]].recommendation in MATERIAL for rule_ids in matched)


def precondition_steps(
    policy: OutsourcingPolicy | None,
    services: Sequence[Service],
    statuses: Mapping[str, PracticeStatus],
    *,
    material: bool,
) -> dict[str, Reason]:
    """Practices the roadmap needs so the portfolio can be decided; raised to come
    first only when there is something material to decide."""
    if policy is None or not services:
        return {}
    amount, text = (
        (
            PRECONDITION_BOOST,
            "needed before the portfolio's candidates to decommission or outsource are decided",
        )
        if material
        else (0.0, "needed before outsourcing decisions are final (no material candidate yet)")
    )
    reason = Reason("outsourcing.preconditions", policy.source.cite(), amount, text)
    return dict.fromkeys(
        _missing_preconditions(policy.provisional_unless_adopted, statuses), reason
    )


def _payback_months(saving: float, transition_cost: float) -> float:
    if saving <= 0 or transition_cost <= 0:
        return 0.0
    return round(transition_cost / (saving / 12), 1)


def recommend(
    rulebase: RuleBase,
    services: Sequence[Service],
    matched: Sequence[Sequence[str]],
    statuses: Mapping[str, PracticeStatus],
) -> tuple[tuple[ServiceRecommendation, ...], tuple[RoadmapWarning, ...]]:
    """One decision per service (``matched[i]``: the rules that matched ``services[i]``,
    in precedence order), and the warning that they are provisional, if they are."""
    policy = rulebase.derived("outsourcing.policy", _policy)
    if policy is None or not services:
        return (), ()
    missing = _missing_preconditions(policy.preconditions, statuses)
    # one reason for every service: the same preconditions are missing for all
    provisional = (
        Reason(
            "outsourcing.provisional",
            _SOURCE,
            0.0,
            f"provisional until adopted: {', '.join(missing)}",
        )
        if missing
        else None
    )
    recommendations = tuple(
        [
            _decide(policy, service, rule_ids, provisional)
            for service, rule_ids in zip(services, matched, strict=True)
        ]
    )
    if not missing:
        return recommendations, ()
    warning = RoadmapWarning(
        "outsourcing-provisional",
        "outsourcing recommendations are provisional until these are adopted: "
        + ", ".join(missing),
        missing,
        "outsourcing.provisional",
    )
    return recommendations, (warning,)


def _decide(
    policy: _Policy,
    service: Service,
    rule_ids: Sequence[str],
    provisional: Reason | None,
) -> ServiceRecommendation:
    """The first matching rule decides; every match agreeing with it gives a reason (one
    for another decision would contradict it). No match: the policy's fallback."""
    if rule_ids:
        decider = policy.rules[rule_ids[0]]
        recommendation = decider.recommendation
        saving = round(service.annual_cost * decider.saving_fraction, 2)
        decided = Reason(decider.id, policy.agreeing[decider.id].source, saving, decider.reason)
        reasons = [
            decided if rule_id == decider.id else policy.agreeing[rule_id]
            for rule_id in rule_ids
            if policy.rules[rule_id].recommendation is recommendation
        ]
    else:
        recommendation, saving, reasons = policy.fallback, 0.0, [policy.fallback_reason]
    if recommendation is Recommendation.RETENDER and service.contract_end_date:
        reasons.append(
            Reason(
                "outsourcing.contract-end",
                _SOURCE,
                0.0,
                f"the current contract ends {service.contract_end_date}: benchmark the "
                "market and prepare the re-tender before then",
            )
        )
    if provisional is not None:
        reasons.append(provisional)
    cost = round(service.transition_cost, 2) if saving > 0 else 0.0
    return ServiceRecommendation(
        service_id=service.id,
        recommendation=recommendation,
        estimated_annual_saving=saving,
        provisional=provisional is not None,
        reasons=tuple(reasons),
        transition_cost=cost,
        net_first_year_saving=round(saving - cost, 2),
        payback_months=_payback_months(saving, cost),
    )
