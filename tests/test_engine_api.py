"""Refusal before evaluation, explanations, comparisons and portfolio summaries.

What validation reports for each kind of bad assessment is in tests/assessment_cases.yaml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from engine.assessment import Assessment, PracticeStatus, Target
from engine.errors import AssessmentError
from engine.model import Status

if TYPE_CHECKING:
    from engine.roadmap import RoadmapEngine


def test_an_invalid_assessment_is_refused_before_evaluation(engine: RoadmapEngine) -> None:
    with pytest.raises(AssessmentError) as raised:
        engine.roadmap(Assessment(unit_id="", practices=(PracticeStatus("nope", Status.ADOPTED),)))
    assert [v.field for v in raised.value.violations] == ["unit_id", "practices[0].practice_id"]


def test_explaining_an_adopted_practice(engine: RoadmapEngine) -> None:
    unit = Assessment("u", practices=(PracticeStatus("service-catalog", Status.ADOPTED),))
    explanation = engine.explain("service-catalog", unit)
    assert explanation.status is Status.ADOPTED
    assert not explanation.in_roadmap
    assert not explanation.beyond_target
    assert "it is adopted" in explanation.summary


def test_explaining_an_unknown_practice_names_the_field(engine: RoadmapEngine) -> None:
    with pytest.raises(AssessmentError) as raised:
        engine.explain("knowledge-bas", Assessment("u"))
    (violation,) = raised.value.violations
    assert violation.field == "practice_id"
    assert "did you mean 'knowledge-base'" in str(violation)


def test_comparing_two_assessments_of_a_unit(engine: RoadmapEngine) -> None:
    before = Assessment(
        "web-shop",
        practices=(PracticeStatus("continuous-deployment", Status.ADOPTED),),
        targets=(Target("devsecops", 2),),
    )
    after = Assessment(
        "web-shop",
        practices=(
            PracticeStatus("continuous-deployment", Status.ADOPTED),
            PracticeStatus("automated-regression-testing", Status.ADOPTED),
            *(
                PracticeStatus(p.id, Status.ADOPTED)
                for p in engine.rulebase.practices_of("devsecops")
                if p.level == 2
            ),
        ),
        targets=(Target("devsecops", 2),),
    )
    comparison = engine.compare(before, after)
    devsecops = next(c for c in comparison.levels if c.model == "devsecops")
    assert (devsecops.before, devsecops.after) == (1, 2)
    assert "infrastructure-as-code" in comparison.steps_completed
    assert "automated-regression-testing" in comparison.steps_completed
    assert [w.code for w in comparison.warnings_resolved] == [
        "continuous-deployment-without-regression-tests"
    ]
    assert comparison.warnings_new == ()


def test_comparing_different_units_is_refused(engine: RoadmapEngine) -> None:
    with pytest.raises(AssessmentError) as raised:
        engine.compare(
            Assessment("a"), Assessment("b", practices=(PracticeStatus("x", Status.ADOPTED),))
        )
    assert [v.field for v in raised.value.violations] == ["after.unit_id"]


def test_portfolio_summary_counts_levels_and_shared_blockers(engine: RoadmapEngine) -> None:
    immutable = (Target("devsecops", 4),)
    units = [
        engine.roadmap(Assessment("a", targets=immutable)),
        engine.roadmap(Assessment("b", targets=immutable)),
        engine.roadmap(
            Assessment(
                "c",
                practices=(PracticeStatus("infrastructure-as-code", Status.ADOPTED),),
                targets=immutable,
            )
        ),
    ]
    summary = engine.summarize(units, top=100)
    assert summary.units == 3
    devsecops = next(d for d in summary.levels if d.model == "devsecops")
    assert [(c.level, c.units) for c in devsecops.counts] == [(1, 3)]
    iac = next(b for b in summary.blockers if b.practice_id == "infrastructure-as-code")
    assert (iac.units, iac.unit_ids) == (2, ("a", "b"))
    ranking = [(-b.units, b.practice_id) for b in summary.blockers]
    assert ranking == sorted(ranking)
    assert engine.summarize(units, top=3).blockers == summary.blockers[:3]
