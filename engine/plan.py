"""Order a unit's next steps: which practices, in which waves, with which scores and why.

Plain Python, linear in the rule base (plus the steps' prerequisite edges):

1. **wanted**: the targets' practices (or, without targets, those of each levelled
   model's next level), practices context rules include, and the preconditions of
   outsourcing decisions; never a practice already adopted or not applicable;
2. **closure**: every unmet prerequisite of a wanted practice, transitively, with the
   prerequisites context rules add for this unit;
3. **scores**: the context rules' raises and lowers (whole points: what the seeds
   state), plus two generic terms that together stay under one point, so they only
   order what the seeds leave level: value against effort (``VALUE_EFFORT_WEIGHT``)
   and the later steps it unlocks (``UNLOCK_WEIGHT`` each, up to ``MAX_UNLOCK_BONUS``);
   every term is a reason, one per rule;
4. **waves**: list scheduling over the prerequisite graph, one wave per quarter: a
   wave takes the available steps (prerequisites all in earlier waves), urgent ones
   first (a warning said "before X"), then by score, then id, up to the capacity; a
   step larger than the capacity gets a wave of its own, with a warning. Waves past
   the horizon are reported as beyond it (quarter 0).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.graph import peel
from engine.levels import PRECISION, is_done
from engine.model import IncludeEffect, RequireEffect, ScoreEffect, WarnEffect
from engine.results import Reason, RoadmapWarning, Step

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from engine.assessment import Assessment, PracticeStatus
    from engine.model import ContextRule, Practice, RuleBase
    from engine.results import ModelLevel

#: Score per point of value/effort (0.2..5): at most 0.5.
VALUE_EFFORT_WEIGHT = 0.1
#: Score added per later step a step unlocks, directly or through others ...
UNLOCK_WEIGHT = 0.05
#: ... up to this much: the two generic terms together stay under one point.
MAX_UNLOCK_BONUS = 0.45
#: Effort points a quarter when the assessment does not say (two to four steps).
DEFAULT_QUARTER_CAPACITY = 8
#: Months planned when the assessment does not say: seed 001's "24-36 month timescale".
DEFAULT_HORIZON_MONTHS = 36
#: Where the engine's own scoring and inclusion rules are written down.
ENGINE_SOURCE = "engine: rules/README.md § How the roadmap is built"
#: How a context rule's reason starts when it made a step urgent, or brought it in.
_URGENT, _INCLUDED = "urgent: ", "included by rule: "


@dataclass(slots=True)
class Adjustments:
    """What the context rules that fired change for one unit."""

    by_practice: dict[str, list[tuple[float, ContextRule]]] = field(default_factory=dict)
    by_model: dict[str, list[tuple[str | None, float, ContextRule]]] = field(default_factory=dict)
    includes: dict[str, list[Reason]] = field(default_factory=dict)
    requires: dict[str, list[tuple[str, ContextRule]]] = field(default_factory=dict)
    warnings: list[RoadmapWarning] = field(default_factory=list)
    #: practices a warning says must come "before" other work, with the rule saying so
    urgent: dict[str, ContextRule] = field(default_factory=dict)
    # Model- and axis-wide reasons, built once per (model, axis): not once per step.
    _wide: dict[tuple[str, str], list[Reason]] = field(default_factory=dict)

    def score_reasons(self, practice: Practice) -> list[Reason]:
        reasons = [_reason(rule, amount) for amount, rule in self.by_practice.get(practice.id, ())]
        key = (practice.model, practice.axis)
        if key not in self._wide:
            self._wide[key] = [
                _reason(rule, amount)
                for axis, amount, rule in self.by_model.get(practice.model, ())
                if axis in (None, practice.axis)
            ]
        return reasons + self._wide[key]

    def warn(self, effect: WarnEffect, rule: ContextRule) -> None:
        self.warnings.append(RoadmapWarning(effect.code, effect.message, effect.practices, rule.id))
        if effect.urgent:
            for pid in effect.practices:
                self.urgent.setdefault(pid, rule)

    def requires_of(self, practice: Practice) -> tuple[str, ...]:
        added = tuple(
            r for r, _ in self.requires.get(practice.id, ()) if r not in practice.requires
        )
        return practice.requires + added


def _reason(rule: ContextRule, amount: float) -> Reason:
    return Reason(rule.id, rule.source.cite(), amount, rule.title)


def adjustments(fired: Sequence[ContextRule]) -> Adjustments:
    """Collect the effects of the fired rules, in rule base order."""
    adj = Adjustments()
    for rule in fired:
        for effect in rule.effects:
            if isinstance(effect, ScoreEffect):
                if effect.practices:
                    for pid in effect.practices:
                        adj.by_practice.setdefault(pid, []).append((effect.amount, rule))
                elif effect.model is not None:
                    entry = (effect.axis, effect.amount, rule)
                    adj.by_model.setdefault(effect.model, []).append(entry)
            elif isinstance(effect, IncludeEffect):
                reason = Reason(rule.id, rule.source.cite(), 0.0, f"{_INCLUDED}{rule.title}")
                for pid in effect.practices:
                    adj.includes.setdefault(pid, []).append(reason)
            elif isinstance(effect, RequireEffect):
                for required in effect.requires:
                    adj.requires.setdefault(effect.practice, []).append((required, rule))
            elif isinstance(effect, WarnEffect):
                adj.warn(effect, rule)
    return adj


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    warnings: tuple[RoadmapWarning, ...]
    wanted: frozenset[str]
    horizon_months: int
    quarter_capacity: int


def _wanted_practices(
    rulebase: RuleBase,
    assessment: Assessment,
    statuses: Mapping[str, PracticeStatus],
    levels: Sequence[ModelLevel],
) -> dict[str, list[Reason]]:
    """Practices the unit aims at (targets, or each levelled model's next level)."""
    wanted: dict[str, list[Reason]] = {}

    def want(practice: Practice, reason: Reason) -> None:
        if not is_done(statuses.get(practice.id)):
            wanted.setdefault(practice.id, []).append(reason)

    if assessment.targets:
        for target in assessment.targets:
            model = rulebase.models[target.model]
            aim = f"level {target.level}" if model.has_levels else "all practices"
            reason = Reason("plan.target", ENGINE_SOURCE, 0.0, f"target: {model.id} {aim}")
            for practice in rulebase.practices_of(model.id):
                if not model.has_levels or (practice.level or 0) <= target.level:
                    want(practice, reason)
        return wanted
    for standing in levels:
        if standing.max_level == 0 or standing.level >= standing.max_level:
            continue
        model = rulebase.models[standing.model]
        goal = standing.level + 1
        title = model.levels[goal - 1].title
        reason = Reason(
            "plan.next-level", ENGINE_SOURCE, 0.0, f"next level of {model.id}: {goal} ({title})"
        )
        for practice in rulebase.practices_of(model.id):
            if (practice.level or 0) <= goal:
                want(practice, reason)
    return wanted


def plan(
    rulebase: RuleBase,
    assessment: Assessment,
    *,
    statuses: Mapping[str, PracticeStatus],
    levels: Sequence[ModelLevel],
    adj: Adjustments,
    extra: Mapping[str, Reason],
) -> Plan:
    """The roadmap's steps (ordered by wave, score, id) and the planner's warnings."""
    wanted = _wanted_practices(rulebase, assessment, statuses, levels)
    for pid, reasons in [*adj.includes.items(), *((p, [r]) for p, r in extra.items())]:
        if not is_done(statuses.get(pid)):
            wanted.setdefault(pid, []).extend(reasons)

    members, requires, needed_by = _closure(rulebase, wanted, statuses, adj)
    order = _topological(requires)
    unlocked = _descendant_counts(order, needed_by)
    urgent = _urgent(adj, requires)
    scored = {
        pid: _score(rulebase.practices[pid], members[pid], adj, urgent.get(pid), unlocked[pid])
        for pid in order
    }
    rank = _rank(order, scored, needed_by)
    capacity = assessment.wave_capacity or DEFAULT_QUARTER_CAPACITY
    horizon = assessment.horizon_months or DEFAULT_HORIZON_MONTHS
    quarters = -(-horizon // 3)
    waves, warnings = _waves(
        rulebase, requires, needed_by, rank=rank, urgent=urgent, capacity=capacity
    )
    steps = [
        Step(
            practice_id=pid,
            title=rulebase.practices[pid].title,
            model=rulebase.practices[pid].model,
            axis=rulebase.practices[pid].axis,
            level=rulebase.practices[pid].level,
            wave=waves[pid],
            score=scored[pid][0],
            effort=rulebase.practices[pid].effort,
            reasons=tuple(scored[pid][1]),
            unlocks=tuple(sorted(needed_by.get(pid, ()))),
            requires=tuple(sorted(requires[pid])),
            quarter=waves[pid] if waves[pid] <= quarters else 0,
        )
        for pid in members
    ]
    steps.sort(key=lambda s: (s.wave, s.practice_id not in urgent, -s.score, s.practice_id))
    if beyond := tuple(s.practice_id for s in steps if s.quarter == 0):
        warnings.append(
            RoadmapWarning(
                "steps-beyond-horizon",
                f"{len(beyond)} of {len(steps)} steps do not fit in the {horizon}-month horizon "
                f"at {capacity} effort points a quarter: plan them at the next review, or raise "
                "the capacity",
                beyond,
                "plan.horizon",
            )
        )
    return Plan(tuple(steps), tuple(warnings), frozenset(wanted), horizon, capacity)


def _score(
    practice: Practice,
    why: Sequence[Reason],
    adj: Adjustments,
    urgent: ContextRule | None,
    unlocked: int,
) -> tuple[float, list[Reason]]:
    """A step's score and its reasons, one per rule (the score is their sum)."""
    base = round(VALUE_EFFORT_WEIGHT * practice.value / practice.effort, PRECISION)
    reasons = [
        *(
            [Reason(urgent.id, urgent.source.cite(), 0.0, f"{_URGENT}{urgent.title}")]
            if urgent
            else []
        ),
        *why,
        Reason(
            "plan.value-effort",
            ENGINE_SOURCE,
            base,
            f"value {practice.value} against effort {practice.effort}",
        ),
        *adj.score_reasons(practice),
    ]
    if unlocked:
        amount = round(min(UNLOCK_WEIGHT * unlocked, MAX_UNLOCK_BONUS), PRECISION)
        reasons.append(
            Reason("plan.unlocks", ENGINE_SOURCE, amount, f"unlocks {unlocked} later step(s)")
        )
    merged = one_per_rule(reasons)
    return round(sum(r.amount for r in merged), PRECISION), merged


def _rank(
    order: Sequence[str],
    scored: Mapping[str, tuple[float, list[Reason]]],
    needed_by: Mapping[str, set[str]],
) -> dict[str, float]:
    """The priority each step is scheduled with: its score, or that of the most pressing
    step waiting for it (a raised step never waits behind its own groundwork's low
    score); a step brought forward says so among its reasons."""
    rank: dict[str, float] = {}
    for pid in reversed(order):
        own, reasons = scored[pid]
        rank[pid], lead = max(
            [(own, pid), *((rank[d], d) for d in sorted(needed_by.get(pid, ())))],
            key=lambda item: item[0],
        )
        if lead != pid:
            reasons.append(
                Reason(
                    "plan.brought-forward",
                    ENGINE_SOURCE,
                    0.0,
                    f"scheduled with the priority of {lead} ({rank[pid]:g}), which waits for it",
                )
            )
    return rank


def one_per_rule(reasons: Sequence[Reason]) -> list[Reason]:
    """One reason per rule: a rule that both includes and raises a step (or makes it
    urgent) is one line, with its amounts summed and its roles in one text."""
    merged: dict[str, Reason] = {}
    for reason in reasons:
        if (first := merged.get(reason.rule_id)) is None:
            merged[reason.rule_id] = reason
            continue
        text = first.text
        if text.startswith(_URGENT) and reason.text.startswith(_INCLUDED):
            text = "urgent, " + reason.text
        amount = round(first.amount + reason.amount, PRECISION)
        merged[reason.rule_id] = Reason(first.rule_id, first.source, amount, text)
    return list(merged.values())


def _urgent(adj: Adjustments, requires: Mapping[str, Sequence[str]]) -> dict[str, ContextRule]:
    """Steps an urgent warning names, and every step they wait for, with its rule."""
    urgent: dict[str, ContextRule] = {}
    stack = [(pid, rule) for pid, rule in adj.urgent.items() if pid in requires]
    while stack:
        pid, rule = stack.pop()
        if pid in urgent:
            continue
        urgent[pid] = rule
        stack.extend((required, rule) for required in requires[pid])
    return urgent


def prerequisite_walk(
    rulebase: RuleBase,
    roots: Iterable[str],
    statuses: Mapping[str, PracticeStatus],
    adj: Adjustments,
) -> dict[str, tuple[str, ...]]:
    """The roots and every unmet prerequisite reachable from them, each with its unmet
    direct prerequisites. Not-applicable prerequisites do not block; adopted ones are met."""
    requires: dict[str, tuple[str, ...]] = {}
    stack = sorted(roots)
    seen = set(stack)
    while stack:
        pid = stack.pop()
        requires[pid] = tuple(
            r
            for r in dict.fromkeys(adj.requires_of(rulebase.practices[pid]))
            if not is_done(statuses.get(r))
        )
        for required in requires[pid]:
            if required not in seen:
                seen.add(required)
                stack.append(required)
    return requires


def _closure(
    rulebase: RuleBase,
    wanted: Mapping[str, list[Reason]],
    statuses: Mapping[str, PracticeStatus],
    adj: Adjustments,
) -> tuple[dict[str, list[Reason]], dict[str, tuple[str, ...]], dict[str, set[str]]]:
    """Wanted practices plus every unmet prerequisite, with each one's direct edges."""
    requires = prerequisite_walk(rulebase, wanted, statuses, adj)
    members: dict[str, list[Reason]] = {pid: list(reasons) for pid, reasons in wanted.items()}
    needed_by: dict[str, set[str]] = defaultdict(set)
    for pid, direct in requires.items():
        members.setdefault(pid, [])
        for required in direct:
            needed_by[required].add(pid)
    for pid, users in needed_by.items():
        members[pid].append(
            Reason(
                "plan.prerequisite",
                ENGINE_SOURCE,
                0.0,
                f"prerequisite of {', '.join(sorted(users))}",
            )
        )
    for pid, rules in adj.requires.items():
        for required, rule in rules:
            if pid in members and required in members:
                text = f"prerequisite {required} added by rule: {rule.title}"
                members[pid].append(Reason(rule.id, rule.source.cite(), 0.0, text))

    return members, requires, needed_by


def _topological(requires: Mapping[str, Sequence[str]]) -> list[str]:
    """Prerequisites before dependants; ties by id, so the order is deterministic."""
    order, tangled = peel(requires)
    if tangled:  # the loader refuses cycles; this guards the invariant
        raise AssertionError(f"prerequisite cycle among roadmap steps: {sorted(tangled)}")
    return order


def _descendant_counts(order: Sequence[str], needed_by: Mapping[str, set[str]]) -> dict[str, int]:
    """How many steps depend on each step, transitively (bitsets over the order)."""
    position = {pid: n for n, pid in enumerate(order)}
    below: dict[str, int] = {}
    for pid in reversed(order):
        bits = 0
        for dependant in needed_by.get(pid, ()):
            bits |= below[dependant] | (1 << position[dependant])
        below[pid] = bits
    return {pid: bits.bit_count() for pid, bits in below.items()}


def _waves(
    rulebase: RuleBase,
    requires: Mapping[str, Sequence[str]],
    needed_by: Mapping[str, set[str]],
    *,
    rank: Mapping[str, float],
    urgent: Mapping[str, object],
    capacity: int | None,
) -> tuple[dict[str, int], list[RoadmapWarning]]:
    """List scheduling: each wave takes, urgent first, then by rank (the step's score, or
    that of the most pressing step waiting for it) and id, the available steps that fit.

    One heap per effort value: the best step that still fits is the best head among
    the heaps of efforts up to the remaining capacity, so a wave costs O(log n) per
    step. (Remaining capacity only shrinks, so this is first-fit in score order.)
    """
    pending = {pid: len(requires[pid]) for pid in rank}
    heaps: dict[int, list[tuple[bool, float, str]]] = defaultdict(list)

    def release(pid: str) -> None:
        key = (pid not in urgent, -rank[pid], pid)
        heapq.heappush(heaps[rulebase.practices[pid].effort], key)

    for pid, count in pending.items():
        if count == 0:
            release(pid)
    waves: dict[str, int] = {}
    warnings: list[RoadmapWarning] = []
    wave = 0
    while (overall := _best(heaps, None)) is not None:
        wave += 1
        chosen: list[str] = []
        if capacity is not None and overall > capacity:
            pid = heapq.heappop(heaps[overall])[2]
            chosen.append(pid)
            warnings.append(
                RoadmapWarning(
                    "step-exceeds-wave-capacity",
                    f"{pid} needs {overall} effort points, more than the wave capacity of "
                    f"{capacity}: it gets wave {wave} to itself",
                    (pid,),
                    "plan.capacity",
                )
            )
        else:
            remaining = capacity
            while (effort := _best(heaps, remaining)) is not None:
                chosen.append(heapq.heappop(heaps[effort])[2])
                if remaining is not None:
                    remaining -= effort
        for pid in chosen:
            waves[pid] = wave
        for pid in chosen:
            for dependant in needed_by.get(pid, ()):
                pending[dependant] -= 1
                if pending[dependant] == 0:
                    release(dependant)
    return waves, warnings


def _best(heaps: Mapping[int, list[tuple[bool, float, str]]], limit: int | None) -> int | None:
    """The effort whose heap holds the best step of effort up to ``limit``, if any."""
    candidates = [e for e, heap in heaps.items() if heap and (limit is None or e <= limit)]
    return min(candidates, key=lambda e: heaps[e][0]) if candidates else None
