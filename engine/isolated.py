"""Rule evaluation in engine worker processes, so a hang or crash stays contained.

durable-rules is a C extension that holds the GIL: while it spins, no other thread of
its process runs, and when it crashes it takes its process with it. So a server never
runs it in its own process: :class:`IsolatedRules` keeps a few engine processes, each
with the rule base compiled, and sends each evaluation's facts over a pipe (a
``marshal``-ed tuple of a few hundred bytes; the answer is rule ids). It can also run a
*job* there (:meth:`IsolatedRules.run`): a whole call's work, bytes in and bytes out,
named by the server when it starts the pool, so that the server process only passes
bytes and every engine process works in parallel (``contract.offload``).

The processes are forked from multiprocessing's fork server, a clean process that
never holds gRPC threads or locks, with the engine modules (and the jobs' modules,
:func:`prestart`) already imported.

- An evaluation that outlives its caller's deadline, or ``max_seconds`` without one,
  has its worker killed (SIGKILL) and replaced: :class:`EngineTimeoutError`.
- A worker that dies during an evaluation is replaced: :class:`EngineCrashedError`.
- An input that crashed a worker (a signal other than SIGKILL, which comes from
  outside) or ran past ``max_seconds`` is remembered (the digest of what was sent)
  and refused from then on with :class:`InputRefusedError`: retrying it cannot take
  down worker after worker. A missed caller deadline is not held against an input
  (under overload every input misses some). The list belongs to one rule base; a
  reload starts a new pool and a new list.
- The ``max_seconds`` limit counts evaluation time only, from the moment a worker takes
  the input: waiting for a free worker never makes a valid input look like a hang.
  Waiting is bounded by the caller's deadline (or ``MAX_WAIT_SECONDS`` without one), and
  at most ``max_waiting`` calls wait: past that a call is shed at once
  (:class:`EngineBusyError`, which the server answers UNAVAILABLE, retryable).
- A worker killed from outside (SIGKILL: an operator, the OOM killer) under a call is
  not the input's doing: the call waits for a live worker, or its replacement, and
  tries again, even when every worker was killed at once.
- :meth:`IsolatedRules.close` drains: calls that hold the pool finish, then every
  worker exits. Process exit is the only way durable-rules frees its rulesets.

Fault injection, for tests only: with ``ROADMAP_FAULT_INJECTION="hang:UNIT,abort:UNIT"``
in the server's environment when a pool starts (or ``faults=`` given), a worker
evaluating unit ``UNIT`` spins forever or aborts (SIGABRT), as the C engine has been
seen to do.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import marshal
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing import forkserver
from typing import TYPE_CHECKING, Any, Protocol

from engine.compiled import CompiledRules, Conclusions, Facts, RuleLayout
from engine.errors import (
    AssessmentError,
    EngineBusyError,
    EngineCrashedError,
    EngineTimeoutError,
    EvaluationError,
    FieldViolation,
    InputRefusedError,
    UsageError,
)
from engine.roadmap import RoadmapEngine

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from engine.assessment import Assessment
    from engine.model import RuleBase

FAULT_ENV = "ROADMAP_FAULT_INJECTION"
#: Refused inputs remembered per rule base (the oldest are forgotten first).
MAX_REFUSED = 4096
START_SECONDS = 120.0  # compiling 10,000 practices takes about 0.2 s; this is a hang
STOP_SECONDS = 2.0
RESTART_BACKOFF_SECONDS = (0.0, 0.1, 0.5, 2.0, 5.0)
#: Longest a call without a deadline waits for a free engine worker.
MAX_WAIT_SECONDS = 30.0

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["engine.isolated"])

#: A worker's exit status comes from the fork server through a pipe, readable once; two
#: threads polling one process at once (``Process.start()`` polls every child the
#: process knows) leave one of them reading EOF, which multiprocessing reports as exit
#: code 255: a worker killed from outside then looked like a crash, and its input was
#: refused. Every start, and every wait for a worker's end, holds this lock.
_REAPING = threading.Lock()


def prestart(preload: Sequence[str] = ()) -> None:
    """Start the fork server now (it returns at once), so that its interpreter's start
    and imports overlap the caller loading a rule base instead of following it.

    ``preload``: modules the jobs need, imported once in the fork server, so that every
    worker shares their memory instead of importing them itself."""
    _context.set_forkserver_preload(["engine.isolated", *preload])
    forkserver.ensure_running()


class EngineEvent(StrEnum):
    """What the pool reports about its workers and calls (the server logs and counts them)."""

    STARTED = "engine_worker_started"
    START_FAILED = "engine_worker_start_failed"
    DIED = "engine_worker_died"  #: died while idle, or under a call
    KILLED = "engine_worker_killed"  #: killed by the pool: its call ran past a limit
    REFUSED = "engine_input_refused"  #: an input that crashed or hung a worker
    SHED = "engine_call_shed"  #: too many calls waiting: answered busy at once


class _Tag(StrEnum):
    """The first item of every message on a worker's pipe."""

    READY = "ready"
    FAILED = "failed"  #: could not compile the rule base
    OK = "ok"
    INVALID = "invalid"  #: a job found the input invalid: its field violations
    ERROR = "error"  #: the evaluation raised (the caller gets INTERNAL)
    RULES = "rules"  #: a request for the rules' conclusions (else it names a job)


