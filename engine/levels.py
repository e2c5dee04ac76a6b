"""Where a unit stands: the level reached per model and per axis.

The rule (also in rules/README.md): a level L counts when every applicable practice
at levels 2..L is adopted and there is at least one at L (level 1 is the baseline).
Not-applicable practices are left out. Partial adoption reaches no level; it counts as its progress fraction towards the
next level: (adopted + partial fractions) / applicable practices at levels up to the
next. Models without levels report coverage: the same fraction over all applicable
practices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.model import Status
from engine.results import AxisLevel, ModelLevel

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.assessment import PracticeStatus
    from engine.model import Model, Practice, RuleBase

PRECISION = 4  # digits kept in fractions, so results are byte-identical across runs


def credit(status: PracticeStatus | None) -> float:
    """How much of a practice is done: 1 adopted, its progress if partial, else 0."""
    if status is None or status.status is None:
        return 0.0
    if status.status is Status.ADOPTED:
        return 1.0
    if status.status is Status.PARTIAL:
        return status.progress
    return 0.0


def is_adopted(status: PracticeStatus | None) -> bool:
    return status is not None and status.status is Status.ADOPTED


def is_done(status: PracticeStatus | None) -> bool:
    """Adopted or not applicable: never a roadmap step, never a blocker."""
    return status is not None and status.status in (Status.ADOPTED, Status.NOT_APPLICABLE)


def _fraction(practices: Sequence[Practice], statuses: Mapping[str, PracticeStatus]) -> float:
    if not practices:
        return 1.0
    return round(sum(credit(statuses.get(p.id)) for p in practices) / len(practices), PRECISION)


def _reached(
    practices: Sequence[Practice], max_level: int, statuses: Mapping[str, PracticeStatus]
) -> tuple[int, float]:
    """(level, progress) of a set of practices under the rule above.

    Only a level at which the set has an applicable practice is ever granted: a level
    without one neither blocks nor counts, so an axis whose first practice sits at
    level 4 stays at level 1 until that practice is adopted.
    """
    applicable = [
        p
        for p in practices
        if not (s := statuses.get(p.id)) or s.status is not Status.NOT_APPLICABLE
    ]
    if max_level == 0:
        return 0, _fraction(applicable, statuses)
    by_level: dict[int, list[Practice]] = {}
    for practice in applicable:
        by_level.setdefault(practice.level or 0, []).append(practice)
    level = 1
    for candidate in sorted(n for n in by_level if 2 <= n <= max_level):
        if not all(is_adopted(statuses.get(p.id)) for p in by_level[candidate]):
            needed = [p for p in applicable if p.level is not None and p.level <= candidate]
            return level, _fraction(needed, statuses)
        level = candidate
    return level, 1.0


def model_level(
    model: Model, rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]
) -> ModelLevel:
    practices = rulebase.practices_of(model.id)
    level, progress = _reached(practices, model.max_level, statuses)
    by_axis: dict[str, list[Practice]] = {axis.id: [] for axis in model.axes}
    for practice in practices:
        by_axis[practice.axis].append(practice)
    axes = []
    for axis in model.axes:
        members = by_axis[axis.id]
        axis_level, axis_progress = _reached(members, model.max_level, statuses)
        axes.append(AxisLevel(axis=axis.id, level=axis_level, progress=axis_progress))
    return ModelLevel(
        model=model.id,
        level=level,
        max_level=model.max_level,
        progress=progress,
        axes=tuple(axes),
    )


def standings(rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]) -> tuple[ModelLevel, ...]:
    """Every model's standing, ordered by model id."""
    return tuple(
        model_level(rulebase.models[m], rulebase, statuses) for m in sorted(rulebase.models)
    )
