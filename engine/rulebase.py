"""Load and validate a rule base directory; never half-load one.

A rule base is a directory with a manifest (``rulebase.yaml``) and rule files
(every other ``*.yaml``, read in name order). Loading has two phases:

1. every file is parsed and checked against the JSON Schema in ``rules/schema/``
   (``engine.rulefiles``);
2. if that passed, the files are built into a draft (here), and every semantic check
   registered in ``engine.checks`` judges it across files: duplicate and unknown ids,
   unknown models, axes and levels, level inversions, prerequisite cycles (including
   prerequisites that context rules may add), bad rule conditions, and conditions too
   large to compile safely into durable-rules.

Every problem names its file, line and entry, with a kind, the entry's id and the
field's path for tools; all of them are raised together in
one :class:`~engine.errors.RuleBaseError`, and nothing is returned.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.checks import Draft, Duplicate, Override, run_checks
from engine.conditions import parse_condition
from engine.errors import Problem, RuleBaseError
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
from engine.rulefiles import BUNDLED_RULES, LinedMapping, Reader, RuleFile, digest

__all__ = ["BUNDLED_RULES", "load_rulebase"]  # BUNDLED_RULES lives in engine.rulefiles


def load_rulebase(directory: str | Path | None = None) -> RuleBase:
    """Load the rule base in ``directory`` (default: the bundled one).

    Raises :class:`RuleBaseError` carrying every problem found.
    """
    with _collector_paused():
        return _Loader(Path(directory) if directory is not None else BUNDLED_RULES).load()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a rule base loads: the load only
    allocates (10,000 practices: millions of objects, kept or dropped by reference
    count), and the collections those allocations set off took a fifth of its time
    (0.3-0.6 s of 2 s), scanning what it had just built. It runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cite(raw: Mapping[str, Any]) -> Source:
    return Source(
        seed=raw.get("seed"),
        section=raw.get("section"),
        quote=raw.get("quote"),
        addition=raw.get("addition"),
        assumption=raw.get("assumption"),
    )


# --- the loader --------------------------------------------------------------------


class _Loader:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[Problem] = []

    def problem(self, *args: Any, **kwargs: Any) -> None:
        self.problems.append(Problem(*args, **kwargs))

    def load(self) -> RuleBase:
        manifest, files = Reader(self.problem).read(self.directory)
        if self.problems:
            raise RuleBaseError(self.problems)
        draft = _build(files)
        if problems := run_checks(draft):
            raise RuleBaseError(problems)
        practices = draft.practices
        return RuleBase(
            version=str(manifest["version"]),
            title=str(manifest["title"]),
            digest=digest(manifest, files),
            models=draft.models,
            practices=practices,
            context_rules=tuple(draft.context_rules),
            outsourcing=draft.outsourcing,
            by_model={
                m: tuple(p for p in practices.values() if p.model == m) for m in draft.models
            },
            aliases=draft.aliases(),
        )


# phase 2a: what the files describe, not yet judged (engine.checks judges it) --------


def _build(files: list[RuleFile]) -> Draft:
    draft = Draft()
    for file in files:
        _add_model(draft, file)
        for raw in file.data.get("practices", []):
            _add_practice(draft, file, raw)
    for file in files:
        for raw in file.data.get("overrides", []):
            _apply_override(draft, file, raw)
    for file in files:
        for raw in file.data.get("context_rules", []):
            _add_context_rule(draft, file, raw)
    _set_outsourcing(draft, files)
    return draft


def _add_model(draft: Draft, file: RuleFile) -> None:
    raw = file.data.get("model")
    if raw is None:
        return
    origin = Origin(file.path, raw.line)
    if raw["id"] in draft.models:
        first = draft.models[raw["id"]].origin
        draft.duplicates.append(Duplicate("model", raw["id"], origin, first))
        return
    draft.models[raw["id"]] = Model(
        id=raw["id"],
        title=raw["title"],
        description=raw.get("description", ""),
        levels=tuple(Level(number=lv["level"], title=lv["title"]) for lv in raw.get("levels", [])),
        axes=tuple(Axis(id=a["id"], title=a["title"]) for a in raw["axes"]),
        source=_cite(raw["source"]),
        origin=origin,
    )


def _add_practice(draft: Draft, file: RuleFile, raw: LinedMapping) -> None:
    pid = raw["id"]
    origin = Origin(file.path, raw.line)
    if pid in draft.practices:
        draft.duplicates.append(Duplicate("practice", pid, origin, draft.practices[pid].origin))
        return
    draft.practices[pid] = Practice(
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
        origin=origin,
        aliases=tuple(raw.get("aliases", ())),
    )


def _apply_override(draft: Draft, file: RuleFile, raw: LinedMapping) -> None:
    pid = raw["id"]
    practice = draft.practices.get(pid)
    removed = tuple(raw.get("requires_remove", ()))
    base_requires = practice.requires if practice is not None else None
    draft.overrides.append(Override(pid, Origin(file.path, raw.line), removed, base_requires))
    if practice is None:
        return
    if raw.get("disabled"):
        del draft.practices[pid]
        return
    changes = {k: raw[k] for k in ("title", "description", "effort", "value") if k in raw}
    kept = tuple(r for r in practice.requires if r not in removed)
    added = tuple(r for r in raw.get("requires_add", ()) if r not in kept)
    draft.practices[pid] = replace(practice, requires=kept + added, **changes)


def _add_context_rule(draft: Draft, file: RuleFile, raw: LinedMapping) -> None:
    origin = Origin(file.path, raw.line)
    for index, effect in enumerate(raw["effects"]):
        draft.effect_lines[origin, index] = effect.line
    draft.context_rules.append(
        ContextRule(
            id=raw["id"],
            title=raw["title"],
            when=parse_condition(raw["when"]),
            effects=tuple(_effect(effect) for effect in raw["effects"]),
            source=_cite(raw["source"]),
            origin=origin,
        )
    )


def _set_outsourcing(draft: Draft, files: list[RuleFile]) -> None:
    """The policy of the last layer that has one (a later layer replaces the base's)."""
    chosen: tuple[RuleFile, LinedMapping] | None = None
    for file in files:
        raw = file.data.get("outsourcing")
        if raw is None:
            continue
        if chosen is not None and chosen[0].layer == file.layer:
            draft.extra_outsourcing.append((Origin(file.path, raw.line), chosen[0].path))
            continue
        chosen = (file, raw)
    if chosen is None:
        return
    file, raw = chosen
    rules = tuple(
        OutsourcingRule(
            id=rule["id"],
            title=rule["title"],
            when=parse_condition(rule["when"]),
            recommendation=Recommendation(rule["recommendation"]),
            saving_fraction=float(rule["saving_fraction"]),
            reason=rule["reason"],
            source=_cite(rule["source"]),
            origin=Origin(file.path, rule.line),
        )
        for rule in raw["rules"]
    )
    draft.outsourcing = OutsourcingPolicy(
        rules=rules,
        fallback=Recommendation(raw["fallback"]["recommendation"]),
        fallback_reason=raw["fallback"]["reason"],
        provisional_unless_adopted=tuple(raw["provisional_unless_adopted"]),
        source=_cite(raw["source"]),
        origin=Origin(file.path, raw.line),
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
