"""Where a unit stands: the level reached per model and per axis.

The rule (also in rules/README.md): a level L counts when every applicable practice
at levels 2..L is adopted and there is at least one at L (level 1 is the baseline).
Not-applicable practices are left out. Partial adoption reaches no level; it counts as its progress fraction towards the
next level: (adopted + partial fractions) / applicable practices at levels up to the
next. Models without levels report coverage: the same fraction over all applicable
practices.
"""

from __future__ import annotations

from dataclasses import dataclass
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


#: An applicable practice as levels read it: (its level, its credit, adopted). A
#: practice without a level reads as one above the model's top (``max_level + 1``):
#: like that, it never blocks, never counts as present and is never needed.
_Entry = tuple[int, float, bool]
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
    blocked = max_level + 1  # the lowest level with a practice not adopted
    for level, _, adopted in entries:
        if not adopted and 2 <= level < blocked:
            blocked = level
    reached = 1  # the highest level with a practice, below the blocked one
    for level, _, _ in entries:
        if reached < level < blocked:
            reached = level
    if blocked > max_level:
        return reached, 1.0
    needed = [c for n, c, _ in entries if n <= blocked]
    return reached, round(sum(needed) / len(needed), PRECISION)


@dataclass(frozen=True, slots=True)
class _Layout:
    """A model's practices as levels read them, built once per rule base: per practice
    its id, its axis's index and its entry when not started and when adopted (the
    common cases, so most practices cost no new tuple)."""

    practices: tuple[tuple[str, int, int, _Entry, _Entry], ...]
    axes: tuple[str, ...]


def _layouts(rulebase: RuleBase) -> dict[str, _Layout]:
    layouts = {}
    for model in rulebase.models.values():
        index = {axis.id: n for n, axis in enumerate(model.axes)}
        above = model.max_level + 1  # where a practice without a level reads (_Entry)
        rows = []
        for p in rulebase.practices_of(model.id):
            level = above if p.level is None else p.level
            rows.append((p.id, index[p.axis], level, (level, 0.0, False), (level, 1.0, True)))
        layouts[model.id] = _Layout(tuple(rows), model.axis_ids())
    return layouts


def model_level(
    model: Model, rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]
) -> ModelLevel:
    """The model's level and progress, and each axis's: one pass over its practices."""
    layout = rulebase.derived("levels.layouts", _layouts)[model.id]
    everything: list[_Entry] = []
    by_axis: list[list[_Entry]] = [[] for _ in layout.axes]
    get = statuses.get
    for pid, axis, level, not_started, adopted in layout.practices:
        status = get(pid)
        if status is None:
            entry = not_started
        else:
            state = status.status
            if state is _NOT_APPLICABLE:
                continue
            if state is _ADOPTED:
                entry = adopted
            elif state is _PARTIAL:
                entry = (level, status.progress, False)
            else:
                entry = not_started
        everything.append(entry)
        by_axis[axis].append(entry)
    top = model.max_level
    level, progress = _standing(everything, top)
    return ModelLevel(
        model=model.id,
        level=level,
        max_level=top,
        progress=progress,
        axes=tuple(
            [AxisLevel(axis, *_standing(by_axis[n], top)) for n, axis in enumerate(layout.axes)]
        ),
    )


def standings(rulebase: RuleBase, statuses: Mapping[str, PracticeStatus]) -> tuple[ModelLevel, ...]:
    """Every model's standing, ordered by model id."""
    models = rulebase.derived("levels.models", _models_by_id)
    return tuple([model_level(model, rulebase, statuses) for model in models])


def _models_by_id(rulebase: RuleBase) -> tuple[Model, ...]:
    """The models in the order standings list them (by id), sorted once per rule base."""
    return tuple(rulebase.models[m] for m in sorted(rulebase.models))
