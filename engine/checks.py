"""The semantic checks of a rule base: one small registered function each.

Loading builds a :class:`Draft` from the files without judging it (``engine.rulebase``);
then every function registered here with :func:`check` reads the draft and yields the
problems it finds. Adding a check is writing one function; the loader runs them all, in
the order they are written, and raises every problem at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from engine.conditions import FRACTION_FIELDS, Condition, tests
from engine.errors import Path, Problem, ProblemKind, suggest
from engine.graph import find_cycles
from engine.limits import MAX_TESTS_PER_RULE, durable_test_count
from engine.model import (
    ContextRule,
    IncludeEffect,
    Model,
    Origin,
    OutsourcingPolicy,
    OutsourcingRule,
    Practice,
    RequireEffect,
    ScoreEffect,
    WarnEffect,
)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An entry whose id was already taken (the draft keeps the first)."""

    what: str  # "model", "practice"
    id: str
    origin: Origin
    first: Origin


@dataclass(frozen=True, slots=True)
class Override:
    """An ``overrides`` entry as written, before it was applied."""

    id: str
    origin: Origin
    requires_remove: tuple[str, ...]
    base_requires: tuple[str, ...] | None  # None: it names no practice


@dataclass(slots=True)
class Draft:
    """A rule base as the files describe it, before the checks judge it."""

    models: dict[str, Model] = field(default_factory=dict)
    practices: dict[str, Practice] = field(default_factory=dict)
    context_rules: list[ContextRule] = field(default_factory=list)
    outsourcing: OutsourcingPolicy | None = None
    duplicates: list[Duplicate] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    #: a second outsourcing section in one layer: (where it is, where the first is)
    extra_outsourcing: list[tuple[Origin, str]] = field(default_factory=list)
    #: the line of each effect: (its rule's origin, its index) -> line
    effect_lines: dict[tuple[Origin, int], int] = field(default_factory=dict)

    def aliases(self) -> dict[str, str]:
        """Retired id -> canonical id (the first practice to claim an alias keeps it)."""
        aliases: dict[str, str] = {}
        for pid, practice in self.practices.items():
            for alias in practice.aliases:
                if alias not in self.practices:
                    aliases.setdefault(alias, pid)
        return aliases

    def rules(self) -> list[ContextRule | OutsourcingRule]:
        return [*self.context_rules, *(self.outsourcing.rules if self.outsourcing else ())]


