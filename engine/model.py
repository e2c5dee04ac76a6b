"""Domain values of a rule base: models, practices, context and outsourcing rules.

All values are frozen: a loaded rule base is shared read-only by every evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from engine.conditions import Condition
from engine.errors import FieldViolation, closest, quoted


class Status(StrEnum):
    """Adoption status of a practice in an assessment (also the vocabulary of rules)."""

    ADOPTED = "adopted"
    PARTIAL = "partial"
    NOT_APPLICABLE = "not-applicable"
    NOT_STARTED = "not-started"


class Recommendation(StrEnum):
    DECOMMISSION = "decommission"
    OUTSOURCE = "outsource"
    #: already sourced externally: re-tender or benchmark the contract, not outsource again
    RETENDER = "retender"
    RETAIN = "retain"
    INVEST = "invest"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry is written: file and line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Source:
    """Where an entry comes from: a seed passage, or our own addition and why."""

    seed: str | None = None
    section: str | None = None
    quote: str | None = None
    addition: str | None = None
    assumption: str | None = None  # ours, inside a seed-sourced entry (e.g. a threshold)

    def cite(self) -> str:
        """Short citation for reasons and listings."""
        cited = (
            f"own addition: {self.addition}"
            if self.addition is not None
            else f"{self.seed} § {self.section}"
        )
        return cited if self.assumption is None else f"{cited} (assumption: {self.assumption})"


@dataclass(frozen=True, slots=True)
class Level:
    number: int
    title: str


@dataclass(frozen=True, slots=True)
class Axis:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    title: str
    description: str
    levels: tuple[Level, ...]
    axes: tuple[Axis, ...]
    source: Source
    origin: Origin = field(compare=False)

    @property
    def has_levels(self) -> bool:
        return bool(self.levels)

    @property
    def max_level(self) -> int:
        return len(self.levels)

    def axis_ids(self) -> tuple[str, ...]:
        return tuple(axis.id for axis in self.axes)


@dataclass(frozen=True, slots=True)
class Practice:
    id: str
    title: str
    description: str
    model: str
    axis: str
    level: int | None
    requires: tuple[str, ...]
    effort: int
    value: int
    source: Source
    origin: Origin = field(compare=False)
    aliases: tuple[str, ...] = ()  # retired ids merged into this practice


@dataclass(frozen=True, slots=True)
class ScoreEffect:
    """Raise (positive ``amount``) or lower (negative) the score of matching practices."""

    amount: float
    practices: tuple[str, ...] = ()
    model: str | None = None
    axis: str | None = None

    def applies_to(self, practice: Practice) -> bool:
        if self.practices:
            return practice.id in self.practices
        return practice.model == self.model and self.axis in (None, practice.axis)


@dataclass(frozen=True, slots=True)
class IncludeEffect:
    """Bring practices (and their prerequisites) into the roadmap."""

    practices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequireEffect:
    """Add prerequisites to one practice for this unit."""

    practice: str
    requires: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WarnEffect:
    code: str
    message: str
    practices: tuple[str, ...]
    urgent: bool = False  # "before X": its practices come as early as prerequisites allow


Effect = ScoreEffect | IncludeEffect | RequireEffect | WarnEffect


@dataclass(frozen=True, slots=True)
class ContextRule:
    id: str
    title: str
    when: Condition
    effects: tuple[Effect, ...]
    source: Source
    origin: Origin = field(compare=False)


@dataclass(frozen=True, slots=True)
class OutsourcingRule:
    id: str
    title: str
    when: Condition
    recommendation: Recommendation
    saving_fraction: float
    reason: str
    source: Source
    origin: Origin = field(compare=False)


@dataclass(frozen=True, slots=True)
class OutsourcingPolicy:
    """Outsourcing rules in precedence order, the fallback and the preconditions."""

    rules: tuple[OutsourcingRule, ...]
    fallback: Recommendation
    fallback_reason: str
    provisional_unless_adopted: tuple[str, ...]
    source: Source
    origin: Origin = field(compare=False)


_T = TypeVar("_T")


class Memo(dict[str, object]):
    """What evaluations derive from a rule base alone (tables, reasons, messages), each
    computed on first use. A pickled rule base (sent to a worker) leaves it behind: the
    copy derives its own."""

    def __reduce__(self) -> tuple[type[Memo], tuple[()]]:
        return Memo, ()


@dataclass(frozen=True, slots=True)
class RuleBase:
    """A validated rule base. Construct it with :func:`engine.rulebase.load_rulebase`."""

    version: str
    title: str
    digest: str
    models: Mapping[str, Model]
    practices: Mapping[str, Practice]
    context_rules: tuple[ContextRule, ...]
    outsourcing: OutsourcingPolicy | None

    by_model: Mapping[str, tuple[Practice, ...]] = field(default_factory=dict, compare=False)
    #: Retired practice id -> the practice it was merged into (indexed when loaded).
    aliases: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: Per-rule-base precomputations, filled on first use: see :meth:`derived`.
    memo: Memo = field(default_factory=Memo, init=False, compare=False, repr=False)

    def derived(self, key: str, build: Callable[[RuleBase], _T]) -> _T:
        """``build(self)``, computed once per rule base: what every evaluation would
        otherwise recompute from the rule base alone. (Two threads racing may both
        build it; either result is the same.)"""
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = build(self)
        return found  # type: ignore[return-value]

    def practices_of(self, model: str) -> tuple[Practice, ...]:
        """The model's practices, in rule base order (indexed when the rule base loads)."""
        return self.by_model.get(model, ())

    def canonical(self, practice_id: str) -> str:
        """The practice id itself, or the id an alias was merged into."""
        return self.aliases.get(practice_id, practice_id)

    def knows(self, practice_id: str) -> bool:
        """A practice id or an alias of one."""
        return practice_id in self.practices or practice_id in self.aliases

    def selection_problems(
        self, model: str = "", axis: str = "", level: int = 0
    ) -> list[FieldViolation]:
        """What is wrong with a practice filter (empty or 0: any), field by field."""
        problems = []
        found = self.models.get(model) if model else None
        if model and found is None:
            problems.append(
                FieldViolation(
                    ("model",),
                    f"unknown model {quoted(model)} (known: {', '.join(self.models)})",
                    closest(model, self.models),
                )
            )
        if axis and found is not None and axis not in found.axis_ids():
            problems.append(
                FieldViolation(
                    ("axis",),
                    f"unknown axis {quoted(axis)} for model '{found.id}'",
                    closest(axis, found.axis_ids()),
                )
            )
        if level < 0:
            problems.append(FieldViolation(("level",), "must not be negative"))
        return problems

    def select(self, model: str = "", axis: str = "", level: int = 0) -> tuple[Practice, ...]:
        """The practices matching a filter (empty or 0: any), in rule base order."""
        return tuple(
            p
            for p in (self.practices_of(model) if model else self.practices.values())
            if (not axis or p.axis == axis) and (not level or p.level == level)
        )
