"""Rule evaluation in engine worker processes: same answers, and hangs and crashes contained.

The fault switch makes a worker spin forever (as durable-rules' C code has been seen
to, holding the GIL) or abort, for one unit id; every other unit is evaluated normally.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from roadmap.v1 import roadmap_pb2 as pb

from contract import offload
from engine.assessment import Assessment, Metrics, Service
from engine.errors import (
    AssessmentError,
    EngineBusyError,
    EngineCrashedError,
    EngineTimeoutError,
    InputRefusedError,
    UsageError,
)
from engine.isolated import IsolatedRules
from engine.roadmap import RoadmapEngine
from engine.rulebase import BUNDLED_RULES, load_rulebase
from tests.strategies import assessments

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.model import RuleBase

UNIT = Assessment(
    unit_id="healthy",
    metrics=Metrics(keep_the_lights_on_share=0.6, staff_turnover_rate=0.25),
    services=tuple(Service(f"s{n}", "S", 1000.0 * (n + 1)) for n in range(5)),
)
STUCK = dataclasses.replace(UNIT, unit_id="stuck")
CRASH = dataclasses.replace(UNIT, unit_id="crash")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def in_flight(pool: IsolatedRules) -> int:
    """Calls holding an engine worker right now (the pool has no public count of them)."""
    return len(pool._busy)


def hang_in_background(
    pool: IsolatedRules, seconds: float
) -> tuple[threading.Thread, list[EngineTimeoutError]]:
    """A started thread evaluating the hanging unit with a deadline; the timeouts it met."""
    timeouts: list[EngineTimeoutError] = []

    def hang() -> None:
        try:
            pool.evaluate(STUCK, deadline=time.monotonic() + seconds)
        except EngineTimeoutError as exc:
            timeouts.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    return thread, timeouts


@pytest.fixture
def pool(bundled: RuleBase) -> Iterator[IsolatedRules]:
    rules = IsolatedRules(bundled, workers=2, max_seconds=2.0, faults="hang:stuck,abort:crash")
    yield rules
    rules.close()


@pytest.fixture(scope="module")
def shared_pool(bundled: RuleBase) -> Iterator[IsolatedRules]:
    rules = IsolatedRules(bundled, workers=2, faults="")
    yield rules
    rules.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assessment=assessments(load_rulebase(BUNDLED_RULES)))
def test_workers_conclude_what_the_in_process_engine_concludes(
    shared_pool: IsolatedRules, engine: RoadmapEngine, assessment: Assessment
) -> None:
    assert shared_pool.evaluate(assessment) == engine.rules.evaluate(assessment)


def test_a_hang_ends_at_the_deadline_and_its_worker_is_replaced(
    pool: IsolatedRules, engine: RoadmapEngine
) -> None:
    before = set(pool.pids)
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError, match="ran past the deadline"):
        pool.evaluate(STUCK, deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 1.5
    assert wait_for(lambda: len(pool.pids) == 2)
    replaced = before - set(pool.pids)
    assert len(replaced) == 1
    assert wait_for(lambda: not alive(replaced.pop()))
    assert pool.evaluate(UNIT) == engine.rules.evaluate(UNIT)


def test_other_calls_are_answered_while_one_hangs(
    pool: IsolatedRules, engine: RoadmapEngine
) -> None:
    expected = engine.rules.evaluate(UNIT)
    thread, outcome = hang_in_background(pool, seconds=1.0)
    answered = 0
    while thread.is_alive():
        assert pool.evaluate(UNIT) == expected
        answered += 1
    thread.join()
    assert len(outcome) == 1
    assert answered > 20  # the other worker kept answering for the whole second


def test_an_input_that_overran_the_limit_is_refused_next_time(pool: IsolatedRules) -> None:
    with pytest.raises(EngineTimeoutError, match="ran past the 2 s limit"):
        pool.evaluate(STUCK)
    started = time.monotonic()
    with pytest.raises(InputRefusedError, match="ran past the 2 s limit earlier"):
        pool.evaluate(STUCK)
    assert time.monotonic() - started < 0.1
    assert pool.refused == 1
    pool.evaluate(UNIT)  # other inputs are not refused


def test_missed_deadlines_are_not_held_against_an_input(pool: IsolatedRules) -> None:
    for _ in range(3):
        # ran past it, or (both workers being replaced) met it waiting for one
        with pytest.raises(EngineTimeoutError, match="the deadline"):
            pool.evaluate(STUCK, deadline=time.monotonic() + 0.2)
    assert pool.refused == 0


def test_a_worker_killed_from_outside_is_replaced_and_its_input_not_refused(
    pool: IsolatedRules, engine: RoadmapEngine
) -> None:
    victim = pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: not alive(victim))
    # Whichever call meets the dead worker is answered by another one.
    assert [pool.evaluate(UNIT) for _ in range(4)] == [engine.rules.evaluate(UNIT)] * 4
    assert pool.refused == 0
    assert wait_for(lambda: len(pool.pids) == 2 and victim not in pool.pids)


def test_a_crash_is_reported_then_the_input_refused(
    pool: IsolatedRules, engine: RoadmapEngine
) -> None:
    before = set(pool.pids)
    with pytest.raises(EngineCrashedError, match=r"died \(exit code -6\); it has been replaced"):
        pool.evaluate(CRASH)
    with pytest.raises(InputRefusedError, match="crashed an engine worker"):
        pool.evaluate(CRASH)
    assert wait_for(lambda: len(pool.pids) == 2 and set(pool.pids) != before)
    assert pool.evaluate(UNIT) == engine.rules.evaluate(UNIT)


def test_close_lets_the_calls_in_flight_finish_then_stops_every_worker(
    bundled: RuleBase, engine: RoadmapEngine
) -> None:
    pool = IsolatedRules(bundled, workers=2, faults="hang:stuck")
    pids = pool.pids
    thread, errors = hang_in_background(pool, seconds=0.8)
    assert wait_for(lambda: in_flight(pool) == 1)
    pool.close()
    # A call that took the pool before it was replaced is still answered.
    assert pool.evaluate(UNIT) == engine.rules.evaluate(UNIT)
    assert all(alive(pid) for pid in pids)
    thread.join()
    assert len(errors) == 1
    assert wait_for(lambda: not any(alive(pid) for pid in pids))
    assert pool.pids == []
    with pytest.raises(EngineCrashedError, match="rule base was replaced"):
        pool.evaluate(UNIT)


def test_waiting_for_a_worker_does_not_count_against_the_evaluation_limit(
    bundled: RuleBase, engine: RoadmapEngine
) -> None:
    # One worker, a 0.5 s limit, and a hang holding the worker until the limit kills it:
    # the valid call queued behind it waits longer than the limit (the hang, then the
    # replacement's start), yet is answered, and is not refused.
    pool = IsolatedRules(bundled, workers=1, max_seconds=0.5, faults="hang:stuck")
    try:
        thread, timeouts = hang_in_background(pool, seconds=1.0)
        assert wait_for(lambda: in_flight(pool) == 1)
        started = time.monotonic()
        assert pool.evaluate(UNIT) == engine.rules.evaluate(UNIT)
        assert time.monotonic() - started > 0.5
        thread.join()
        assert len(timeouts) == 1
        assert pool.refused == 1  # the hang, which ran past the limit; not the valid call
        assert pool.evaluate(UNIT) == engine.rules.evaluate(UNIT)
    finally:
        pool.close()


def test_past_the_waiting_bound_a_call_is_shed_at_once(
    bundled: RuleBase, engine: RoadmapEngine
) -> None:
    pool = IsolatedRules(bundled, workers=1, max_waiting=1, faults="hang:stuck")
    try:
        thread, _ = hang_in_background(pool, seconds=1.0)
        assert wait_for(lambda: in_flight(pool) == 1)
        answers: list[object] = []
        waiter = threading.Thread(target=lambda: answers.append(pool.evaluate(UNIT)))
        waiter.start()
        assert wait_for(lambda: pool._waiting == 1)
        started = time.monotonic()
        with pytest.raises(EngineBusyError, match="1 evaluations already wait"):
            pool.evaluate(UNIT)
        assert time.monotonic() - started < 0.1
        thread.join()
        waiter.join()
        assert answers == [engine.rules.evaluate(UNIT)]  # the one waiting was answered
        assert pool.refused == 0
    finally:
        pool.close()


def test_every_worker_killed_at_once_under_load_fails_no_call(
    bundled: RuleBase, engine: RoadmapEngine
) -> None:
    # As the OOM killer may do: both workers SIGKILLed together while calls run. Each call
    # waits for a live worker or a replacement and is answered.
    pool = IsolatedRules(bundled, workers=2, faults="")
    expected = engine.rules.evaluate(UNIT)
    failures: list[Exception] = []
    answered = [0]
    stop = threading.Event()

    def caller() -> None:
        while not stop.is_set():
            try:
                assert pool.evaluate(UNIT) == expected
                answered[0] += 1
            except Exception as exc:  # every failure is the finding
                failures.append(exc)

    callers = [threading.Thread(target=caller) for _ in range(4)]
    try:
        for thread in callers:
            thread.start()
        assert wait_for(lambda: answered[0] > 20)
        victims = pool.pids
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: len(pool.pids) == 2 and not set(victims) & set(pool.pids))
        before = answered[0]
        assert wait_for(lambda: answered[0] > before + 20)
    finally:
        stop.set()
        for thread in callers:
            thread.join()
        pool.close()
    assert failures == []
    assert pool.refused == 0


def test_a_job_answers_in_a_worker_what_it_answers_in_process(bundled: RuleBase) -> None:
    """GetRoadmap's whole work in a worker: the same bytes as in process, the same
    violations for an invalid input, and a crash contained as for the rules alone."""
    jobs = IsolatedRules(bundled, workers=2, faults="abort:crash", jobs=offload.JOBS)
    here = RoadmapEngine(bundled)
    examples = Path(__file__).resolve().parent.parent / "clients" / "examples"
    try:
        for path in sorted(examples.glob("*.json")):
            unit = json_format.Parse(path.read_text(), pb.Assessment())
            answer = jobs.run(offload.ROADMAP, unit.unit_id, unit.SerializeToString())
            assert answer == offload.roadmap(here, unit.SerializeToString()), path.name
        invalid = pb.Assessment(unit_id="u", practices=[pb.PracticeStatus(practice_id="nope")])
        with pytest.raises(AssessmentError) as in_worker:
            jobs.run(offload.ROADMAP, "u", invalid.SerializeToString())
        with pytest.raises(AssessmentError) as in_process:
            offload.roadmap(here, invalid.SerializeToString())
        assert in_worker.value.violations == in_process.value.violations
        assert [v.field for v in in_worker.value.violations] == [
            "practices[0].practice_id",
            "practices[0].adoption",
        ]
        crash = pb.Assessment(unit_id="crash").SerializeToString()
        with pytest.raises(EngineCrashedError):
            jobs.run(offload.ROADMAP, "crash", crash)
        with pytest.raises(InputRefusedError):
            jobs.run(offload.ROADMAP, "crash", crash)
        with pytest.raises(UsageError, match="no job 'nope'"):
            jobs.run("nope", "u", b"")
    finally:
        jobs.close()
