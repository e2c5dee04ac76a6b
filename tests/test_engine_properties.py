"""Invariants of every roadmap, over random valid assessments of the bundled rule base."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings

from engine.levels import is_done, standings
from engine.model import RequireEffect
from engine.roadmap import build_roadmap
from engine.rulebase import BUNDLED_RULES, load_rulebase
from tests import reference
from tests.states import StateProbe
from tests.strategies import assessments

if TYPE_CHECKING:
    from engine.assessment import Assessment
    from engine.results import Step
    from engine.roadmap import RoadmapEngine

RULEBASE = load_rulebase(BUNDLED_RULES)
#: Reasons that put a step in the roadmap for itself (not as someone's prerequisite).
INCLUSION_RULES = {"plan.target", "plan.next-level", "outsourcing.preconditions"}
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def effective_requires(engine: RoadmapEngine, assessment: Assessment) -> dict[str, set[str]]:
    """Prerequisites including those the rules that fired for this unit add."""
    requires = {pid: set(p.requires) for pid, p in engine.rulebase.practices.items()}
    fired = set(engine.rules.evaluate(assessment).fired)
    for rule in engine.rulebase.context_rules:
        if rule.id in fired:
            for effect in rule.effects:
                if isinstance(effect, RequireEffect):
                    requires[effect.practice] |= set(effect.requires)
    return requires


@fast
@given(assessments(RULEBASE))
def test_durable_rules_agrees_with_the_reference_evaluator(
    engine: RoadmapEngine, assessment: Assessment
) -> None:
    conclusions = engine.rules.evaluate(assessment)
    assert list(conclusions.fired) == reference.fired_context_rules(RULEBASE, assessment)
    assert [list(m) for m in conclusions.matched] == reference.matched_outsourcing_rules(
        RULEBASE, assessment.services
    )
    # And the whole answer is the same when built from the reference's conclusions.
    expected = build_roadmap(
        RULEBASE,
        assessment,
        reference.fired_context_rules(RULEBASE, assessment),
        reference.matched_outsourcing_rules(RULEBASE, assessment.services),
    ).roadmap
    assert engine.roadmap(assessment) == expected


@fast
@given(assessments(RULEBASE))
def test_no_step_precedes_an_unmet_prerequisite(
    engine: RoadmapEngine, assessment: Assessment
) -> None:
    roadmap = engine.roadmap(assessment)
    statuses = assessment.statuses()
    position = {s.practice_id: n for n, s in enumerate(roadmap.steps)}
    waves = {s.practice_id: s.wave for s in roadmap.steps}
    for step in roadmap.steps:
        for required in effective_requires(engine, assessment)[step.practice_id]:
            if is_done(statuses.get(required)):
                continue
            assert required in position, (
                f"{step.practice_id} needs {required}, missing from the roadmap"
            )
            assert position[required] < position[step.practice_id]
            assert waves[required] < step.wave


@fast
@given(assessments(RULEBASE))
def test_adopted_and_not_applicable_practices_are_never_recommended(
    engine: RoadmapEngine, assessment: Assessment
) -> None:
    statuses = assessment.statuses()
    for step in engine.roadmap(assessment).steps:
        assert not is_done(statuses.get(step.practice_id)), step.practice_id


def is_wanted(step: Step) -> bool:
    """In the roadmap for itself: a target, the next level, a rule's include, a precondition."""
    return any(r.rule_id in INCLUSION_RULES or "included by rule:" in r.text for r in step.reasons)


@fast
@given(assessments(RULEBASE))
def test_every_step_leads_towards_the_target(engine: RoadmapEngine, assessment: Assessment) -> None:
    roadmap = engine.roadmap(assessment)
    leads: dict[str, bool] = {}
    for step in reversed(roadmap.steps):  # dependants come later in the order
        leads[step.practice_id] = is_wanted(step) or any(leads[u] for u in step.unlocks)
        if not step.unlocks:  # a leaf of the plan is there for itself
            assert is_wanted(step), step
    assert all(leads.values())


@fast
@given(assessments(RULEBASE))
def test_waves_respect_the_capacity(engine: RoadmapEngine, assessment: Assessment) -> None:
    # The capacity asked for, or the default one when none is: both are respected.
    roadmap = engine.roadmap(assessment)
    capacity = roadmap.quarter_capacity
    if assessment.wave_capacity is not None:
        assert capacity == assessment.wave_capacity
    oversized = {
        w.practice_ids[0] for w in roadmap.warnings if w.code == "step-exceeds-wave-capacity"
    }
    for wave in {s.wave for s in roadmap.steps}:
        members = [s for s in roadmap.steps if s.wave == wave]
        if len(members) == 1 and members[0].practice_id in oversized:
            assert members[0].effort > capacity
        else:
            assert sum(s.effort for s in members) <= capacity


@fast
@given(assessments(RULEBASE))
def test_scores_are_the_sum_of_their_reasons(engine: RoadmapEngine, assessment: Assessment) -> None:
    for step in engine.roadmap(assessment).steps:
        assert abs(step.score - sum(r.amount for r in step.reasons)) < 1e-3
        assert all(r.rule_id and r.source for r in step.reasons)


@fast
@given(assessments(RULEBASE))
def test_results_are_deterministic_and_leave_no_state(
    engine: RoadmapEngine, assessment: Assessment
) -> None:
    probe = StateProbe(engine.rules)
    first = engine.roadmap(assessment)
    assert engine.roadmap(assessment) == first
    assert probe.evaluations() == 2
    assert probe.held() == []


@fast
@given(assessments(RULEBASE))
def test_outsourcing_follows_the_first_matching_rule(
    engine: RoadmapEngine, assessment: Assessment
) -> None:
    roadmap = engine.roadmap(assessment)
    assert [r.service_id for r in roadmap.outsourcing] == [s.id for s in assessment.services]
    policy = RULEBASE.outsourcing
    assert policy is not None
    rules = {rule.id: rule for rule in policy.rules}
    for service, decision in zip(assessment.services, roadmap.outsourcing, strict=True):
        decider = rules.get(decision.reasons[0].rule_id)
        fraction = decider.saving_fraction if decider else 0.0
        assert decision.recommendation == (decider.recommendation if decider else policy.fallback)
        assert (
            abs(decision.estimated_annual_saving - round(service.annual_cost * fraction, 2)) < 0.01
        )


@fast
@given(assessments(RULEBASE))
def test_levels_in_one_pass_are_the_level_rule_read_literally(assessment: Assessment) -> None:
    statuses = assessment.statuses()
    assert standings(RULEBASE, statuses) == reference.standings(RULEBASE, statuses)
