"""The rule base being served, and its atomic replacement on reload.

A request reads ``holder.current`` once and uses that snapshot throughout, so a
response never mixes two rule base versions. A reload loads and validates the whole
directory and compiles it before swapping; on any problem the current one stays.
With engine workers (the default), the rules are compiled and evaluated in a fresh
generation of engine processes per rule base; the old generation drains and exits once
the calls using it finish, which is the only way durable-rules frees a ruleset. With
``engine_workers=0`` the rules run in this process and each reload keeps about 2 MB of
the old rulesets until the process exits (see notes/durable-rules.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roadmap.v1 import roadmap_pb2 as pb

from contract import offload
from engine.errors import EvaluationError, Problem, ProblemKind, RuleBaseError
from engine.isolated import IsolatedRules, prestart
from engine.roadmap import RoadmapEngine
from engine.rulebase import load_rulebase
from server.errors import NotLoadedError
from server.observability import RELOADS, RULE_BASE, engine_event, log

if TYPE_CHECKING:
    from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class Snapshot:
    rulebase: RuleBase
    engine: RoadmapEngine
    loaded_at: datetime

    def roadmap(
        self, assessment: pb.Assessment, *, deadline: float | None = None
    ) -> pb.GetRoadmapResponse:
        """One assessment's roadmap: worked out whole in an engine process when there
        are any (this process only passes the bytes), else here."""
        rules = self.engine.rules
        if isinstance(rules, IsolatedRules):
            data = assessment.SerializeToString()
            answer = rules.run(offload.ROADMAP, assessment.unit_id, data, deadline=deadline)
            return pb.GetRoadmapResponse.FromString(answer)
        return offload.roadmap_response(self.engine, assessment, deadline=deadline)


class RuleBaseHolder:
    def __init__(
        self, directory: Path, *, engine_workers: int, max_evaluation_seconds: float
    ) -> None:
        self.directory = directory
        self.engine_workers = engine_workers
        self.max_evaluation_seconds = max_evaluation_seconds
        if engine_workers:
            # The engine processes' fork server starts while the rules load.
            prestart(preload=[offload.__name__])
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
            snapshot = Snapshot(rulebase, self._engine(rulebase), datetime.now(UTC))
            self._current = snapshot
            if current is not None:
                current.engine.close()  # its workers exit once the calls using them end
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

    def _engine(self, rulebase: RuleBase) -> RoadmapEngine:
        if not self.engine_workers:
            return RoadmapEngine(rulebase)
        try:
            rules = IsolatedRules(
                rulebase,
                workers=self.engine_workers,
                max_seconds=self.max_evaluation_seconds,
                events=engine_event,
                jobs=offload.JOBS,
            )
        except EvaluationError as exc:
            RELOADS.labels(result="refused").inc()
            raise RuleBaseError(
                [
                    Problem(
                        str(self.directory),
                        "",
                        f"the engine workers cannot take it: {exc}",
                        kind=ProblemKind.ENGINE,
                    )
                ]
            ) from exc
        return RoadmapEngine(rulebase, rules=rules)

    def close(self) -> None:
        """Stop the engine processes (after the calls using them end)."""
        if self._current is not None:
            self._current.engine.close()
