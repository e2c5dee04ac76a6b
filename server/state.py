"""The rule base being served, and its atomic replacement on reload.

A request reads ``holder.current`` once and uses that snapshot throughout, so a
response never mixes two rule base versions. A reload loads and validates the whole
directory and compiles it before swapping; on any problem the current one stays.
durable-rules cannot free a ruleset, so each successful reload keeps about 2 MB of
the old one until the process exits (see notes/durable-rules.md; process generations
are the reliability issue's answer).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.roadmap import RoadmapEngine
from engine.rulebase import load_rulebase
from server.observability import RELOADS, RULE_BASE, log

if TYPE_CHECKING:
    from pathlib import Path

    from engine.errors import RuleBaseError
    from engine.model import RuleBase


MAX_LOGGED_PROBLEMS = 20


def log_refused(error: RuleBaseError, source: str) -> None:
    """One log line for a rule base that was refused, with its first problems."""
    problems = [str(p) for p in error.problems]
    log.error(
        "rule_base_refused",
        source=source,
        count=len(problems),
        problems=problems[:MAX_LOGGED_PROBLEMS],
    )


class NotLoadedError(RuntimeError):
    """A call arrived before the first rule base was loaded (answered UNAVAILABLE)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    rulebase: RuleBase
    engine: RoadmapEngine
    loaded_at: datetime


class RuleBaseHolder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._reloading = threading.Lock()
        self._current: Snapshot | None = None

    @property
    def current(self) -> Snapshot:
        snapshot = self._current
        if snapshot is None:
            raise NotLoadedError("the rule base is still loading: retry shortly")
        return snapshot

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def reload(self) -> tuple[Snapshot, bool]:
        """Load, validate and compile the directory; swap it in if its digest changed.

        Raises RuleBaseError (nothing swapped) when the directory is invalid.
        """
        with self._reloading:
            try:
                rulebase = load_rulebase(self.directory)
            except Exception:
                RELOADS.labels(result="refused").inc()
                raise
            current = self._current
            if current is not None and current.rulebase.digest == rulebase.digest:
                RELOADS.labels(result="unchanged").inc()
                return current, False
            snapshot = Snapshot(rulebase, RoadmapEngine(rulebase), datetime.now(UTC))
            self._current = snapshot
            RELOADS.labels(result="loaded").inc()
            RULE_BASE.info({"version": rulebase.version, "digest": rulebase.digest})
            log.info(
                "rule_base_loaded",
                version=rulebase.version,
                digest=rulebase.digest,
                practices=len(rulebase.practices),
                directory=str(self.directory),
            )
            return snapshot, True