Check = Callable[[Draft], Iterable[Problem]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    """Register a semantic check (run in the order of registration)."""
    CHECKS.append(function)
    return function


def run_checks(draft: Draft) -> list[Problem]:
    """Every problem every check finds, in file and line order (as a compiler lists them)."""
    found = [problem for function in CHECKS for problem in function(draft)]
    return sorted(found, key=lambda p: (p.file, p.line or 0))


def hint(practice_id: str, practices: Iterable[str], aliases: Mapping[str, str]) -> str:
    """Why a rule file may not name an id: a retired alias, or a likely typo."""
    if practice_id in aliases:
        return f" (it was merged into '{aliases[practice_id]}': name that instead)"
    return suggest(practice_id, practices)


def _problem(
    origin: Origin,
    entry: str,
    message: str,
    *,
    kind: ProblemKind,
    id: str,
    path: Path = (),
    line: int | None = None,
) -> Problem:
    return Problem(
        origin.path,
        entry,
        message,
        origin.line if line is None else line,
        kind=kind,
        id=id,
        path=path,
    )


def _practice(practice: Practice, message: str, kind: ProblemKind, path: Path) -> Problem:
    return _problem(
        practice.origin,
        f"practice '{practice.id}'",
        message,
        kind=kind,
        id=practice.id,
        path=path,
    )


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


# --- models and practices ----------------------------------------------------------


@check
def duplicate_ids(draft: Draft) -> Iterator[Problem]:
    for dup in draft.duplicates:
        yield _problem(
            dup.origin,
            f"{dup.what} '{dup.id}'",
            f"duplicate {dup.what} id (first defined in {dup.first})",
            kind=ProblemKind.DUPLICATE,
            id=dup.id,
        )


@check
def model_levels_and_axes(draft: Draft) -> Iterator[Problem]:
    for model in draft.models.values():
        entry = f"model '{model.id}'"
        numbers = [level.number for level in model.levels]
        if numbers != list(range(1, len(numbers) + 1)):
            yield _problem(
                model.origin,
                entry,
                f"levels must be numbered 1..{len(numbers)} in order, got {numbers}",
                kind=ProblemKind.LEVELS,
                id=model.id,
                path=("levels",),
            )
        axis_ids = [axis.id for axis in model.axes]
        for dup in sorted({a for a in axis_ids if axis_ids.count(a) > 1}):
            yield _problem(
                model.origin,
                entry,
                f"duplicate axis id '{dup}'",
                kind=ProblemKind.DUPLICATE,
                id=model.id,
                path=("axes", axis_ids.index(dup, axis_ids.index(dup) + 1)),
            )


@check
def overrides(draft: Draft) -> Iterator[Problem]:
    for override in draft.overrides:
        entry = f"override '{override.id}'"
        if override.base_requires is None:
            yield _problem(
                override.origin,
                entry,
                f"overrides unknown practice{suggest(override.id, draft.practices)}",
                kind=ProblemKind.UNKNOWN,
                id=override.id,
                path=("id",),
            )
            continue
        for index, dropped in enumerate(override.requires_remove):
            if dropped not in override.base_requires:
                yield _problem(
                    override.origin,
                    entry,
                    f"requires_remove: '{override.id}' does not require '{dropped}'",
                    kind=ProblemKind.UNKNOWN,
                    id=override.id,
                    path=("requires_remove", index),
                )


@check
def aliases(draft: Draft) -> Iterator[Problem]:
    """A retired id is never defined again, nor claimed by two practices."""
    claimed: dict[str, str] = {}
    for pid, practice in draft.practices.items():
        for index, alias in enumerate(practice.aliases):
            if alias in draft.practices:
                message = (
                    f"alias '{alias}' is also defined as a practice "
                    f"({draft.practices[alias].origin}): a merged practice is not defined again"
                )
            elif alias in claimed:
                message = f"alias '{alias}' is already an alias of '{claimed[alias]}'"
            else:
                claimed[alias] = pid
                continue
            yield _practice(practice, message, ProblemKind.ALIAS, ("aliases", index))


@check
def undeclared_twins(draft: Draft) -> Iterator[Problem]:
    """Two practices with the same title: merge one into the other."""
    titles: dict[str, Practice] = {}
    for practice in draft.practices.values():
        title = " ".join(practice.title.casefold().split())
        if (twin := titles.setdefault(title, practice)) is not practice:
            yield _practice(
                practice,
                f"same title as practice '{twin.id}' ({twin.origin}): an undeclared twin; "
                f"merge one into the other and list the retired id under 'aliases'",
                ProblemKind.TWIN,
                ("title",),
            )


@check
def practice_models_and_levels(draft: Draft) -> Iterator[Problem]:
    models = draft.models
    axes = {model_id: frozenset(model.axis_ids()) for model_id, model in models.items()}
    for practice in draft.practices.values():
        model = models.get(practice.model)
        if model is None:
            yield _practice(
                practice,
                f"unknown model '{practice.model}'{suggest(practice.model, models)}; "
                f"known: {_known(models)}",
                ProblemKind.UNKNOWN,
                ("model",),
            )
            continue
        if practice.axis not in axes[practice.model]:
            yield _practice(
                practice,
                f"unknown axis '{practice.axis}' for model '{model.id}'"
                f"{suggest(practice.axis, model.axis_ids())}; known: {', '.join(model.axis_ids())}",
                ProblemKind.UNKNOWN,
                ("axis",),
            )
        message = _level_problem(practice, model)
        if message is not None:
            yield _practice(practice, message, ProblemKind.LEVELS, ("level",))


def _level_problem(practice: Practice, model: Model) -> str | None:
    if model.has_levels and practice.level is None:
        return f"model '{model.id}' has levels 1..{model.max_level}: 'level' is required"
    if model.has_levels and practice.level is not None:
        if not 1 <= practice.level <= model.max_level:
            return f"level {practice.level} is out of range for model '{model.id}' (1..{model.max_level})"
        return None
    if practice.level is not None:
        return f"model '{model.id}' has no levels: remove 'level'"
    return None


@check
def prerequisites(draft: Draft) -> Iterator[Problem]:
    practices, aliases = draft.practices, draft.aliases()
    for pid, practice in practices.items():
        for index, required in enumerate(practice.requires):
            other = practices.get(required)
            if required == pid:
                message, kind = "requires itself", ProblemKind.CYCLE
            elif other is None:
                message = (
                    f"requires unknown practice '{required}'{hint(required, practices, aliases)}"
                )
                kind = ProblemKind.UNKNOWN
            elif (
                other.model == practice.model
                and practice.level is not None
                and other.level is not None
                and other.level > practice.level
            ):
                message = (
                    f"level inversion: at level {practice.level} it requires '{required}' at level "
                    f"{other.level} of the same model, so level {practice.level} could never be "
                    "reached before a higher one"
                )
                kind = ProblemKind.LEVELS
            else:
                continue
            yield _practice(practice, message, kind, ("requires", index))


# --- rules --------------------------------------------------------------------------


def _rule_entry(rule: ContextRule | OutsourcingRule) -> str:
    kind = "context rule" if isinstance(rule, ContextRule) else "outsourcing rule"
    return f"{kind} '{rule.id}'"


def _condition_problems(
    condition: Condition, practices: Mapping[str, Practice], aliases: Mapping[str, str]
) -> Iterator[tuple[ProblemKind, str]]:
    size = durable_test_count(condition)
    if size > MAX_TESTS_PER_RULE:
        yield (
            ProblemKind.CONDITION,
            (
                f"condition compiles to {size} durable-rules tests; at most {MAX_TESTS_PER_RULE} "
                "fit safely in one ruleset (the engine hangs past its limits): split the rule"
            ),
        )
    for test in tests(condition):
        if test.subject == "practice" and test.name not in practices:
            yield (
                ProblemKind.UNKNOWN,
                (
                    f"condition tests unknown practice '{test.name}'"
                    f"{hint(test.name, practices, aliases)}"
                ),
            )
        if (
            test.field in FRACTION_FIELDS
            and isinstance(test.operand, float)
            and not 0.0 <= test.operand <= 1.0
        ):
            yield (
                ProblemKind.CONDITION,
                f"condition compares {test.field} (a fraction 0..1) with {test.operand:g}",
            )


def _rule_problem(
    rule: ContextRule | OutsourcingRule,
    found: tuple[ProblemKind, str],
    path: Path,
    line: int | None = None,
) -> Problem:
    kind, message = found
    return _problem(
        rule.origin,
        _rule_entry(rule),
        message,
        kind=kind,
        id=rule.id,
        path=path,
        line=line,
    )


@check
def context_rules(draft: Draft) -> Iterator[Problem]:
    aliases = draft.aliases()
    for rule in draft.context_rules:
        for found in _condition_problems(rule.when, draft.practices, aliases):
            yield _rule_problem(rule, found, ("when",))
        for index, effect in enumerate(rule.effects):
            line = draft.effect_lines.get((rule.origin, index))
            for kind, message in _effect_problems(effect, draft.practices, draft.models, aliases):
                found = (kind, f"effects[{index}]: {message}")
                yield _rule_problem(rule, found, ("effects", index), line)


def _effect_problems(
    effect: ScoreEffect | IncludeEffect | RequireEffect | WarnEffect,
    practices: Mapping[str, Practice],
    models: Mapping[str, Model],
    aliases: Mapping[str, str],
) -> Iterator[tuple[ProblemKind, str]]:
    unknown = ProblemKind.UNKNOWN
    named: tuple[str, ...]
    if isinstance(effect, ScoreEffect):
        named = effect.practices
        if effect.model is not None:
            model = models.get(effect.model)
            if model is None:
                yield unknown, f"unknown model '{effect.model}'{suggest(effect.model, models)}"
            elif effect.axis is not None and effect.axis not in model.axis_ids():
                yield (
                    unknown,
                    f"unknown axis '{effect.axis}' for model '{effect.model}'"
                    f"{suggest(effect.axis, model.axis_ids())}",
                )
    elif isinstance(effect, IncludeEffect | WarnEffect):
        named = effect.practices
    else:
        named = (effect.practice, *effect.requires)
        if effect.practice in effect.requires:
            yield ProblemKind.CYCLE, f"'{effect.practice}' cannot require itself"
    for pid in named:
        if pid not in practices:
            yield unknown, f"unknown practice '{pid}'{hint(pid, practices, aliases)}"


@check
def outsourcing(draft: Draft) -> Iterator[Problem]:
    for origin, first in draft.extra_outsourcing:
        yield _problem(
            origin,
            "outsourcing",
            f"a second outsourcing section in one rule base (first in {first})",
            kind=ProblemKind.DUPLICATE,
            id="outsourcing",
        )
    policy = draft.outsourcing
    if policy is None:
        return
    aliases = draft.aliases()
    for rule in policy.rules:
        for found in _condition_problems(rule.when, draft.practices, aliases):
            yield _rule_problem(rule, found, ("when",))
    for index, pid in enumerate(policy.provisional_unless_adopted):
        if pid not in draft.practices:
            yield _problem(
                policy.origin,
                "outsourcing",
                f"provisional_unless_adopted names unknown practice '{pid}'"
                f"{suggest(pid, draft.practices)}",
                kind=ProblemKind.UNKNOWN,
                id="outsourcing",
                path=("provisional_unless_adopted", index),
            )


@check
def unique_rule_ids(draft: Draft) -> Iterator[Problem]:
    seen: dict[str, Origin] = {}
    for rule in draft.rules():
        if rule.id in seen:
            yield _problem(
                rule.origin,
                f"rule '{rule.id}'",
                f"duplicate rule id (first defined in {seen[rule.id]})",
                kind=ProblemKind.DUPLICATE,
                id=rule.id,
            )
        else:
            seen[rule.id] = rule.origin


@check
def prerequisite_cycles(draft: Draft) -> Iterator[Problem]:
    """Context rules may add prerequisites, and any of them may fire together, so the
    graph with all of them added must stay acyclic. (A practice requiring itself is
    reported on its own, not as a cycle.)"""
    practices = draft.practices
    edges: dict[str, list[str]] = {
        pid: [r for r in p.requires if r != pid] for pid, p in practices.items()
    }
    added_by: dict[tuple[str, str], str] = {}
    for rule in draft.context_rules:
        for effect in rule.effects:
            if isinstance(effect, RequireEffect) and effect.practice in edges:
                for required in effect.requires:
                    if required != effect.practice:
                        edges[effect.practice].append(required)
                        added_by.setdefault((effect.practice, required), rule.id)
    for cycle in find_cycles(edges):
        via = sorted({added_by[pair] for pair in itertools.pairwise(cycle) if pair in added_by})
        note = f" (through prerequisites added by context rules: {', '.join(via)})" if via else ""
        yield _practice(
            practices[cycle[0]],
            "prerequisite cycle: " + " -> ".join(cycle) + note,
            ProblemKind.CYCLE,
            ("requires",),
        )
