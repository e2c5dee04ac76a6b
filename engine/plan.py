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


@dataclass(frozen=True, slots=True)
class _Said:
    """What a context rule says in reasons, built once per rule base: its citation and
    the reasons of its effects (they depend on the rule alone)."""

    rule: ContextRule
    cite: str
    urgent: Reason
    included: Reason
    scores: Mapping[float, Reason]  # by amount, one per score effect


def _said(rulebase: RuleBase) -> dict[str, _Said]:
    said = {}
    for rule in rulebase.context_rules:
        cite = rule.source.cite()
        said[rule.id] = _Said(
            rule,
            cite,
            urgent=Reason(rule.id, cite, 0.0, f"{_URGENT}{rule.title}"),
            included=Reason(rule.id, cite, 0.0, f"{_INCLUDED}{rule.title}"),
            scores={
                effect.amount: Reason(rule.id, cite, effect.amount, rule.title)
                for effect in rule.effects
                if isinstance(effect, ScoreEffect)
            },
        )
    return said


@dataclass(slots=True)
class Adjustments:
    """What the context rules that fired change for one unit."""

    #: score reasons of the rules that name the practice, and of model- or axis-wide
    #: rules (with the axis they are limited to, if any)
    by_practice: dict[str, list[Reason]] = field(default_factory=dict)
    by_model: dict[str, list[tuple[str | None, Reason]]] = field(default_factory=dict)
    includes: dict[str, list[Reason]] = field(default_factory=dict)
    requires: dict[str, list[tuple[str, ContextRule]]] = field(default_factory=dict)
    warnings: list[RoadmapWarning] = field(default_factory=list)
    #: practices a warning says must come "before" other work, with the rule saying so
    urgent: dict[str, ContextRule] = field(default_factory=dict)
    # Model- and axis-wide reasons, gathered once per (model, axis): not once per step.
    _wide: dict[tuple[str, str], list[Reason]] = field(default_factory=dict)

    def score_reasons(self, practice: Practice) -> list[Reason]:
        key = (practice.model, practice.axis)
        wide = self._wide.get(key)
        if wide is None:
            wide = self._wide[key] = [
                reason
                for axis, reason in self.by_model.get(practice.model, ())
                if axis in (None, practice.axis)
            ]
        own = self.by_practice.get(practice.id)
        return [*own, *wide] if own else list(wide)

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


def adjustments(rulebase: RuleBase, fired: Sequence[str]) -> Adjustments:
    """Collect the effects of the fired rules (by id), in rule base order."""
    said = rulebase.derived("plan.said", _said)
    adj = Adjustments()
    for rule_id in fired:
        says = said[rule_id]
        rule = says.rule
        for effect in rule.effects:
            if isinstance(effect, ScoreEffect):
                reason = says.scores[effect.amount]
                if effect.practices:
                    for pid in effect.practices:
                        adj.by_practice.setdefault(pid, []).append(reason)
                elif effect.model is not None:
                    adj.by_model.setdefault(effect.model, []).append((effect.axis, reason))
            elif isinstance(effect, IncludeEffect):
                for pid in effect.practices:
                    adj.includes.setdefault(pid, []).append(says.included)
            elif isinstance(effect, RequireEffect):
                for required in effect.requires:
                    adj.requires.setdefault(effect.practice, []).append((required, rule))
            elif isinstance(effect, WarnEffect):
                adj.warn(effect, rule)
    return adj


@dataclass(frozen=True, slots=True)
class _Tables:
    """What planning reads from the rule base, built once per rule base."""

    #: per model, its practices in rule base order with their level (0: none)
    levelled: Mapping[str, tuple[tuple[str, int], ...]]
    #: per (model, level), the reason "next level of ..." for the practices up to it
    next_level: Mapping[tuple[str, int], Reason]
    #: per practice, its value-against-effort reason (the term is its amount)
    value_effort: Mapping[str, Reason]
    #: per practice, its prerequisites without repeats
    requires: Mapping[str, tuple[str, ...]]
    #: "unlocks n later step(s)" by n, filled as counts occur (at most one per practice)
    unlocks: dict[int, Reason]


def _tables(rulebase: RuleBase) -> _Tables:
    value_effort = {}
    for p in rulebase.practices.values():
        base = round(VALUE_EFFORT_WEIGHT * p.value / p.effort, PRECISION)
        text = f"value {p.value} against effort {p.effort}"
        value_effort[p.id] = Reason("plan.value-effort", ENGINE_SOURCE, base, text)
    return _Tables(
        levelled={
            m: tuple((p.id, p.level or 0) for p in rulebase.practices_of(m))
            for m in rulebase.models
        },
        next_level={
            (model.id, level.number): Reason(
                "plan.next-level",
                ENGINE_SOURCE,
                0.0,
                f"next level of {model.id}: {level.number} ({level.title})",
            )
            for model in rulebase.models.values()
            for level in model.levels
        },
        value_effort=value_effort,
        requires={pid: tuple(dict.fromkeys(p.requires)) for pid, p in rulebase.practices.items()},
        unlocks={},
    )


