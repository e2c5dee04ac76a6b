"""Check that a rule base's citations are verbatim passages of the seed articles.

The seeds are not shipped with the rule base; this check runs where they are
available (tests, `roadmap rules check --seeds DIR`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from engine.errors import Problem, ProblemKind
from engine.model import Origin, RuleBase, Source

_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Collapse runs of whitespace: line breaks in YAML or the seed do not matter."""
    return _WHITESPACE.sub(" ", text).strip()


def cited(rulebase: RuleBase) -> Iterator[tuple[Origin, str, Source]]:
    """Every (origin, entry, source) in the rule base."""
    for model in rulebase.models.values():
        yield model.origin, f"model '{model.id}'", model.source
    for practice in rulebase.practices.values():
        yield practice.origin, f"practice '{practice.id}'", practice.source
    for rule in rulebase.context_rules:
        yield rule.origin, f"context rule '{rule.id}'", rule.source
    if rulebase.outsourcing is not None:
        for orule in rulebase.outsourcing.rules:
            yield orule.origin, f"outsourcing rule '{orule.id}'", orule.source
        yield rulebase.outsourcing.origin, "outsourcing", rulebase.outsourcing.source


def verify_quotes(rulebase: RuleBase, seeds: Path) -> list[Problem]:
    """Problems for every quote not found verbatim (whitespace-normalised) in its seed."""
    texts: dict[str, str | None] = {}
    problems = []
    for origin, entry, source in cited(rulebase):
        if source.quote is None or source.seed is None:
            continue
        if source.seed not in texts:
            path = seeds / source.seed
            texts[source.seed] = (
                normalise(path.read_text(encoding="utf-8")) if path.is_file() else None
            )
        text = texts[source.seed]
        if text is None:
            message = f"cites seed '{source.seed}', not found in {seeds}"
            problems.append(
                Problem(origin.path, entry, message, origin.line, kind=ProblemKind.SOURCE)
            )
        elif normalise(source.quote) not in text:
            message = f"quote is not verbatim in {source.seed}: {source.quote!r}"
            problems.append(
                Problem(origin.path, entry, message, origin.line, kind=ProblemKind.SOURCE)
            )
    return problems
