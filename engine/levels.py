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
    from engine.model import Model, RuleBase

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


#: An applicable practice as levels read it: (its level, its credit, adopted).
_Entry = tuple[int | None, float, bool]
_ADOPTED, _PARTIAL, _NOT_APPLICABLE = Status.ADOPTED, Status.PARTIAL, Status.NOT_APPLICABLE


def _standing(entries: Sequence[_Entry], max_level: int) -> tuple[int, float]:
    """(level, progress) of a set of applicable practices, in rule base order, under
    the rule above.

    Only a level at which the set has a practice is ever granted: a level without one
    neither blocks nor counts, so an axis whose first practice sits at level 4 stays at
    level 1 until that practice is adopted. Sums run in rule base order, so fractions
    are the same to the last bit however the practices are grouped.
    """
    if not entries:
        return (0 if max_level == 0 else 1), 1.0
    if max_level == 0:
        return 0, round(sum([c for _, c, _ in entries]) / len(entries), PRECISION)
    present = set()
    blocked = max_level + 1  # the lowest level with a practice not adopted
    for level, _, adopted in entries:
        if level is not None and 2 <= level <= max_level:
            present.add(level)
            if not adopted and level < blocked:
                blocked = level
    reached = max([n for n in present if n < blocked], default=1)
    if blocked > max_level:
        return reached, 1.0
    needed = [c for n, c, _ in entries if n is not None and n <= blocked]
    return reached, round(sum(needed) / len(needed), PRECISION)


def model_level(
    model: Model, rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]
) -> ModelLevel:
    """The model's level and progress, and each axis's: one pass over its practices."""
    everything: list[_Entry] = []
    by_axis: dict[str, list[_Entry]] = {axis.id: [] for axis in model.axes}
    get = statuses.get
    for practice in rulebase.practices_of(model.id):
        status = get(practice.id)
        if status is None:
            entry = (practice.level, 0.0, False)
        else:
            state = status.status
            if state is _NOT_APPLICABLE:
                continue
            if state is _ADOPTED:
                entry = (practice.level, 1.0, True)
            else:
                entry = (practice.level, status.progress if state is _PARTIAL else 0.0, False)
        everything.append(entry)
        by_axis[practice.axis].append(entry)
    level, progress = _standing(everything, model.max_level)
    return ModelLevel(
        model=model.id,
        level=level,
        max_level=model.max_level,
        progress=progress,
        axes=tuple(
            [AxisLevel(a.id, *_standing(by_axis[a.id], model.max_level)) for a in model.axes]
        ),
    )


def standings(rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]) -> tuple[ModelLevel, ...]:
    """Every model's standing, ordered by model id."""
    return tuple(
        model_level(rulebase.models[m], rulebase, statuses) for m in sorted(rulebase.models)
    )
