"""Errors raised by the engine.

Every problem says where (a file and entry, or a field path), what is wrong and,
where useful, what was expected. Checks collect all problems and raise once.

Exception tree::

    RoadmapError
    ├── RuleBaseError       a rule base that cannot be loaded (carries every Problem)
    ├── AssessmentError     an assessment the engine cannot use (carries every FieldViolation)
    ├── EvaluationError     the rule engine failed on a valid input (a bug or a broken engine)
    └── ContainmentError    an engine worker process could not answer (see engine.isolated)
        ├── EngineTimeoutError   the evaluation outlived its deadline; its worker was replaced
        ├── EngineCrashedError   the worker died evaluating it, or no worker was left to ask
        └── InputRefusedError    this input crashed or hung a worker before: not tried again
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


def suggest(word: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint naming the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a rule base: where it is and what is wrong."""

    file: str
    entry: str
    message: str
    line: int | None = None

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


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One problem of an input message: the field's path and what is wrong with it."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}"


class AssessmentError(RoadmapError):
    """The caller's input is invalid; ``violations`` says where and why."""

    def __init__(self, violations: list[FieldViolation] | tuple[FieldViolation, ...]) -> None:
        self.violations: tuple[FieldViolation, ...] = tuple(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"invalid input ({len(self.violations)} problem(s)):\n{lines}")


class EvaluationError(RoadmapError):
    """The rule engine failed on input that passed validation."""


class ContainmentError(RoadmapError):
    """The rule evaluation ran in a worker process that did not answer."""


class EngineTimeoutError(ContainmentError):
    """The evaluation outlived its deadline (or the configured maximum)."""


class EngineCrashedError(ContainmentError):
    """The engine worker died during the evaluation, or none could be reached."""


class InputRefusedError(ContainmentError):
    """This input crashed or hung an engine worker before; it is not evaluated again."""