def _unlocks(tables: _Tables, unlocked: int) -> Reason:
    reason = tables.unlocks.get(unlocked)
    if reason is None:
        amount = round(min(UNLOCK_WEIGHT * unlocked, MAX_UNLOCK_BONUS), PRECISION)
        text = f"unlocks {unlocked} later step(s)"
        reason = tables.unlocks[unlocked] = Reason("plan.unlocks", ENGINE_SOURCE, amount, text)
    return reason


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
    tables = rulebase.derived("plan.tables", _tables)
    levelled, get = tables.levelled, statuses.get

    def want(model: str, up_to: int | None, reason: Reason) -> None:
        """The model's practices not done, up to a level (None: all of them)."""
        for pid, level in levelled[model]:
            if (up_to is None or level <= up_to) and not is_done(get(pid)):
                wanted.setdefault(pid, []).append(reason)

    if assessment.targets:
        for target in assessment.targets:
            model = rulebase.models[target.model]
            aim = f"level {target.level}" if model.has_levels else "all practices"
            reason = Reason("plan.target", ENGINE_SOURCE, 0.0, f"target: {model.id} {aim}")
            want(model.id, target.level if model.has_levels else None, reason)
        return wanted
    for standing in levels:
        if standing.max_level == 0 or standing.level >= standing.max_level:
            continue
        goal = standing.level + 1
        want(standing.model, goal, tables.next_level[standing.model, goal])
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

    tables = rulebase.derived("plan.tables", _tables)
    said = rulebase.derived("plan.said", _said)
    members, requires, needed_by = _closure(rulebase, wanted, statuses, adj)
    order = _topological(requires)
    unlocked = _descendant_counts(order, needed_by)
    urgent = _urgent(adj, requires)
    practices = rulebase.practices
    scored = {}
    for pid in order:
        rule = urgent.get(pid)
        scored[pid] = _score(
            practices[pid],
            members[pid],
            adj,
            urgent=said[rule.id].urgent if rule is not None else None,
            value_effort=tables.value_effort[pid],
            unlocks=_unlocks(tables, unlocked[pid]) if unlocked[pid] else None,
        )
    rank = _rank(order, scored, needed_by)
    capacity = assessment.wave_capacity or DEFAULT_QUARTER_CAPACITY
    horizon = assessment.horizon_months or DEFAULT_HORIZON_MONTHS
    quarters = -(-horizon // 3)
    waves, warnings = _waves(
        rulebase, requires, needed_by, rank=rank, urgent=urgent, capacity=capacity
    )
    steps = []
    for pid in members:
        practice, wave = practices[pid], waves[pid]
        score, reasons = scored[pid]
        steps.append(
            Step(
                practice_id=pid,
                title=practice.title,
                model=practice.model,
                axis=practice.axis,
                level=practice.level,
                wave=wave,
                score=score,
                effort=practice.effort,
                reasons=tuple(reasons),
                unlocks=tuple(sorted(needed_by[pid])) if pid in needed_by else (),
                requires=tuple(sorted(requires[pid])),
                quarter=wave if wave <= quarters else 0,
            )
        )
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
    *,
    urgent: Reason | None,
    value_effort: Reason,
    unlocks: Reason | None,
) -> tuple[float, list[Reason]]:
    """A step's score and its reasons, one per rule (the score is their sum)."""
    reasons = [urgent] if urgent is not None else []
    reasons += why
    reasons.append(value_effort)
    reasons += adj.score_reasons(practice)
    if unlocks is not None:
        reasons.append(unlocks)
    merged = one_per_rule(reasons)
    return round(sum([r.amount for r in merged]), PRECISION), merged


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
        # the first of the highest: its own score, then its dependants by id
        best, lead = own, pid
        for dependant in sorted(needed_by.get(pid, ())):
            if rank[dependant] > best:
                best, lead = rank[dependant], dependant
        rank[pid] = best
        if lead != pid:
            reasons.append(
                Reason(
                    "plan.brought-forward",
                    ENGINE_SOURCE,
                    0.0,
                    f"scheduled with the priority of {lead} ({best:g}), which waits for it",
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
    direct = rulebase.derived("plan.tables", _tables).requires
    stack = sorted(roots)
    seen = set(stack)
    get = statuses.get
    while stack:
        pid = stack.pop()
        edges = (
            dict.fromkeys(adj.requires_of(rulebase.practices[pid]))
            if pid in adj.requires
            else direct[pid]
        )
        requires[pid] = unmet = tuple([r for r in edges if not is_done(get(r))])
        for required in unmet:
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
    said = rulebase.derived("plan.said", _said)
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
                members[pid].append(Reason(rule.id, said[rule.id].cite, 0.0, text))

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
    best: int | None = None
    head: tuple[bool, float, str] | None = None
    for effort, heap in heaps.items():
        if heap and (limit is None or effort <= limit) and (head is None or heap[0] < head):
            best, head = effort, heap[0]
    return best
