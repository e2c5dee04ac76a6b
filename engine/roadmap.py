"""The engine's front door: roadmaps, explanations, comparisons, portfolio summaries.

``RoadmapEngine`` compiles a rule base's rules once; each call validates its input,
has durable-rules evaluate the context and outsourcing rules, and builds the answer in
plain Python (:func:`build_roadmap`, a pure function of the rule base, the assessment
and the rules that fired, so tests can feed it the reference evaluator's conclusions).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.assessment import check, resolve_aliases, validate
from engine.compiled import CompiledRules
from engine.errors import AssessmentError, FieldViolation, closest, quoted
from engine.levels import is_done, standings
from engine.model import Status
from engine.outsourcing import has_material_candidates, precondition_steps, recommend
from engine.plan import Adjustments, Plan, adjustments, one_per_rule, plan, prerequisite_walk
from engine.results import (
    Blocker,
    Comparison,
    Explanation,
    LevelChange,
    LevelCount,
    LevelDistribution,
    PortfolioSummary,
    Roadmap,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.assessment import Assessment, PracticeStatus
    from engine.compiled import RuleEvaluator
    from engine.model import RuleBase


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A roadmap with the intermediate results explanations need."""

    roadmap: Roadmap
    plan: Plan
    adjustments: Adjustments
    statuses: Mapping[str, PracticeStatus]  # the unit's, retired ids already resolved


def build_roadmap(
    rulebase: RuleBase,
    assessment: Assessment,
    fired: Sequence[str],
    matched: Sequence[Sequence[str]],
) -> Evaluation:
    """The roadmap, given the context rules that fired and each service's matching rules."""
    statuses = assessment.statuses()
    adj = adjustments(rulebase, fired)
    levels = standings(rulebase, statuses)
    extra = precondition_steps(
        rulebase.outsourcing,
        assessment.services,
        statuses,
        material=has_material_candidates(rulebase, matched),
    )
    the_plan = plan(rulebase, assessment, statuses=statuses, levels=levels, adj=adj, extra=extra)
    services, service_warnings = recommend(rulebase, assessment.services, matched, statuses)
    roadmap = Roadmap(
        unit_id=assessment.unit_id,
        levels=levels,
        steps=the_plan.steps,
        outsourcing=services,
        warnings=(*adj.warnings, *the_plan.warnings, *service_warnings),
        rule_base_version=rulebase.version,
        rule_base_digest=rulebase.digest,
        horizon_months=the_plan.horizon_months,
        quarter_capacity=the_plan.quarter_capacity,
    )
    return Evaluation(roadmap, the_plan, adj, statuses)


