"""Translate between the roadmap.v1 protobuf messages and the engine's domain values.

Protobuf types stop here: the engine sees only domain values, and callers only
messages. Field by field, in both directions, nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roadmap.v1 import roadmap_pb2 as pb

from engine.assessment import (
    Assessment,
    Grade,
    Metrics,
    PracticeStatus,
    Service,
    Sourcing,
    Target,
    UserBase,
)
from engine.errors import FieldViolation
from engine.model import Recommendation, Status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from engine.errors import Path
    from engine.model import Model, Practice, RuleBase
    from engine.results import (
        Comparison,
        Explanation,
        PortfolioSummary,
        Reason,
        Roadmap,
        RoadmapWarning,
    )

_ADOPTION = {
    pb.ADOPTION_ADOPTED: Status.ADOPTED,
    pb.ADOPTION_PARTIAL: Status.PARTIAL,
    pb.ADOPTION_NOT_APPLICABLE: Status.NOT_APPLICABLE,
    pb.ADOPTION_NOT_STARTED: Status.NOT_STARTED,
}
_STATUS = {status: adoption for adoption, status in _ADOPTION.items()}
_USER_BASE = {
    pb.USER_BASE_UNSPECIFIED: UserBase.UNSPECIFIED,
    pb.USER_BASE_EXTERNAL_HOMOGENEOUS: UserBase.EXTERNAL_HOMOGENEOUS,
    pb.USER_BASE_INTERNAL_COMPLEX: UserBase.INTERNAL_COMPLEX,
}
_GRADE = {pb.LEVEL_LOW: Grade.LOW, pb.LEVEL_MEDIUM: Grade.MEDIUM, pb.LEVEL_HIGH: Grade.HIGH}
_SOURCING = {
    pb.SOURCING_IN_HOUSE: Sourcing.IN_HOUSE,
    pb.SOURCING_OUTSOURCED: Sourcing.OUTSOURCED,
    pb.SOURCING_SAAS: Sourcing.SAAS,
}
_RECOMMENDATION = {
    Recommendation.DECOMMISSION: pb.RECOMMENDATION_DECOMMISSION,
    Recommendation.OUTSOURCE: pb.RECOMMENDATION_OUTSOURCE,
    Recommendation.RETENDER: pb.RECOMMENDATION_RETENDER,
    Recommendation.RETAIN: pb.RECOMMENDATION_RETAIN,
    Recommendation.INVEST: pb.RECOMMENDATION_INVEST,
    Recommendation.REVIEW: pb.RECOMMENDATION_REVIEW,
}


def _optional(message: object, name: str) -> float | None:
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[attr-defined]


def _unknown_enums(message: pb.Assessment) -> tuple[FieldViolation, ...]:
    """One rule for every enum field: a number the contract does not define is refused
    with its field path (proto3 keeps unknown numbers rather than rejecting them)."""
    found: list[FieldViolation] = []

    def check(path: Path, number: int, known: Mapping[Any, object], enum: str) -> None:
        if number and number not in known:
            names = ", ".join(
                pb.DESCRIPTOR.enum_types_by_name[enum].values_by_number[n].name for n in known if n
            )
            found.append(FieldViolation(path, f"unknown {enum} value {number} (known: {names})"))

    for index, practice in enumerate(message.practices):
        check(("practices", index, "adoption"), practice.adoption, _ADOPTION, "Adoption")
    check(("context", "user_base"), message.context.user_base, _USER_BASE, "UserBase")
    for index, service in enumerate(message.services):
        path: Path = ("services", index)
        check((*path, "differentiation"), service.differentiation, _GRADE, "Level")
        check((*path, "criticality"), service.criticality, _GRADE, "Level")
        check((*path, "sourcing"), service.sourcing, _SOURCING, "Sourcing")
    return tuple(found)


#: Every number each enum field may hold (0: unset), to tell quickly that a message
#: has no unknown one (then _unknown_enums need not run).
_ADOPTIONS, _USER_BASES = {0, *_ADOPTION}, {0, *_USER_BASE}
_GRADES, _SOURCINGS = {0, *_GRADE}, {0, *_SOURCING}


def assessment_from_proto(message: pb.Assessment) -> Assessment:
    practices = message.practices
    adoptions = [p.adoption for p in practices]
    statuses = tuple(
        [
            PracticeStatus(p.practice_id, _ADOPTION.get(adoption), p.progress)
            for p, adoption in zip(practices, adoptions, strict=True)
        ]
    )
    services = []
    readable = _ADOPTIONS.issuperset(adoptions) and message.context.user_base in _USER_BASES
    for s in message.services:
        differentiation, criticality, sourcing = s.differentiation, s.criticality, s.sourcing
        if readable and not (
            differentiation in _GRADES and criticality in _GRADES and sourcing in _SOURCINGS
        ):
            readable = False
        services.append(
            Service(
                id=s.id,
                name=s.name or s.id,
                annual_cost=s.annual_cost,
                live_requirement=s.live_requirement if s.HasField("live_requirement") else None,
                differentiation=_GRADE.get(differentiation),
                commodity_available=s.commodity_available
                if s.HasField("commodity_available")
                else None,
                criticality=_GRADE.get(criticality),
                sourcing=_SOURCING.get(sourcing),
                contract_end_date=s.contract_end_date,
                transition_cost=s.transition_cost,
            )
        )
    metrics = message.metrics
    return Assessment(
        unit_id=message.unit_id,
        practices=statuses,
        user_base=_USER_BASE.get(message.context.user_base, UserBase.UNSPECIFIED),
        metrics=Metrics(
            keep_the_lights_on_share=_optional(metrics, "keep_the_lights_on_share"),
            staff_turnover_rate=_optional(metrics, "staff_turnover_rate"),
            self_service_share=_optional(metrics, "self_service_share"),
        ),
        targets=tuple([Target(t.model, t.level) for t in message.targets]),
        wave_capacity=message.wave_capacity if message.HasField("wave_capacity") else None,
        services=tuple(services),
        horizon_months=message.horizon_months if message.HasField("horizon_months") else None,
        unreadable=() if readable else _unknown_enums(message),
    )


def rule_base_info(rulebase: RuleBase, loaded_at: datetime | None = None) -> pb.RuleBaseInfo:
    info = pb.RuleBaseInfo(
        version=rulebase.version,
        digest=rulebase.digest,
        title=rulebase.title,
        models=len(rulebase.models),
        practices=len(rulebase.practices),
        context_rules=len(rulebase.context_rules),
        outsourcing_rules=len(rulebase.outsourcing.rules) if rulebase.outsourcing else 0,
    )
    if loaded_at is not None:
        info.loaded_at.FromDatetime(loaded_at)
    return info


def _reason(reason: Reason) -> pb.Reason:
    return pb.Reason(
        rule_id=reason.rule_id, source=reason.source, amount=reason.amount, text=reason.text
    )


def _add_reasons(into: Any, reasons: Sequence[Reason]) -> None:
    """Append the reasons to a repeated Reason field, each built in place (building a
    message apart and copying it in costs twice as much)."""
    add = into.add
    for r in reasons:
        add(rule_id=r.rule_id, source=r.source, amount=r.amount, text=r.text)


def _warning(warning: RoadmapWarning) -> pb.Warning:
    return pb.Warning(
        code=warning.code,
        message=warning.message,
        practice_ids=warning.practice_ids,
        rule_id=warning.rule_id,
    )


def roadmap_to_proto(roadmap: Roadmap, rulebase: RuleBase) -> pb.GetRoadmapResponse:
    """The response, every nested message built in place in its parent."""
    response = pb.GetRoadmapResponse(
        rule_base=rulebase.derived("convert.rule_base_info", rule_base_info),
        unit_id=roadmap.unit_id,
        horizon_months=roadmap.horizon_months,
        quarter_capacity=roadmap.quarter_capacity,
    )
    add_level = response.levels.add
    for level in roadmap.levels:
        add_axis = add_level(
            model=level.model,
            level=level.level,
            max_level=level.max_level,
            progress=level.progress,
        ).axes.add
        for a in level.axes:
            add_axis(axis=a.axis, level=a.level, progress=a.progress)
    add_step = response.steps.add
    for step in roadmap.steps:
        step_message = add_step(
            practice_id=step.practice_id,
            title=step.title,
            wave=step.wave,
            score=step.score,
            unlocks=step.unlocks,
            model=step.model,
            axis=step.axis,
            level=step.level or 0,
            effort=step.effort,
            requires=step.requires,
            quarter=step.quarter,
        )
        _add_reasons(step_message.reasons, step.reasons)
    add_service = response.outsourcing.add
    for service in roadmap.outsourcing:
        service_message = add_service(
            service_id=service.service_id,
            recommendation=_RECOMMENDATION[service.recommendation],
            estimated_annual_saving=service.estimated_annual_saving,
            provisional=service.provisional,
            transition_cost=service.transition_cost,
            net_first_year_saving=service.net_first_year_saving,
            payback_months=service.payback_months,
        )
        _add_reasons(service_message.reasons, service.reasons)
    add_warning = response.warnings.add
    for w in roadmap.warnings:
        add_warning(code=w.code, message=w.message, practice_ids=w.practice_ids, rule_id=w.rule_id)
    return response


def explanation_to_proto(
    explanation: Explanation, rulebase: RuleBase
) -> pb.ExplainPracticeResponse:
    return pb.ExplainPracticeResponse(
        practice_id=explanation.practice_id,
        title=explanation.title,
        status=_STATUS[explanation.status],
        in_roadmap=explanation.in_roadmap,
        wave=explanation.wave,
        score=explanation.score,
        unmet_prerequisites=explanation.unmet_prerequisites,
        beyond_target=explanation.beyond_target,
        reasons=[_reason(r) for r in explanation.reasons],
        summary=explanation.summary,
        rule_base=rule_base_info(rulebase),
    )


def comparison_to_proto(
    comparison: Comparison, rulebase: RuleBase
) -> pb.CompareAssessmentsResponse:
    return pb.CompareAssessmentsResponse(
        unit_id=comparison.unit_id,
        levels=[
            pb.LevelChange(
                model=c.model,
                before=c.before,
                after=c.after,
                progress_before=c.progress_before,
                progress_after=c.progress_after,
            )
            for c in comparison.levels
        ],
        steps_completed=comparison.steps_completed,
        steps_added=comparison.steps_added,
        warnings_resolved=[_warning(w) for w in comparison.warnings_resolved],
        warnings_new=[_warning(w) for w in comparison.warnings_new],
        rule_base=rule_base_info(rulebase),
    )


def summary_to_proto(
    summary: PortfolioSummary, rulebase: RuleBase
) -> pb.SummarizePortfolioResponse:
    return pb.SummarizePortfolioResponse(
        units=summary.units,
        levels=[
            pb.LevelDistribution(
                model=d.model,
                counts=[pb.LevelCount(level=c.level, units=c.units) for c in d.counts],
            )
            for d in summary.levels
        ],
        blockers=[
            pb.Blocker(practice_id=b.practice_id, title=b.title, units=b.units, unit_ids=b.unit_ids)
            for b in summary.blockers
        ],
        rule_base=rule_base_info(rulebase),
    )


def practice_to_proto(practice: Practice) -> pb.Practice:
    source = practice.source
    return pb.Practice(
        id=practice.id,
        title=practice.title,
        description=practice.description,
        model=practice.model,
        axis=practice.axis,
        level=practice.level or 0,
        requires=practice.requires,
        effort=practice.effort,
        value=practice.value,
        source=pb.Source(
            seed=source.seed or "",
            section=source.section or "",
            quote=source.quote or "",
            addition=source.addition or "",
            assumption=source.assumption or "",
        ),
        aliases=practice.aliases,
    )


def model_to_proto(model: Model, practices: int) -> pb.ModelInfo:
    return pb.ModelInfo(
        id=model.id,
        title=model.title,
        description=model.description,
        levels=[pb.LevelInfo(level=level.number, title=level.title) for level in model.levels],
        axes=[pb.AxisInfo(id=axis.id, title=axis.title) for axis in model.axes],
        practices=practices,
    )


def violations_to_proto(violations: Sequence[FieldViolation]) -> list[pb.FieldViolation]:
    return [pb.FieldViolation(field=v.field, description=v.message) for v in violations]
