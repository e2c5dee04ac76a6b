"""Load and validate a rule base directory; never half-load one.

A rule base is a directory with a manifest (``rulebase.yaml``) and rule files
(every other ``*.yaml``, read in name order). Loading has two phases:

1. every file is parsed and checked against the JSON Schema in ``rules/schema/``
   (``engine.rulefiles``);
2. if that passed, the semantics are checked across files (here): duplicate and unknown
   ids, unknown models, axes and levels, level inversions, prerequisite cycles
   (including prerequisites that context rules may add), bad rule conditions, and
   conditions too large to compile safely into durable-rules.

Every problem names its file, line and entry; all of them are raised together in
one :class:`~engine.errors.RuleBaseError`, and nothing is returned.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.conditions import FRACTION_FIELDS, Condition, parse_condition, tests
from engine.errors import Problem, RuleBaseError, suggest
from engine.graph import find_cycles
from engine.limits import MAX_TESTS_PER_RULE, durable_test_count
from engine.model import (
    Axis,
    ContextRule,
    Effect,
    IncludeEffect,
    Level,
    Model,
    Origin,
    OutsourcingPolicy,
    OutsourcingRule,
    Practice,
    Recommendation,
    RequireEffect,
    RuleBase,
    ScoreEffect,
    Source,
    WarnEffect,
)
from engine.rulefiles import (
    BUNDLED_RULES,
    LinedMapping,
    Reader,
    RuleFile,
    digest,
)

__all__ = ["BUNDLED_RULES", "load_rulebase"]  # BUNDLED_RULES lives in engine.rulefiles


def load_rulebase(directory: str | Path | None = None) -> RuleBase:
    """Load the rule base in ``directory`` (default: the bundled one).

    Raises :class:`RuleBaseError` carrying every problem found.
    """
    return _Loader(Path(directory) if directory is not None else BUNDLED_RULES).load()


def _cite(raw: Mapping[str, Any]) -> Source:
    return Source(
        seed=raw.get("seed"),
        section=raw.get("section"),
        quote=raw.get("quote"),
        addition=raw.get("addition"),
        assumption=raw.get("assumption"),
    )


def hint(practice_id: str, practices: Iterable[str], aliases: Mapping[str, str]) -> str:
    """Why a rule file may not name an id: a retired alias, or a likely typo."""
    if practice_id in aliases:
        return f" (it was merged into '{aliases[practice_id]}': name that instead)"
    return suggest(practice_id, practices)


# --- the loader --------------------------------------------------------------------


class _Loader:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []
        self.aliases: dict[str, str] = {}  # retired id -> canonical, once practices are read

    def problem(self, file: str, entry: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(file=file, entry=entry, message=message, line=line))

    def load(self) -> RuleBase:
        manifest, files = Reader(self.problem).read(self.directory)
        if not self.problems:
            rulebase = self._interpret(manifest, files)
        if self.problems:
            raise RuleBaseError(self.problems)
        return rulebase

    # phase 2: semantics across files --------------------------------------------------

    def _interpret(self, manifest: LinedMapping, files: list[RuleFile]) -> RuleBase:
        models = self._models(files)
        practices = self._practices(files, models)
        self._apply_overrides(files, practices)
        self.aliases = aliases = self._aliases(practices)
        self._check_practices(practices, models, aliases)
        context_rules = self._context_rules(files, practices, models)
        outsourcing = self._outsourcing(files, practices)
        self._check_rule_ids(context_rules, outsourcing)
        self._check_cycles(practices, context_rules)
        return RuleBase(
            version=str(manifest["version"]),
            title=str(manifest["title"]),
            digest=digest(manifest, files),
            models=models,
            practices=practices,
            context_rules=tuple(context_rules),
            outsourcing=outsourcing,
            by_model={m: tuple(p for p in practices.values() if p.model == m) for m in models},
            aliases=aliases,
        )

    def _aliases(self, practices: Mapping[str, Practice]) -> dict[str, str]:
        """Retired id -> canonical id. A retired id is never defined again, and two
        practices with the same title are undeclared twins: merge one into the other."""
        aliases: dict[str, str] = {}
        titles: dict[str, Practice] = {}
        for pid, practice in practices.items():
            entry = f"practice '{pid}'"
            for alias in practice.aliases:
                if alias in practices:
                    self.problem(
                        practice.origin.path,
                        entry,
                        f"alias '{alias}' is also defined as a practice "
                        f"({practices[alias].origin}): a merged practice is not defined again",
                        practice.origin.line,
                    )
                elif alias in aliases:
                    self.problem(
                        practice.origin.path,
                        entry,
                        f"alias '{alias}' is already an alias of '{aliases[alias]}'",
                        practice.origin.line,
                    )
                else:
                    aliases[alias] = pid
            title = " ".join(practice.title.casefold().split())
            if (twin := titles.setdefault(title, practice)) is not practice:
                self.problem(
                    practice.origin.path,
                    entry,
                    f"same title as practice '{twin.id}' ({twin.origin}): an undeclared twin; "
                    f"merge one into the other and list the retired id under 'aliases'",
                    practice.origin.line,
                )
        return aliases

    def _models(self, files: list[RuleFile]) -> dict[str, Model]:
        models: dict[str, Model] = {}
        where: dict[str, str] = {}
        for file in files:
            raw = file.data.get("model")
            if raw is None:
                continue
            entry = f"model '{raw['id']}'"
            if raw["id"] in models:
                self.problem(
                    file.path,
                    entry,
                    f"duplicate model id (first defined in {where[raw['id']]})",
                    raw.line,
                )
                continue
            levels = tuple(
                Level(number=lv["level"], title=lv["title"]) for lv in raw.get("levels", [])
            )
            numbers = [lv.number for lv in levels]
            if numbers != list(range(1, len(numbers) + 1)):
                self.problem(
                    file.path,
                    entry,
                    f"levels must be numbered 1..{len(numbers)} in order, got {numbers}",
                    raw.line,
                )
            axes = tuple(Axis(id=a["id"], title=a["title"]) for a in raw["axes"])
            axis_ids = [a.id for a in axes]
            for dup in sorted({a for a in axis_ids if axis_ids.count(a) > 1}):
                self.problem(file.path, entry, f"duplicate axis id '{dup}'", raw.line)
            models[raw["id"]] = Model(
                id=raw["id"],
                title=raw["title"],
                description=raw.get("description", ""),
                levels=levels,
                axes=axes,
                source=_cite(raw["source"]),
                origin=Origin(file.path, raw.line),
            )
            where[raw["id"]] = f"{file.path}:{raw.line}"
        return models

    def _practices(self, files: list[RuleFile], models: Mapping[str, Model]) -> dict[str, Practice]:
        practices: dict[str, Practice] = {}
        for file in files:
            for raw in file.data.get("practices", []):
                pid = raw["id"]
                if pid in practices:
                    first = practices[pid].origin
                    self.problem(
                        file.path,
                        f"practice '{pid}'",
                        f"duplicate practice id (first defined in {first})",
                        raw.line,
                    )
                    continue
                practice = Practice(
                    id=pid,
                    title=raw["title"],
                    description=raw["description"],
                    model=raw["model"],
                    axis=raw["axis"],
                    level=raw.get("level"),
                    requires=tuple(raw.get("requires", ())),
                    effort=raw["effort"],
                    value=raw["value"],
                    source=_cite(raw["source"]),
                    origin=Origin(file.path, raw.line),
                    aliases=tuple(raw.get("aliases", ())),
                )
                practices[pid] = practice
        return practices

    def _apply_overrides(self, files: list[RuleFile], practices: dict[str, Practice]) -> None:
        for file in files:
            for raw in file.data.get("overrides", []):
                pid = raw["id"]
                entry = f"override '{pid}'"
                if pid not in practices:
                    self.problem(
                        file.path,
                        entry,
                        f"overrides unknown practice{suggest(pid, practices)}",
                        raw.line,
                    )
                    continue
                practice = practices[pid]
                if raw.get("disabled"):
                    del practices[pid]
                    continue
                changes = {
                    k: raw[k] for k in ("title", "description", "effort", "value") if k in raw
                }
                for dropped in raw.get("requires_remove", ()):
                    if dropped not in practice.requires:
                        self.problem(
                            file.path,
                            entry,
                            f"requires_remove: '{pid}' does not require '{dropped}'",
                            raw.line,
                        )
                kept = tuple(
                    r for r in practice.requires if r not in raw.get("requires_remove", ())
                )
                added = tuple(r for r in raw.get("requires_add", ()) if r not in kept)
                practice = replace(practice, requires=kept + added, **changes)
                practices[pid] = practice

    def _check_practices(
        self,
        practices: Mapping[str, Practice],
        models: Mapping[str, Model],
        aliases: Mapping[str, str],
    ) -> None:
        for pid, practice in practices.items():
            entry = f"practice '{pid}'"

            def report(message: str, *, _o: Origin = practice.origin, _e: str = entry) -> None:
                self.problem(_o.path, _e, message, _o.line)

            model = models.get(practice.model)
            if model is None:
                report(
                    f"unknown model '{practice.model}'{suggest(practice.model, models)}; known: {', '.join(sorted(models))}"
                )
            else:
                if practice.axis not in model.axis_ids():
                    report(
                        f"unknown axis '{practice.axis}' for model '{model.id}'{suggest(practice.axis, model.axis_ids())}; known: {', '.join(model.axis_ids())}"
                    )
                if model.has_levels and practice.level is None:
                    report(
                        f"model '{model.id}' has levels 1..{model.max_level}: 'level' is required"
                    )
                elif (
                    model.has_levels
                    and practice.level is not None
                    and not 1 <= practice.level <= model.max_level
                ):
                    report(
                        f"level {practice.level} is out of range for model '{model.id}' (1..{model.max_level})"
                    )
                elif not model.has_levels and practice.level is not None:
                    report(f"model '{model.id}' has no levels: remove 'level'")
            for required in practice.requires:
                if required == pid:
                    report("requires itself")
                    continue
                other = practices.get(required)
                if other is None:
                    report(
                        f"requires unknown practice '{required}'{hint(required, practices, aliases)}"
                    )
                    continue
                if (
                    other.model == practice.model
                    and practice.level is not None
                    and other.level is not None
                    and other.level > practice.level
                ):
                    report(
                        f"level inversion: at level {practice.level} it requires '{required}' at level "
                        f"{other.level} of the same model, so level {practice.level} could never be reached "
                        "before a higher one"
                    )

    def _check_condition(
        self, file: str, entry: str, line: int, condition: Condition, practices: Mapping[str, Any]
    ) -> None:
        size = durable_test_count(condition)
        if size > MAX_TESTS_PER_RULE:
            self.problem(
                file,
                entry,
                f"condition compiles to {size} durable-rules tests; at most {MAX_TESTS_PER_RULE} "
                "fit safely in one ruleset (the engine hangs past its limits): split the rule",
                line,
            )
        for test in tests(condition):
            if test.subject == "practice" and test.name not in practices:
                self.problem(
                    file,
                    entry,
                    f"condition tests unknown practice '{test.name}'"
                    f"{hint(test.name, practices, self.aliases)}",
                    line,
                )
            if (
                test.field in FRACTION_FIELDS
                and isinstance(test.operand, float)
                and not 0.0 <= test.operand <= 1.0
            ):
                self.problem(
                    file,
                    entry,
                    f"condition compares {test.field} (a fraction 0..1) with {test.operand:g}",
                    line,
                )

    def _context_rules(
        self,
        files: list[RuleFile],
        practices: Mapping[str, Practice],
        models: Mapping[str, Model],
    ) -> list[ContextRule]:
        rules: list[ContextRule] = []
        for file in files:
            for raw in file.data.get("context_rules", []):
                entry = f"context rule '{raw['id']}'"
                condition = parse_condition(raw["when"])
                self._check_condition(file.path, entry, raw.line, condition, practices)
                effects = []
                for index, effect_raw in enumerate(raw["effects"]):
                    effect = _effect(effect_raw)
                    for message in _effect_problems(effect, practices, models, self.aliases):
                        self.problem(
                            file.path, entry, f"effects[{index}]: {message}", effect_raw.line
                        )
                    effects.append(effect)
                rules.append(
                    ContextRule(
                        id=raw["id"],
                        title=raw["title"],
                        when=condition,
                        effects=tuple(effects),
                        source=_cite(raw["source"]),
                        origin=Origin(file.path, raw.line),
                    )
                )
        return rules

    def _outsourcing(
        self, files: list[RuleFile], practices: Mapping[str, Practice]
    ) -> OutsourcingPolicy | None:
        chosen: tuple[RuleFile, LinedMapping] | None = None
        for file in files:
            raw = file.data.get("outsourcing")
            if raw is None:
                continue
            if chosen is not None and chosen[0].layer == file.layer:
                self.problem(
                    file.path,
                    "outsourcing",
                    f"a second outsourcing section in one rule base (first in {chosen[0].path})",
                    raw.line,
                )
                continue
            chosen = (file, raw)  # a later layer replaces the base's policy
        if chosen is None:
            return None
        file, raw = chosen
        rules = []
        for rule in raw["rules"]:
            entry = f"outsourcing rule '{rule['id']}'"
            condition = parse_condition(rule["when"])
            self._check_condition(file.path, entry, rule.line, condition, practices)
            rules.append(
                OutsourcingRule(
                    id=rule["id"],
                    title=rule["title"],
                    when=condition,
                    recommendation=Recommendation(rule["recommendation"]),
                    saving_fraction=float(rule["saving_fraction"]),
                    reason=rule["reason"],
                    source=_cite(rule["source"]),
                    origin=Origin(file.path, rule.line),
                )
            )
        for pid in raw["provisional_unless_adopted"]:
            if pid not in practices:
                self.problem(
                    file.path,
                    "outsourcing",
                    f"provisional_unless_adopted names unknown practice '{pid}'{suggest(pid, practices)}",
                    raw.line,
                )
        return OutsourcingPolicy(
            rules=tuple(rules),
            fallback=Recommendation(raw["fallback"]["recommendation"]),
            fallback_reason=raw["fallback"]["reason"],
            provisional_unless_adopted=tuple(raw["provisional_unless_adopted"]),
            source=_cite(raw["source"]),
            origin=Origin(file.path, raw.line),
        )

    def _check_rule_ids(
        self, context_rules: list[ContextRule], outsourcing: OutsourcingPolicy | None
    ) -> None:
        seen: dict[str, str] = {}
        all_rules: list[ContextRule | OutsourcingRule] = [
            *context_rules,
            *(outsourcing.rules if outsourcing else ()),
        ]
        for rule in all_rules:
            if rule.id in seen:
                self.problem(
                    rule.origin.path,
                    f"rule '{rule.id}'",
                    f"duplicate rule id (first defined in {seen[rule.id]})",
                    rule.origin.line,
                )
            else:
                seen[rule.id] = str(rule.origin)

    def _check_cycles(
        self, practices: Mapping[str, Practice], context_rules: list[ContextRule]
    ) -> None:
        # Context rules may add prerequisites; any of them may fire together, so the
        # graph with all of them added must stay acyclic.
        # Self-requirements are reported on their own ("requires itself"), not as cycles.
        edges: dict[str, list[str]] = {
            pid: [r for r in p.requires if r != pid] for pid, p in practices.items()
        }
        added_by: dict[tuple[str, str], str] = {}
        for rule in context_rules:
            for effect in rule.effects:
                if isinstance(effect, RequireEffect) and effect.practice in edges:
                    for required in effect.requires:
                        if required == effect.practice:
                            continue
                        edges[effect.practice].append(required)
                        added_by.setdefault((effect.practice, required), rule.id)
        for cycle in find_cycles(edges):
            first = practices[cycle[0]].origin
            via = sorted(
                {added_by[(a, b)] for a, b in itertools.pairwise(cycle) if (a, b) in added_by}
            )
            note = (
                f" (through prerequisites added by context rules: {', '.join(via)})" if via else ""
            )
            self.problem(
                first.path,
                f"practice '{cycle[0]}'",
                "prerequisite cycle: " + " -> ".join(cycle) + note,
                first.line,
            )


def _effect(raw: Mapping[str, Any]) -> Effect:
    kind = raw["effect"]
    if kind in ("raise", "lower"):
        amount = float(raw["by"]) if kind == "raise" else -float(raw["by"])
        return ScoreEffect(
            amount=amount,
            practices=tuple(raw.get("practices", ())),
            model=raw.get("model"),
            axis=raw.get("axis"),
        )
    if kind == "include":
        return IncludeEffect(practices=tuple(raw["practices"]))
    if kind == "require":
        return RequireEffect(practice=raw["practice"], requires=tuple(raw["requires"]))
    return WarnEffect(
        code=raw["code"],
        message=raw["message"],
        practices=tuple(raw.get("practices", ())),
        urgent=bool(raw.get("urgent", False)),
    )


def _effect_problems(
    effect: Effect,
    practices: Mapping[str, Any],
    models: Mapping[str, Model],
    aliases: Mapping[str, str],
) -> Iterator[str]:
    named: tuple[str, ...] = ()
    if isinstance(effect, ScoreEffect):
        named = effect.practices
        if effect.model is not None:
            model = models.get(effect.model)
            if model is None:
                yield f"unknown model '{effect.model}'{suggest(effect.model, models)}"
            elif effect.axis is not None and effect.axis not in model.axis_ids():
                yield f"unknown axis '{effect.axis}' for model '{effect.model}'{suggest(effect.axis, model.axis_ids())}"
    elif isinstance(effect, IncludeEffect | WarnEffect):
        named = effect.practices
    else:
        named = (effect.practice, *effect.requires)
        if effect.practice in effect.requires:
            yield f"'{effect.practice}' cannot require itself"
    for pid in named:
        if pid not in practices:
            yield f"unknown practice '{pid}'{hint(pid, practices, aliases)}"