class RoadmapEngine:
    """Evaluates assessments against one rule base. Safe to share between threads."""

    def __init__(
        self,
        rulebase: RuleBase,
        *,
        rules: RuleEvaluator | None = None,
    ) -> None:
        """``rules`` evaluates the rules elsewhere (worker processes); by default, here."""
        self.rulebase = rulebase
        self.rules: RuleEvaluator = rules or CompiledRules(rulebase)

    def close(self) -> None:
        """Stop the rule evaluator's processes, if it has any, once in-flight calls end."""
        self.rules.close()

    def _evaluate(
        self, assessment: Assessment, *, checked: bool = False, deadline: float | None = None
    ) -> Evaluation:
        if not checked:
            check(assessment, self.rulebase)
        assessment = resolve_aliases(assessment, self.rulebase)
        conclusions = self.rules.evaluate(assessment, deadline=deadline)
        return build_roadmap(self.rulebase, assessment, conclusions.fired, conclusions.matched)

    def roadmap(self, assessment: Assessment, *, deadline: float | None = None) -> Roadmap:
        """Levels, ordered steps, outsourcing decisions and warnings for one unit.

        ``deadline`` (a ``time.monotonic()`` instant) bounds the rule evaluation where
        the evaluator can enforce it (worker processes).
        """
        return self._evaluate(assessment, deadline=deadline).roadmap

    def explain(
        self, practice_id: str, assessment: Assessment, *, deadline: float | None = None
    ) -> Explanation:
        """Why a practice (or the practice an alias was merged into) is, or is not, in
        the unit's roadmap."""
        practice_id = self.rulebase.canonical(practice_id)
        practice = self.rulebase.practices.get(practice_id)
        problems = [v.within("assessment") for v in validate(assessment, self.rulebase)]
        if practice is None:
            problems.insert(
                0,
                FieldViolation(
                    ("practice_id",),
                    f"unknown practice {quoted(practice_id)}",
                    closest(practice_id, self.rulebase.practices),
                ),
            )
        if problems:
            raise AssessmentError(problems)
        assert practice is not None
        evaluation = self._evaluate(assessment, checked=True, deadline=deadline)
        roadmap, adj = evaluation.roadmap, evaluation.adjustments
        statuses = evaluation.statuses
        entry = statuses.get(practice_id)
        status = (
            entry.status if entry is not None and entry.status is not None else Status.NOT_STARTED
        )
        walked = prerequisite_walk(self.rulebase, [practice_id], statuses, adj)
        unmet = tuple(sorted(set(walked) - {practice_id}))
        step = roadmap.step(practice_id)
        if step is not None:
            waits = f"; it waits for {', '.join(step.requires)}" if step.requires else ""
            summary = f"{practice_id} is step {roadmap.steps.index(step) + 1} of {len(roadmap.steps)}, in wave {step.wave} with score {step.score:g}{waits}."
            reasons = step.reasons
        else:
            reasons = tuple(one_per_rule(adj.score_reasons(practice)))
            if is_done(entry):
                summary = f"{practice_id} is not in the roadmap: it is {status.value}."
            else:
                summary = f"{practice_id} is not in the roadmap: it is beyond the current target"
                summary += f" and waits for {', '.join(unmet)}." if unmet else "."
        return Explanation(
            practice_id=practice_id,
            title=practice.title,
            status=status,
            in_roadmap=step is not None,
            wave=step.wave if step is not None else 0,
            score=step.score if step is not None else 0.0,
            unmet_prerequisites=unmet,
            beyond_target=step is None
            and not is_done(entry)
            and practice_id not in evaluation.plan.wanted,
            reasons=reasons,
            summary=summary,
        )

    def compare(
        self, before: Assessment, after: Assessment, *, deadline: float | None = None
    ) -> Comparison:
        """What changed between two assessments of one unit."""
        if before.unit_id != after.unit_id:
            raise AssessmentError(
                [
                    FieldViolation(
                        ("after", "unit_id"),
                        f"must equal before.unit_id {quoted(before.unit_id)} (one unit)",
                    )
                ]
            )
        problems = [v.within("before") for v in validate(before, self.rulebase)]
        problems += [v.within("after") for v in validate(after, self.rulebase)]
        if problems:
            raise AssessmentError(problems)
        old = self._evaluate(before, checked=True, deadline=deadline).roadmap
        later = self._evaluate(after, checked=True, deadline=deadline)
        new, statuses = later.roadmap, later.statuses
        old_steps = {s.practice_id for s in old.steps}
        old_warnings = {(w.code, w.practice_ids): w for w in old.warnings}
        new_warnings = {(w.code, w.practice_ids): w for w in new.warnings}
        return Comparison(
            unit_id=after.unit_id,
            levels=tuple(
                LevelChange(a.model, a.level, b.level, a.progress, b.progress)
                for a, b in zip(old.levels, new.levels, strict=True)
            ),
            steps_completed=tuple(
                s.practice_id for s in old.steps if is_done(statuses.get(s.practice_id))
            ),
            steps_added=tuple(s.practice_id for s in new.steps if s.practice_id not in old_steps),
            warnings_resolved=tuple(
                w for key, w in old_warnings.items() if key not in new_warnings
            ),
            warnings_new=tuple(w for key, w in new_warnings.items() if key not in old_warnings),
        )

    def portfolio(
        self,
        assessments: Sequence[Assessment],
        *,
        top: int = 10,
        deadline: float | None = None,
    ) -> tuple[tuple[Roadmap, ...], PortfolioSummary]:
        """Every unit's roadmap and the portfolio's summary; all the assessments are
        validated first, each violation under its index (``assessments[3].unit_id``)."""
        problems = [
            v.within("assessments", index)
            for index, assessment in enumerate(assessments)
            for v in validate(assessment, self.rulebase)
        ]
        if problems:
            raise AssessmentError(problems)
        roadmaps = tuple(
            self._evaluate(a, checked=True, deadline=deadline).roadmap for a in assessments
        )
        return roadmaps, self.summarize(roadmaps, top=top)

    def summarize(self, roadmaps: Sequence[Roadmap], *, top: int = 10) -> PortfolioSummary:
        """Levels distribution and the prerequisites that hold back the most units."""
        counts: dict[str, Counter[int]] = defaultdict(Counter)
        blocked: dict[str, list[str]] = defaultdict(list)
        for roadmap in roadmaps:
            for standing in roadmap.levels:
                counts[standing.model][standing.level] += 1
            for step in roadmap.steps:
                if step.unlocks:
                    blocked[step.practice_id].append(roadmap.unit_id)
        ranked = sorted(blocked.items(), key=lambda item: (-len(set(item[1])), item[0]))[:top]
        return PortfolioSummary(
            units=len(roadmaps),
            levels=tuple(
                LevelDistribution(
                    model, tuple(LevelCount(level, n) for level, n in sorted(counter.items()))
                )
                for model, counter in sorted(counts.items())
            ),
            blockers=tuple(
                Blocker(
                    pid,
                    self.rulebase.practices[pid].title,
                    len(set(units)),
                    tuple(sorted(set(units))),
                )
                for pid, units in ranked
            ),
        )
