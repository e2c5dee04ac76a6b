"""Errors raised by the engine.

Every problem says where (a file and entry, or a field path), what is wrong and,
where useful, what was expected. Checks collect all problems and raise once.

Exception tree::

    RoadmapError
    ├── RuleBaseError       a rule base that cannot be loaded (carries every Problem)
    ├── AssessmentError     an assessment the engine cannot use (carries every FieldViolation)
    ├── EvaluationError     the rule engine failed on a valid input (a bug or a broken engine)
    ├── UsageError          the engine was called wrongly (a programming error, not an input)
    └── ContainmentError    an engine worker process could not answer (see engine.isolated)
        ├── EngineTimeoutError   the evaluation outlived its deadline; its worker was replaced
        ├── EngineCrashedError   the worker died evaluating it, or no worker was left to ask
        ├── EngineBusyError      too many evaluations wait for a worker: shed at once
        └── InputRefusedError    this input crashed or hung a worker before: not tried again
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

#: A field's path in an input message: names and list indexes, outermost first.
Path = tuple[str | int, ...]


#: How much of a value an error quotes back (the caller has the rest).
ECHO_LENGTH = 40
#: Past this length a word is not compared with the choices (no typo is that long).
_LONGEST_TYPO = 200


def quoted(value: str) -> str:
    """A value quoted back in an error, cut to ``ECHO_LENGTH`` characters."""
    if len(value) <= ECHO_LENGTH:
        return f"'{value}'"
    return f"'{value[:ECHO_LENGTH]}...' ({len(value):,} characters)"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, if one is close enough to be a likely typo."""
    if len(word) > _LONGEST_TYPO:
        return None
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(suggestion: str | None) -> str:
    return f" (did you mean '{suggestion}'?)" if suggestion else ""


def suggest(word: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint naming the closest of ``choices``, or nothing."""
    return did_you_mean(closest(word, choices))


def _render_path(path: Path) -> str:
    """``("assessment", "practices", 3, "practice_id")`` -> ``assessment.practices[3].practice_id``."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{part}" if rendered else part
    return rendered


class ProblemKind(StrEnum):
    """What kind of thing is wrong with a rule base (a problem's ``kind``)."""

    FILE = "file"  #: missing, unreadable, too large, not a directory, no rule files
    YAML = "yaml"  #: not valid YAML, a duplicate key, not a mapping
    SCHEMA = "schema"  #: the file's shape breaks rules/schema/
    EXTENDS = "extends"  #: rule bases that extend each other in a loop
    DUPLICATE = "duplicate"  #: an id defined twice
    UNKNOWN = "unknown"  #: a reference to a model, axis or practice that does not exist
    LEVELS = "levels"  #: level numbering, range, or an inversion across prerequisites
    CYCLE = "cycle"  #: prerequisites in a cycle, or a practice requiring itself
    CONDITION = "condition"  #: a rule condition too large to compile, or out of range
    ALIAS = "alias"  #: a retired id defined again or claimed twice
    TWIN = "twin"  #: two practices with the same title
    SOURCE = "source"  #: a citation whose quote is not verbatim in its seed
    ENGINE = "engine"  #: the rule engine cannot compile or run it


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a rule base: where it is, what kind, and what is wrong.

    ``entry`` names the entry for people (``practice 'ci'``); ``id`` is its bare id and
    ``path`` the field within it (``("requires", 1)``), or within the file for schema
    problems, for tools.
    """

    file: str
    entry: str
    message: str
    line: int | None = None
    kind: ProblemKind = field(kw_only=True)
    id: str | None = field(default=None, kw_only=True)
    path: Path = field(default=(), kw_only=True)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        entry = f" {self.entry}:" if self.entry else ""
        return f"{where}:{entry} {self.message}"


class RoadmapError(Exception):
    """Root of every error the engine raises on purpose."""


class RuleBaseError(RoadmapError):
    """The rule base is invalid; nothing of it was loaded."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid rule base ({count} {noun}; nothing was loaded):\n{lines}")


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(rendered: str) -> Path:
    """The inverse of :func:`_render_path`, for paths that arrive as text (a status's
    BadRequest details)."""
    return tuple(int(index) if index else name for name, index in _STEP.findall(rendered))


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One problem of an input message: the field's path, what is wrong with it and,
    for a misspelt name, the likely intended one."""

    path: Path
    description: str
    suggestion: str | None = None

    @property
    def field(self) -> str:
        """The path as callers write it (``practices[3].practice_id``)."""
        return _render_path(self.path)

    @property
    def message(self) -> str:
        """The description with its "did you mean" hint, for people."""
        return self.description + did_you_mean(self.suggestion)

    def within(self, *prefix: str | int) -> FieldViolation:
        """The same violation seen from an enclosing message (``assessment.`` + path)."""
        return FieldViolation((*prefix, *self.path), self.description, self.suggestion)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class AssessmentError(RoadmapError):
    """The caller's input is invalid; ``violations`` says where and why."""

    def __init__(self, violations: list[FieldViolation] | tuple[FieldViolation, ...]) -> None:
        self.violations: tuple[FieldViolation, ...] = tuple(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"invalid input ({len(self.violations)} problem(s)):\n{lines}")


class EvaluationError(RoadmapError):
    """The rule engine failed on input that passed validation."""


class UsageError(RoadmapError, ValueError):
    """The engine was called wrongly: a programming error, never the caller's input."""


class ContainmentError(RoadmapError):
    """The rule evaluation ran in a worker process that did not answer.

    ``digest`` names the input (hex), ``exit_code`` how its worker ended, and
    ``limit_seconds`` the limit it ran past, where they apply."""

    def __init__(
        self,
        message: str,
        *,
        digest: str | None = None,
        exit_code: int | None = None,
        limit_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.digest = digest
        self.exit_code = exit_code
        self.limit_seconds = limit_seconds


class EngineTimeoutError(ContainmentError):
    """The evaluation outlived its deadline (or the configured maximum)."""


class EngineCrashedError(ContainmentError):
    """The engine worker died during the evaluation, or none could be reached."""


class EngineBusyError(ContainmentError):
    """Too many evaluations wait for an engine worker: shed at once (retry later)."""


class InputRefusedError(ContainmentError):
    """This input crashed or hung an engine worker before; it is not evaluated again."""
