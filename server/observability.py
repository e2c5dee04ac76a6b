"""JSON logs on stdout (structlog) and Prometheus metrics."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import Counter, Histogram, Info

from engine.isolated import EngineEvent

REQUESTS = Counter("roadmap_requests_total", "gRPC calls handled", ["method", "code"])
LATENCY = Histogram(
    "roadmap_request_seconds",
    "gRPC call duration",
    ["method"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
EVALUATIONS = Counter("roadmap_evaluations_total", "Assessments evaluated", ["outcome"])
RELOADS = Counter("roadmap_rule_base_reloads_total", "Rule base reloads", ["result"])
RULE_BASE = Info("roadmap_rule_base", "The rule base being served")
ENGINE_EVENTS = Counter(
    "roadmap_engine_events_total",
    "Engine worker processes started, killed (hung) and died; inputs refused; calls shed",
    ["event"],
)
#: Engine events that are the pool working as designed: logged at info, not as warnings.
_EXPECTED_ENGINE_EVENTS = frozenset({EngineEvent.STARTED, EngineEvent.SHED})


_worker: dict[str, int] = {}


def record_call(method: str, code: str, started: float | None = None, **fields: Any) -> None:
    """Count one call by method and status, time it, and log its one line."""
    REQUESTS.labels(method=method, code=code).inc()
    if started is None:
        log.info("request", method=method, code=code, **fields)
        return
    elapsed = time.perf_counter() - started
    LATENCY.labels(method=method).observe(elapsed)
    log.info("request", method=method, code=code, duration_ms=round(elapsed * 1000, 3), **fields)


def set_worker(index: int) -> None:
    """Name this process's worker index in every log line (and response metadata)."""
    _worker["worker"] = index


def worker_index() -> int:
    return _worker.get("worker", 0)


def _add_worker(
    _logger: object, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event.setdefault("worker", worker_index())
    return event


def configure_logging(level: str) -> None:
    """One JSON object per line on stdout."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_worker,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # One write per line (with its newline): workers sharing stdout never interleave.
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )


log = structlog.get_logger("roadmap")


def engine_event(event: EngineEvent, **fields: Any) -> None:
    """An engine worker's lifecycle event: one log line and one count."""
    ENGINE_EVENTS.labels(event=event).inc()
    if event in _EXPECTED_ENGINE_EVENTS:
        log.info(event, **fields)
    else:
        log.warning(event, **fields)
