"""The advice itself: merged twins, levels that are earned, one signed reason per rule,
quarters and a horizon, and portfolio decisions that know how a service is sourced.

Each test pins one defect a consultant found in earlier roadmaps (issue 12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given

from engine.assessment import (
    Assessment,
    Grade,
    Metrics,
    PracticeStatus,
    Service,
    Sourcing,
    Target,
    UserBase,
    check,
)
from engine.errors import AssessmentError
from engine.model import Recommendation, Status
from engine.plan import DEFAULT_HORIZON_MONTHS, DEFAULT_QUARTER_CAPACITY
from engine.rulebase import load_rulebase
from tests.strategies import assessments

if TYPE_CHECKING:
    from engine.model import RuleBase
    from engine.results import ServiceRecommendation
    from engine.roadmap import RoadmapEngine

RULEBASE = load_rulebase()
ADOPTED = Status.ADOPTED


def adopted(*pids: str) -> tuple[PracticeStatus, ...]:
    return tuple(PracticeStatus(pid, ADOPTED) for pid in pids)


def axis_level(engine: RoadmapEngine, assessment: Assessment, model: str, axis: str) -> int:
    standing = next(m for m in engine.roadmap(assessment).levels if m.model == model)
    return next(a.level for a in standing.axes if a.axis == axis)


# --- twins ----------------------------------------------------------------------------


def test_adopting_a_retired_twin_satisfies_the_practice_it_was_merged_into(
    engine: RoadmapEngine,
) -> None:
    unit = Assessment(
        "agile-team",
        practices=adopted("agile-development-processes"),
        targets=(Target("devsecops", 3),),
    )
    roadmap = engine.roadmap(unit)
    assert roadmap.step("agile-delivery") is None
    assert roadmap.step("lean-delivery") is None  # level 5: beyond the target
    explanation = engine.explain("agile-development-processes", unit)
    assert explanation.practice_id == "agile-delivery"
    assert explanation.status is ADOPTED


def test_an_assessment_listing_both_twins_counts_the_more_advanced(engine: RoadmapEngine) -> None:
    unit = Assessment(
        "ops",
        practices=(
            PracticeStatus("infrastructure-as-code", Status.PARTIAL, 0.5),
            PracticeStatus("automated-server-provisioning", ADOPTED),
        ),
        targets=(Target("devsecops", 4),),
    )
    roadmap = engine.roadmap(unit)
    assert roadmap.step("infrastructure-as-code") is None
    assert roadmap.step("immutable-infrastructure") is not None


def test_the_same_id_twice_is_still_a_duplicate(bundled: RuleBase) -> None:
    unit = Assessment("x", practices=adopted("knowledge-base", "knowledge-base"))
    with pytest.raises(AssessmentError) as raised:
        check(unit, bundled)
    assert [v.field for v in raised.value.violations] == ["practices[1].practice_id"]


def test_no_twin_is_left_in_the_bundled_rule_base(bundled: RuleBase) -> None:
    retired = {
        "agile-development-processes": "agile-delivery",
        "agile-lean-business-value-delivery": "lean-delivery",
        "regression-test-automation-in-sprints": "automated-regression-testing",
        "automated-server-provisioning": "infrastructure-as-code",
        "scrum-roles-in-cab": "sprint-release-cab-approval",
        "vendor-management-process": "supplier-performance-review",
        "service-desk-knowledge-capture": "knowledge-base",
    }
    assert dict(bundled.aliases) == retired
    assert not set(retired) & set(bundled.practices)


# --- levels -----------------------------------------------------------------------------


def test_an_axis_is_not_granted_a_level_at_which_it_has_no_practice(
    engine: RoadmapEngine,
) -> None:
    # ITSM automation has practices at levels 4 and 5 only: nothing adopted is level 1,
    # not level 3 for the two empty levels below them.
    nothing = Assessment("empty")
    assert axis_level(engine, nothing, "itsm", "automation") == 1
    fourth = Assessment(
        "auto",
        practices=adopted(
            "service-delivery-automation",
            "helpdesk-task-automation",
            "iam-cli-automation",
            "cross-discipline-pair-programming",
        ),
    )
    assert axis_level(engine, fourth, "itsm", "automation") == 4


def test_the_pair_programming_and_packaging_practices_are_itsm_not_devsecops(
    bundled: RuleBase,
) -> None:
    for pid, level in (
        ("cross-discipline-pair-programming", 4),
        ("client-packaging-in-feature-releases", 5),
    ):
        practice = bundled.practices[pid]
        assert (practice.model, practice.level) == ("itsm", level)


# --- reasons and order --------------------------------------------------------------------


@given(assessments(RULEBASE))
def test_a_step_names_each_rule_once(engine: RoadmapEngine, assessment: Assessment) -> None:
    for step in engine.roadmap(assessment).steps:
        rule_ids = [r.rule_id for r in step.reasons]
        assert len(rule_ids) == len(set(rule_ids)), step.practice_id


def test_a_rule_that_includes_and_raises_is_one_reason_with_its_sum(
    engine: RoadmapEngine,
) -> None:
    unit = Assessment("cd", practices=adopted("continuous-deployment"))
    step = engine.roadmap(unit).step("automated-regression-testing")
    assert step is not None
    mine = [
        r for r in step.reasons if r.rule_id == "continuous-deployment-without-regression-tests"
    ]
    assert len(mine) == 1
    assert mine[0].amount == 3
    assert mine[0].text.startswith("included by rule:")


def test_generic_terms_never_outweigh_one_point_of_seed_guidance(
    engine: RoadmapEngine,
) -> None:
    unit = Assessment("big", targets=tuple(Target(m, 0) for m in ("high-performing-it",)))
    for step in engine.roadmap(unit).steps:
        generic = sum(
            r.amount for r in step.reasons if r.rule_id in {"plan.value-effort", "plan.unlocks"}
        )
        assert 0 < generic < 1, step.practice_id


def test_an_urgent_warning_puts_its_steps_as_early_as_their_prerequisites_allow(
    engine: RoadmapEngine,
) -> None:
    # "evaluate outsourcing before new transformation work": the evaluation waits only
    # for its own prerequisites (dead wood, criteria, metrics), not behind the portal,
    # retention and HR planning (it came in wave 9 of 19 here before).
    unit = Assessment(
        "legacy",
        practices=adopted(
            "service-catalog",
            "service-ownership",
            "supplier-contract-management",
            "incident-and-request-logging",
            "shared-services",
            "knowledge-base",
        ),
        user_base=UserBase.INTERNAL_COMPLEX,
        metrics=Metrics(keep_the_lights_on_share=0.7),
        targets=(Target("itsm", 3), Target("high-performing-it", 0)),
        wave_capacity=6,
    )
    roadmap = engine.roadmap(unit)
    evaluation = roadmap.step("outsourcing-evaluation")
    assert evaluation is not None
    assert evaluation.wave <= 4
    urgent = [any(r.text.startswith("urgent") for r in s.reasons) for s in roadmap.steps]
    assert urgent[0]
    first_other = urgent.index(False)
    assert not any(urgent[first_other:]), "an urgent step listed after other work"
    assert roadmap.steps[first_other].wave >= evaluation.wave - 1


# --- quarters and horizon ------------------------------------------------------------------


def test_waves_are_quarters_within_a_default_36_month_horizon(engine: RoadmapEngine) -> None:
    roadmap = engine.roadmap(Assessment("whole", targets=(Target("high-performing-it", 0),)))
    assert (roadmap.horizon_months, roadmap.quarter_capacity) == (
        DEFAULT_HORIZON_MONTHS,
        DEFAULT_QUARTER_CAPACITY,
    )
    for step in roadmap.steps:
        assert step.quarter == (step.wave if step.wave <= 12 else 0)
    beyond = [s.practice_id for s in roadmap.steps if s.quarter == 0]
    warning = next((w for w in roadmap.warnings if w.code == "steps-beyond-horizon"), None)
    assert (warning is not None) == bool(beyond)
    if warning is not None:
        assert list(warning.practice_ids) == beyond


def test_a_short_horizon_reports_what_does_not_fit(engine: RoadmapEngine) -> None:
    unit = Assessment("small", targets=(Target("devsecops", 6),), wave_capacity=3, horizon_months=6)
    roadmap = engine.roadmap(unit)
    assert {s.quarter for s in roadmap.steps} <= {0, 1, 2}
    assert roadmap.step("continuous-deployment").quarter == 0  # type: ignore[union-attr]


# --- outsourcing ----------------------------------------------------------------------------


def _decide(engine: RoadmapEngine, *services: Service) -> dict[str, ServiceRecommendation]:
    roadmap = engine.roadmap(Assessment("portfolio", services=services))
    return {d.service_id: d for d in roadmap.outsourcing}


def commodity(service_id: str, annual_cost: float, **fields: Any) -> Service:
    """A live service the market offers as a commodity and that does not differentiate."""
    defaults: dict[str, Any] = {
        "live_requirement": True,
        "differentiation": Grade.LOW,
        "commodity_available": True,
    }
    return Service(service_id, service_id, annual_cost, **(defaults | fields))


def test_an_external_service_is_retendered_not_outsourced_again(engine: RoadmapEngine) -> None:
    hosting = commodity(
        "hosting",
        400_000,
        criticality=Grade.HIGH,
        sourcing=Sourcing.OUTSOURCED,
        contract_end_date="2027-06-30",
    )
    decision = _decide(engine, hosting)["hosting"]
    assert decision.recommendation is Recommendation.RETENDER
    rule_ids = [r.rule_id for r in decision.reasons]
    assert "outsource-costly-commodity" not in rule_ids
    assert "outsourcing.contract-end" in rule_ids


def test_dead_wood_is_decommissioned_even_as_saas_and_with_no_reason_to_retain_it(
    engine: RoadmapEngine,
) -> None:
    dead = commodity(
        "fax", 45_000, live_requirement=False, commodity_available=False, sourcing=Sourcing.SAAS
    )
    decision = _decide(engine, dead)["fax"]
    assert decision.recommendation is Recommendation.DECOMMISSION
    assert RULEBASE.outsourcing is not None
    recommendations = {rule.id: rule.recommendation for rule in RULEBASE.outsourcing.rules}
    for reason in decision.reasons:
        if reason.rule_id in recommendations:
            assert recommendations[reason.rule_id] is Recommendation.DECOMMISSION


def test_savings_are_net_of_the_transition_cost_with_payback(engine: RoadmapEngine) -> None:
    mail = commodity("mail", 320_000, sourcing=Sourcing.IN_HOUSE, transition_cost=120_000)
    other = Service("erp", "ERP", 1_000_000, live_requirement=True, differentiation=Grade.HIGH)
    decision = _decide(engine, mail, other)["mail"]
    assert decision.recommendation is Recommendation.OUTSOURCE
    assert decision.estimated_annual_saving == 96_000
    assert decision.net_first_year_saving == -24_000
    assert decision.payback_months == 15.0


def test_outsourcing_groundwork_is_raised_only_for_a_material_portfolio(
    engine: RoadmapEngine,
) -> None:
    saas = commodity("office", 9_000, sourcing=Sourcing.SAAS)
    calm = engine.roadmap(Assessment("calm", services=(saas,))).step("service-catalog")
    assert calm is not None
    assert sum(r.amount for r in calm.reasons if r.rule_id == "outsourcing.preconditions") == 0
    dead = Service("old", "Old intranet", 70_000, live_requirement=False)
    busy = engine.roadmap(Assessment("busy", services=(saas, dead))).step("service-catalog")
    assert busy is not None
    assert sum(r.amount for r in busy.reasons if r.rule_id == "outsourcing.preconditions") == 2


def test_thresholds_the_seeds_do_not_give_are_marked_as_assumptions(bundled: RuleBase) -> None:
    assert bundled.outsourcing is not None
    rules = {r.id: r for r in bundled.outsourcing.rules}
    for rule_id in ("outsource-costly-commodity", "retender-external-service"):
        assert rules[rule_id].source.assumption, rule_id
        assert "assumption" in rules[rule_id].source.cite()
    turnover = next(r for r in bundled.context_rules if r.id == "high-staff-turnover")
    assert turnover.source.assumption