#: Work handed to the engine processes whole: bytes in, bytes out, run with the
#: process's own engine. The server names its jobs (``IsolatedRules(jobs=...)``): a
#: call then costs its process only the bytes' trip, and both cores do the rest.
Job = Callable[[RoadmapEngine, bytes], bytes]


class EngineEvents(Protocol):
    """Where the pool reports its events."""

    def __call__(self, event: EngineEvent, **fields: Any) -> None: ...


def _ignore(event: EngineEvent, **fields: Any) -> None:
    del event, fields


def _loads(data: bytes) -> Any:
    """Decode a message from the other end of a private pipe (our own process)."""
    return marshal.loads(data)  # noqa: S302  (never data from outside: builds no code)


def _faults(spec: str) -> dict[str, str]:
    faults = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        action, _, unit = item.partition(":")
        if action not in ("hang", "abort") or not unit:
            raise EvaluationError(f"{FAULT_ENV}: expected hang:UNIT or abort:UNIT, got {item!r}")
        faults[unit] = action
    return faults


def _work(
    conn: Connection, rulebase: RuleBase, faults: dict[str, str], jobs: Mapping[str, Job]
) -> None:
    """An engine process: compile, say ready, then answer until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    try:
        rules = CompiledRules(rulebase)
        engine = RoadmapEngine(rulebase, rules=rules)
        gc.freeze()  # the compiled rule base lives as long as the process: never scan it
    except Exception as exc:  # reported to the parent, which refuses the rule base
        conn.send_bytes(marshal.dumps((_Tag.FAILED.value, f"{type(exc).__name__}: {exc}")))
        return
    conn.send_bytes(marshal.dumps((_Tag.READY.value, os.getpid())))
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):  # the server closed the pipe, or died
            return
        kind, unit_id, *payload = _loads(request)
        fault = faults.get(unit_id)
        if fault == "hang":
            while True:  # like the C engine's spin: never answers
                pass
        if fault == "abort":
            os.abort()
        conn.send_bytes(marshal.dumps(_answer(kind, unit_id, payload, rules, engine, jobs)))


def _answer(  # noqa: PLR0917  (private; the worker's state, passed in)
    kind: str,
    unit_id: str,
    payload: list[Any],
    rules: CompiledRules,
    engine: RoadmapEngine,
    jobs: Mapping[str, Job],
) -> tuple[Any, ...]:
    """The reply to one request: (tag, detail, extra)."""
    try:
        if kind == _Tag.RULES:
            context, services = payload
            conclusions = rules.fire(Facts(unit_id, context, services))
            return (_Tag.OK.value, conclusions.fired, conclusions.matched)
        return (_Tag.OK.value, jobs[kind](engine, payload[0]), ())
    except AssessmentError as exc:  # the caller's input: INVALID_ARGUMENT, not INTERNAL
        violations = [(v.path, v.description, v.suggestion) for v in exc.violations]
        return (_Tag.INVALID.value, violations, ())
    except Exception as exc:  # a failure, not a crash: the caller gets INTERNAL
        return (_Tag.ERROR.value, f"{type(exc).__name__}: {exc}", ())


class _KilledError(Exception):
    """A worker was killed from outside mid-evaluation (the call may be tried again)."""


@dataclass(eq=False, slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection

    @property
    def pid(self) -> int:
        return self.process.pid or 0


def _exited(worker: _Worker) -> bool:
    """Whether the worker's process has ended (its sentinel is readable; nothing is read,
    so the watch thread still sees it and replaces the worker)."""
    return bool(multiprocessing.connection.wait([worker.process.sentinel], timeout=0))


class IsolatedRules:
    """A rule base's rules, evaluated by a pool of engine processes."""

    def __init__(
        self,
        rulebase: RuleBase,
        *,
        workers: int = 2,
        max_seconds: float = 5.0,
        max_waiting: int = 64,
        events: EngineEvents = _ignore,
        faults: str | None = None,
        jobs: Mapping[str, Job] | None = None,
    ) -> None:
        """Start ``workers`` engine processes; EvaluationError if they cannot compile.

        ``jobs`` (module-level functions: they are sent by name) are what ``run`` can
        ask of the workers besides the rules' conclusions."""
        if workers < 1:
            raise UsageError("an isolated evaluator needs at least one worker")
        self._faults = _faults(os.environ.get(FAULT_ENV, "") if faults is None else faults)
        self.layout = RuleLayout(rulebase)
        self.size = workers
        self.max_seconds = max_seconds
        self.max_waiting = max_waiting
        self._waiting = 0  # calls waiting for a free worker
        self._rulebase = rulebase
        self._jobs = dict(jobs or {})
        self._events = events
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._changed = threading.Condition()
        self._workers: set[_Worker] = set()
        self._busy: set[_Worker] = set()  # taken by a call
        self._users = 0
        self._closing = False
        self._refused: OrderedDict[bytes, str] = OrderedDict()
        self._failures = 0  # consecutive failed starts, for the restart back-off
        started = [self._spawn() for _ in range(workers)]
        try:
            for worker in started:
                self._await_ready(worker)
        except BaseException:
            for worker in started:
                self._stop(worker)
            raise
        for worker in started:
            self._add(worker)
        threading.Thread(target=self._watch, name="engine-watch", daemon=True).start()

    # -- the pool -------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = _context.Pipe()
        process = _context.Process(
            target=_work,
            args=(child, self._rulebase, self._faults, self._jobs),
            name="roadmap-engine",
            daemon=True,
        )
        try:
            with _REAPING:
                process.start()
        except OSError as exc:  # e.g. no writable temporary directory for the fork server
            parent.close()
            raise EvaluationError(
                f"cannot start an engine worker process: {exc} (multiprocessing needs a "
                "writable temporary directory: TMPDIR, or /tmp)"
            ) from exc
        finally:
            child.close()
        return _Worker(process, parent)

    def _await_ready(self, worker: _Worker) -> None:
        started = time.monotonic()
        try:
            if not worker.conn.poll(START_SECONDS):
                raise EvaluationError(f"engine worker did not start within {START_SECONDS:g} s")
            kind, detail = _loads(worker.conn.recv_bytes())
        except (EOFError, OSError) as exc:
            with _REAPING:
                worker.process.join(STOP_SECONDS)
                code = worker.process.exitcode
            raise EvaluationError(f"engine worker died while starting (exit code {code})") from exc
        if kind != _Tag.READY:
            raise EvaluationError(f"engine worker could not compile the rule base: {detail}")
        self._events(
            EngineEvent.STARTED,
            pid=worker.pid,
            seconds=round(time.monotonic() - started, 3),
        )

    def _add(self, worker: _Worker) -> None:
        with self._changed:
            if self._closing and self._users == 0:
                self._stop(worker)
                return
            self._workers.add(worker)
        self._idle.put(worker)

    def _replace(self) -> None:
        """Start a worker in place of a failed one (in the background; backs off)."""

        def start() -> None:
            while not self._closing:
                delay = RESTART_BACKOFF_SECONDS[
                    min(self._failures, len(RESTART_BACKOFF_SECONDS) - 1)
                ]
                time.sleep(delay)
                worker = self._spawn()
                try:
                    self._await_ready(worker)
                except EvaluationError as exc:
                    self._failures += 1
                    self._events(EngineEvent.START_FAILED, error=str(exc))
                    self._stop(worker)
                    continue
                self._failures = 0
                self._add(worker)
                return

        threading.Thread(target=start, name="engine-restart", daemon=True).start()

    def _discard(self, worker: _Worker, *, if_idle: bool = False) -> int | None:
        """Kill a worker that hung or died, and start its replacement: its exit code.

        Only the thread that takes the worker out of the pool touches it (a process is
        not joined, nor its pipe closed, from two threads): for any other, None. With
        ``if_idle``, a worker a call has taken meanwhile is left to that call."""
        with self._changed:
            ours = worker in self._workers and not (if_idle and worker in self._busy)
            if ours:
                self._workers.discard(worker)
                self._busy.discard(worker)
        if not ours:
            return None
        with contextlib.suppress(OSError, ValueError):
            worker.process.kill()
        with _REAPING:
            worker.process.join(STOP_SECONDS)
            code = worker.process.exitcode
        worker.conn.close()
        self._replace()
        return code

    def _watch(self) -> None:
        """Replace workers that die while idle (killed from outside), without a call noticing."""
        while not self._closing:
            with self._changed:
                workers = {w.process.sentinel: w for w in self._workers}
            for sentinel in multiprocessing.connection.wait(list(workers), timeout=0.5):
                worker = workers[sentinel]  # type: ignore[index]
                # A busy worker's death is its caller's to report and replace (None here).
                if (code := self._discard(worker, if_idle=True)) is not None:
                    self._events(EngineEvent.DIED, pid=worker.pid, code=code, unit_id="")

    @staticmethod
    def _stop(worker: _Worker) -> None:
        worker.conn.close()  # the worker reads EOF and exits
        with _REAPING:
            worker.process.join(STOP_SECONDS)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join(STOP_SECONDS)

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        with self._changed:
            self._users += 1
        try:
            yield
        finally:
            with self._changed:
                self._users -= 1
                drained = self._closing and self._users == 0
            if drained:
                self._stop_all()

    def _stop_all(self) -> None:
        with self._changed:
            workers, self._workers = self._workers, set()
        for worker in workers:
            self._stop(worker)

    def close(self) -> None:
        """Drain: calls already using the pool finish, then every worker exits."""
        with self._changed:
            self._closing = True
            drained = self._users == 0
        if drained:
            self._stop_all()

    @property
    def pids(self) -> list[int]:
        with self._changed:
            return sorted(w.pid for w in self._workers)

    @property
    def refused(self) -> int:
        return len(self._refused)

    # -- evaluation -----------------------------------------------------------------

    def _refuse(self, digest: bytes, unit_id: str, reason: str) -> None:
        with self._changed:
            self._refused[digest] = reason
            while len(self._refused) > MAX_REFUSED:
                self._refused.popitem(last=False)
        self._events(EngineEvent.REFUSED, unit_id=unit_id, digest=digest.hex(), reason=reason)

    def _acquire(self, until: float, deadline: float | None, unit_id: str) -> _Worker:
        """A live idle worker, waiting until ``until`` at most; shed when too many wait."""
        with self._changed:
            shed = self._idle.empty() and self._waiting >= self.max_waiting
            if not shed:
                self._waiting += 1
        if shed:
            self._events(EngineEvent.SHED, unit_id=unit_id, waiting=self.max_waiting)
            raise EngineBusyError(
                f"busy: {self.max_waiting} evaluations already wait for an engine worker; "
                "retry the call"
            )
        try:
            return self._wait_for_worker(until, deadline, unit_id)
        finally:
            with self._changed:
                self._waiting -= 1

    def _wait_for_worker(self, until: float, deadline: float | None, unit_id: str) -> _Worker:
        while True:
            if self._closing and not self._workers:
                raise EngineCrashedError(
                    f"the rule base was replaced while {unit_id!r} waited: retry the call"
                )
            remaining = until - time.monotonic()
            if remaining <= 0:
                if deadline is not None and until >= deadline:
                    raise EngineTimeoutError(
                        f"no engine worker was free before the deadline (all {self.size} busy)"
                    )
                raise EngineBusyError(
                    f"busy: no engine worker was free within {MAX_WAIT_SECONDS:g} s; retry the call"
                )
            try:
                worker = self._idle.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if _exited(worker):  # died while idle: the watch replaces it; wait for another
                continue
            with self._changed:
                if worker in self._workers:  # else it was stopped while idle: skip it
                    self._busy.add(worker)
                    return worker

    def evaluate(self, assessment: Assessment, *, deadline: float | None = None) -> Conclusions:
        """The conclusions for one assessment, from a worker, within the deadline."""
        facts = self.layout.facts(assessment)
        request = (_Tag.RULES.value, facts.unit_id, facts.context, facts.services)
        fired, matched = self._call(request, facts.unit_id, deadline)
        return Conclusions(tuple(fired), tuple(tuple(m) for m in matched))

    def run(self, job: str, unit_id: str, data: bytes, *, deadline: float | None = None) -> bytes:
        """What the job ``job`` makes of ``data`` in a worker, within the deadline.

        ``unit_id`` names the input in events (and for fault injection). A job that
        finds its input invalid raises AssessmentError here, as it would in process."""
        if job not in self._jobs:
            raise UsageError(f"no job {job!r} (this pool runs {sorted(self._jobs)})")
        answer: bytes = self._call((job, unit_id, data), unit_id, deadline)[0]
        return answer

    def _call(
        self, message: tuple[Any, ...], unit_id: str, deadline: float | None
    ) -> tuple[Any, Any]:
        """A worker's (detail, extra) for one request, tried on another worker if its
        own is killed from outside; a refused input is not sent at all."""
        request = marshal.dumps(message)
        digest = hashlib.blake2b(request, digest_size=16).digest()
        reason = self._refused.get(digest)
        if reason is not None:
            raise InputRefusedError(
                f"refused: this input ({digest.hex()}) {reason} earlier; it is not "
                "evaluated again until the rule base is reloaded",
                digest=digest.hex(),
            )
        until = deadline if deadline is not None else time.monotonic() + MAX_WAIT_SECONDS
        with self._using():
            # A worker killed from outside under the call is tried again on another, or
            # on a replacement: as many times as there are workers, so that all of them
            # killed at once still costs the call nothing.
            for attempt in range(self.size + 1):
                worker = self._acquire(until, deadline, unit_id)
                limit = time.monotonic() + self.max_seconds  # evaluation time only
                cutoff = limit if deadline is None else min(limit, deadline)
                try:
                    reply = self._ask(worker, request, cutoff, limit, unit_id, digest)
                    break
                except _KilledError as exc:
                    if attempt == self.size:
                        raise EngineCrashedError(str(exc)) from exc
        status, detail, extra = _loads(reply)
        if status == _Tag.INVALID:
            raise AssessmentError([FieldViolation(tuple(p), d, s) for p, d, s in detail])
        if status != _Tag.OK:
            raise EvaluationError(detail)
        return detail, extra

    def _ask(  # noqa: PLR0917  (private; every argument is needed)
        self,
        worker: _Worker,
        request: bytes,
        cutoff: float,
        limit: float,
        unit_id: str,
        digest: bytes,
    ) -> bytes:
        """One worker's answer, or the worker is replaced and the failure raised."""
        try:
            worker.conn.send_bytes(request)
            answered = worker.conn.poll(max(0.0, cutoff - time.monotonic()))
            reply = worker.conn.recv_bytes() if answered else b""
        except (EOFError, OSError) as exc:
            code = self._discard(worker)
            self._events(EngineEvent.DIED, pid=worker.pid, code=code, unit_id=unit_id)
            message = (
                f"the engine worker evaluating this input died (exit code {code}); "
                "it has been replaced"
            )
            if code == -signal.SIGKILL:
                # Killed from outside (an operator, the OOM killer): not the input's
                # doing, so it is not held against it and is tried once more.
                raise _KilledError(message) from exc
            # A crash (SIGSEGV, SIGABRT, an exit) is the input's doing.
            self._refuse(digest, unit_id, f"crashed an engine worker (exit code {code})")
            raise EngineCrashedError(message, digest=digest.hex(), exit_code=code) from exc
        if answered:
            with self._changed:
                self._busy.discard(worker)
            self._idle.put(worker)
            return reply
        overran = cutoff >= limit
        self._discard(worker)
        self._events(
            EngineEvent.KILLED,
            pid=worker.pid,
            unit_id=unit_id,
            reason="max_seconds" if overran else "deadline",
        )
        # Past the configured maximum it is a hang. A missed deadline is not held
        # against the input: under overload every input misses some.
        if overran:
            self._refuse(digest, unit_id, f"ran past the {self.max_seconds:g} s limit")
        limit_text = f"the {self.max_seconds:g} s limit" if overran else "the deadline"
        raise EngineTimeoutError(
            f"rule evaluation ran past {limit_text}; its engine worker was stopped and replaced",
            digest=digest.hex(),
            limit_seconds=self.max_seconds if overran else None,
        )
