"""Several worker processes on one address: gRPC's own multiprocessing model.

The supervisor forks the workers before any gRPC state or thread exists (gRPC does not
survive a fork); each worker is a complete server on the same TCP port with
SO_REUSEPORT, so the kernel spreads connections over them. The supervisor forwards
SIGTERM/SIGINT (drain) and SIGHUP (reload) to every worker, replaces a worker that dies
unexpectedly (with a back-off if it keeps dying within seconds of starting), and exits
0 once all workers have drained. Unix sockets cannot be shared this way: use one
process per socket, or TCP.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from server.observability import log

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from server.config import Config

FAST_EXIT_SECONDS = 5.0  # a worker dying sooner than this after start is "crashing"
MAX_BACKOFF_SECONDS = 10.0


def supervise(
    config: Config, run_worker: Callable[[int], int], *, fatal: tuple[int, ...] = ()
) -> int:
    """Run ``config.workers`` workers (``run_worker(index)`` in each) until told to stop.

    A worker exiting with a code in ``fatal`` (a bad rule base, an address it cannot
    bind) stops them all: restarting would fail the same way.
    """
    return Supervisor(config.workers, run_worker, fatal).run(config.listen)


class Supervisor:
    def __init__(
        self, workers: int, run_worker: Callable[[int], int], fatal: tuple[int, ...]
    ) -> None:
        self.workers = workers
        self.run_worker = run_worker
        self.fatal = fatal
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (index, started at)
        self.backoff: dict[int, float] = {}
        self.stopping = False

    def spawn(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: becomes a full server, never returns here
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            code = 1
            try:
                code = self.run_worker(index)
            finally:
                os._exit(code)
        self.children[pid] = (index, time.monotonic())
        log.info("worker_started", worker=index, pid=pid)

    def forward(self, signum: int, _frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: every worker drains; SIGHUP: every worker reloads."""
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)
            except ProcessLookupError:
                continue

    def replace(self, index: int, pid: int, code: int, started: float) -> None:
        """A worker died while serving: start another, backing off if it keeps dying."""
        lived = time.monotonic() - started
        delay = 0.0
        if lived < FAST_EXIT_SECONDS:
            delay = min(MAX_BACKOFF_SECONDS, max(0.5, self.backoff.get(index, 0.25) * 2))
        self.backoff[index] = delay
        log.error(
            "worker_died",
            worker=index,
            pid=pid,
            code=code,
            lived_seconds=round(lived, 2),
            restart_in=delay,
        )
        time.sleep(delay)
        if not self.stopping:
            self.spawn(index)

    def run(self, address: str) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self.forward)
        log.info("supervising", workers=self.workers, listen=address)
        for index in range(self.workers):
            self.spawn(index)
        status = 0
        while self.children:
            try:
                pid, raw = os.wait()
            except ChildProcessError:
                break
            index, started = self.children.pop(pid, (-1, 0.0))
            code = os.waitstatus_to_exitcode(raw)
            if self.stopping:
                log.info("worker_stopped", worker=index, pid=pid, code=code)
                status = max(status, code if code > 0 else 0)
            elif code in self.fatal:
                log.error(
                    "worker_failed", worker=index, pid=pid, code=code, detail="stopping all workers"
                )
                status = code
                self.forward(signal.SIGTERM, None)
            else:
                self.replace(index, pid, code, started)
        log.info("supervisor_stopped")
        return status
