"""Outsourcing and decommission recommendations for a unit's service portfolio.

The outsourcing rules that matched each service come from the rule engine; here the
first in precedence order decides, every match gives a reason, and the saving is the
deciding rule's share of the service's annual cost. Without the practices the policy
names as preconditions (a service catalogue, agreed criteria, cost and performance
metrics), every recommendation is provisional and those practices enter the roadmap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.levels import is_adopted
from engine.results import Reason, ServiceRecommendation, Warning

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.assessment import PracticeStatus, Service
    from engine.model import OutsourcingPolicy

#: Score given to the preconditions of outsourcing decisions, so they come first.
PRECONDITION_BOOST = 3.0
_SOURCE = "engine: rules/README.md § outsourcing"


def missing_preconditions(
    policy: OutsourcingPolicy, statuses: Mapping[str, PracticeStatus]
) -> tuple[str, ...]:
    return tuple(
        pid for pid in policy.provisional_unless_adopted if not is_adopted(statuses.get(pid))
    )


def precondition_steps(
    policy: OutsourcingPolicy | None,
    services: Sequence[Service],
    statuses: Mapping[str, PracticeStatus],
) -> dict[str, Reason]:
    """Practices the roadmap must put first so the portfolio can be decided."""
    if policy is None or not services:
        return {}
    reason = Reason(
        "outsourcing.preconditions",
        policy.source.cite(),
        PRECONDITION_BOOST,
        "needed before outsourcing decisions are final",
    )
    return dict.fromkeys(missing_preconditions(policy, statuses), reason)


def recommend(
    policy: OutsourcingPolicy | None,
    services: Sequence[Service],
    matched: Sequence[Sequence[str]],
    statuses: Mapping[str, PracticeStatus],
) -> tuple[tuple[ServiceRecommendation, ...], tuple[Warning, ...]]:
    if policy is None or not services:
        return (), ()
    rules = {rule.id: rule for rule in policy.rules}
    missing = missing_preconditions(policy, statuses)
    provisional_reason = (
        Reason(
            "outsourcing.provisional",
            _SOURCE,
            0.0,
            f"provisional until adopted: {', '.join(missing)}",
        )
        if missing
        else None
    )
    recommendations = []
    for service, rule_ids in zip(services, matched, strict=True):
        reasons = []
        if rule_ids:
            decider = rules[rule_ids[0]]
            recommendation, fraction = decider.recommendation, decider.saving_fraction
            for rule_id in rule_ids:
                rule = rules[rule_id]
                amount = (
                    round(service.annual_cost * rule.saving_fraction, 2) if rule is decider else 0.0
                )
                reasons.append(Reason(rule.id, rule.source.cite(), amount, rule.reason))
        else:
            recommendation, fraction = policy.fallback, 0.0
            reasons.append(Reason("outsourcing.fallback", _SOURCE, 0.0, policy.fallback_reason))
        if provisional_reason is not None:
            reasons.append(provisional_reason)
        recommendations.append(
            ServiceRecommendation(
                service_id=service.id,
                recommendation=recommendation,
                estimated_annual_saving=round(service.annual_cost * fraction, 2),
                provisional=bool(missing),
                reasons=tuple(reasons),
            )
        )
    warnings: tuple[Warning, ...] = ()
    if missing:
        warnings = (
            Warning(
                "outsourcing-provisional",
                "outsourcing recommendations are provisional until these are adopted: "
                + ", ".join(missing),
                missing,
                "outsourcing.provisional",
            ),
        )
    return tuple(recommendations), warnings
