"""Hypothesis strategies: random valid assessments for a rule base."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import strategies as st

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
from engine.model import Status

if TYPE_CHECKING:
    from engine.model import RuleBase

# Thresholds the bundled rules use, so conditions are hit on both sides of them.
_EDGES = [0.0, 0.2, 0.36, 0.5, 0.57, 0.66, 0.71, 1.0]
fractions = st.one_of(st.sampled_from(_EDGES), st.floats(min_value=0.0, max_value=1.0))


def statuses(practice_ids: list[str]) -> st.SearchStrategy[tuple[PracticeStatus, ...]]:
    status = st.one_of(
        st.sampled_from([Status.ADOPTED, Status.NOT_APPLICABLE, Status.NOT_STARTED]).map(
            lambda s: (s, 0.0)
        ),
        fractions.map(lambda f: (Status.PARTIAL, f)),
    )
    return st.lists(
        st.tuples(st.sampled_from(practice_ids), status),
        unique_by=lambda t: t[0],
        max_size=len(practice_ids),
    ).map(lambda items: tuple(PracticeStatus(pid, s, progress) for pid, (s, progress) in items))


def targets(rulebase: RuleBase) -> st.SearchStrategy[tuple[Target, ...]]:
    options = [
        st.integers(1, model.max_level).map(lambda level, m=model.id: Target(m, level))
        if model.has_levels
        else st.just(Target(model.id, 0))
        for model in rulebase.models.values()
    ]
    return st.lists(st.one_of(options), unique_by=lambda t: t.model, max_size=len(options)).map(
        tuple
    )


grades = st.one_of(st.none(), st.sampled_from(list(Grade)))
flags = st.one_of(st.none(), st.booleans())
services = st.lists(
    st.builds(
        Service,
        id=st.text(alphabet="abcdefgh-", min_size=1, max_size=6),
        name=st.just("service"),
        annual_cost=st.one_of(st.just(0.0), st.floats(min_value=0, max_value=2_000_000)),
        live_requirement=flags,
        differentiation=grades,
        commodity_available=flags,
        criticality=grades,
        sourcing=st.one_of(st.none(), st.sampled_from(list(Sourcing))),
        transition_cost=st.one_of(st.just(0.0), st.floats(min_value=0, max_value=500_000)),
    ),
    unique_by=lambda s: s.id,
    max_size=8,
).map(tuple)


def assessments(rulebase: RuleBase) -> st.SearchStrategy[Assessment]:
    return st.builds(
        Assessment,
        unit_id=st.text(alphabet="abcxyz0123-", min_size=1, max_size=12),
        practices=statuses(list(rulebase.practices)),
        user_base=st.sampled_from(list(UserBase)),
        metrics=st.builds(
            Metrics,
            keep_the_lights_on_share=st.one_of(st.none(), fractions),
            staff_turnover_rate=st.one_of(st.none(), fractions),
            self_service_share=st.one_of(st.none(), fractions),
        ),
        targets=st.one_of(st.just(()), targets(rulebase)),
        wave_capacity=st.one_of(st.none(), st.integers(1, 20)),
        services=services,
        horizon_months=st.one_of(st.none(), st.integers(3, 120)),
    )
