"""Facts: the values rule conditions test, read off an assessment or a service.

Fields are named like the tests that read them (``practice:<id>``,
``metric:<name>``, ``context:user_base``, ``service:<name>``). Both the durable-rules
evaluator and the reference evaluator read facts from here, so they see the same input.

Numbers are quantised (fractions to ``FRACTION_DIGITS`` places, money to cents), so
that no conclusion hinges on noise below what a rule can state. (Once, this was also
what kept durable-rules' JSON parser from exponent forms such as ``1e-07``, which it
drops without raising; ``engine.driver`` now writes every finite number exactly.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import UsageError
from engine.model import Status

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.assessment import Assessment, Grade, Service
    from engine.conditions import Value

METRICS = ("keep_the_lights_on_share", "staff_turnover_rate", "self_service_share")
FRACTION_DIGITS = 4  # 0.0001 is the smallest non-zero fraction; smaller rounds to 0
MONEY_DIGITS = 2

SERVICE_FIELDS = (
    "service:live_requirement",
    "service:commodity_available",
    "service:differentiation",
    "service:criticality",
    "service:sourcing",
    "service:annual_cost",
    "service:cost_share",
)


# Enum values are read as ``_value_`` (the documented attribute ``value`` returns): it
# costs a tenth of the ``value`` property, and facts are built for every evaluation.


def context_facts(assessment: Assessment, fields: Iterable[str]) -> dict[str, Value]:
    """The requested context fields; an unknown metric is None (absent)."""
    statuses = assessment.statuses()
    facts: dict[str, Value] = {}
    for name in fields:
        subject, _, key = name.partition(":")
        if subject == "practice":
            status = statuses.get(key)
            value = status.status if status is not None and status.status is not None else None
            facts[name] = (value or Status.NOT_STARTED)._value_
        elif subject == "metric":
            value = getattr(assessment.metrics, key)
            facts[name] = None if value is None else round(value, FRACTION_DIGITS)
        elif subject == "context":
            facts[name] = assessment.user_base._value_
        else:
            raise UsageError(f"not a context field: {name}")
    return facts


def assessment_fields(assessment_practices: Iterable[str]) -> list[str]:
    """Every context field of an assessment over the given practice ids."""
    return [
        "context:user_base",
        *(f"metric:{m}" for m in METRICS),
        *(f"practice:{p}" for p in assessment_practices),
    ]


def _flag(value: bool | None) -> str:  # noqa: FBT001  (a tri-state field, not a switch)
    return "unknown" if value is None else ("yes" if value else "no")


def _grade(value: Grade | None) -> str:
    return "unknown" if value is None else value._value_


def service_facts(service: Service, portfolio_cost: float) -> dict[str, Value]:
    """All service fields; cost_share is the service's share of the portfolio's cost."""
    return {
        "service:live_requirement": _flag(service.live_requirement),
        "service:commodity_available": _flag(service.commodity_available),
        "service:differentiation": _grade(service.differentiation),
        "service:criticality": _grade(service.criticality),
        "service:sourcing": "unknown" if service.sourcing is None else service.sourcing._value_,
        "service:annual_cost": round(service.annual_cost, MONEY_DIGITS),
        "service:cost_share": round(service.annual_cost / portfolio_cost, FRACTION_DIGITS)
        if portfolio_cost > 0
        else 0.0,
    }
