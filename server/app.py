"""Run the gRPC server: rule base, services, health, reflection, signals, shutdown.

Lifecycle: health is NOT_SERVING until the rule base is loaded, then SERVING. SIGHUP
(or AdminService.ReloadRuleBase, or the directory watch) reloads the rule base; a bad
one is refused, logged and counted, and the old one keeps serving. SIGTERM or SIGINT
turns health NOT_SERVING, refuses new calls with UNAVAILABLE, lets in-flight calls
finish within the grace period (cancelling what is left after it), and exits 0.
"""

from __future__ import annotations

import signal
import threading
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from engine.errors import RuleBaseError
from server.observability import configure_logging, log, set_worker
from server.service import ADMIN_SERVICE_NAME, SERVICE_NAME, AdminService, Gate, RoadmapService
from server.state import RuleBaseHolder, log_refused
from server.workers import supervise

if TYPE_CHECKING:
    from types import FrameType

    from server.config import Config

EXIT_OK = 0
EXIT_BAD_RULES = 1
EXIT_BAD_ADDRESS = 3


class Server:
    """A configured server: ``start()``, then ``stop()`` or ``reload()`` from anywhere."""

    def __init__(self, config: Config, holder: RuleBaseHolder | None = None) -> None:
        self.config = config
        self.holder = holder or RuleBaseHolder(
            config.rules,
            engine_workers=config.engine_workers,
            max_evaluation_seconds=config.max_evaluation_seconds,
        )
        # Fingerprint before loading: an edit made while (or right after) loading is a change.
        self._fingerprint = _fingerprint(config)
        if config.workers > 1:
            # A worker shares its port with others: it takes no connection it cannot
            # answer, so it loads before it binds. (One process binds first instead,
            # so its health says NOT_SERVING while it loads.)
            self.holder.reload()
        self.health = health.HealthServicer()
        self.gate = Gate()
        self.stopped = threading.Event()  # stop requested
        self.drained = threading.Event()  # in-flight calls finished, server down
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", 4 * config.max_message_bytes),
            ("grpc.so_reuseport", 1 if config.workers > 1 else 0),
        ]
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.threads), options=options
        )
        pb_grpc.add_RoadmapServiceServicer_to_server(
            RoadmapService(self.holder, self.gate, max_batch=config.max_batch), self.grpc
        )
        names = [
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        if config.enable_admin:
            pb_grpc.add_AdminServiceServicer_to_server(
                AdminService(self.holder, self.gate), self.grpc
            )
            names.append(ADMIN_SERVICE_NAME)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(names, self.grpc)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port = self.grpc.add_insecure_port(config.address)
        if self.port == 0 and not config.address.startswith("unix:"):
            raise OSError(f"cannot listen on {config.address}")

    def _set_health(self, status: int) -> None:
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def start(self) -> None:
        """Listen, load the rule base (refusing to start on a bad one), then serve."""
        self.grpc.start()
        log.info("listening", listen=self.config.address, port=self.port)
        if not self.holder.loaded:
            self.holder.reload()
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving", listen=self.config.address, port=self.port, rules=str(self.config.rules)
        )
        if self.config.watch_seconds > 0:
            watch = threading.Thread(
                target=self._watch, args=(self._fingerprint,), name="rules-watch", daemon=True
            )
            watch.start()

    def reload(self, source: str) -> bool:
        """Reload the rule base; False (and the old one keeps serving) if it is refused."""
        try:
            self.holder.reload()
        except RuleBaseError as exc:
            log_refused(exc, source)
            return False
        except OSError as exc:
            log.error("rule_base_unreadable", error=str(exc))
            return False
        return True

    def _watch(self, fingerprint: tuple[tuple[str, int, int], ...]) -> None:
        while not self.stopped.wait(self.config.watch_seconds):
            current = _fingerprint(self.config)
            if current != fingerprint:
                fingerprint = current
                log.info("rule_base_changed", directory=str(self.config.rules))
                self.reload("watch")

    def stop(self) -> None:
        """Drain: refuse new calls, let in-flight ones finish within the grace period."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.health.enter_graceful_shutdown()
        log.info("stopping", grace_seconds=self.config.grace_seconds)
        # New calls get UNAVAILABLE (retryable elsewhere) while in-flight ones finish;
        # health keeps answering NOT_SERVING meanwhile.
        drained = self.gate.close_and_wait(self.config.grace_seconds)
        self.grpc.stop(0).wait()
        self.holder.close()
        log.info("stopped", in_flight_finished=drained)
        self.drained.set()


def _fingerprint(config: Config) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(
            sorted(
                (p.name, p.stat().st_mtime_ns, p.stat().st_size)
                for p in config.rules.glob("*.yaml")
            )
        )
    except OSError:
        return ()


def serve(config: Config) -> int:
    """Run until SIGTERM/SIGINT; the exit code of `roadmap serve`."""
    configure_logging(config.log_level)
    if config.workers == 1:
        return _serve_one(config, 0)
    if config.address.startswith("unix:") or config.address.endswith(":0"):
        log.error(
            "cannot_listen",
            listen=config.address,
            error="--workers > 1 needs a fixed TCP port (workers share it with SO_REUSEPORT)",
        )
        return EXIT_BAD_ADDRESS
    return supervise(
        config, lambda index: _serve_one(config, index), fatal=(EXIT_BAD_RULES, EXIT_BAD_ADDRESS)
    )


def _serve_one(config: Config, worker: int) -> int:
    """One server process (the only one, or worker ``worker`` of several)."""
    set_worker(worker)
    if config.metrics_port:
        start_http_server(config.metrics_port + worker)  # one port per worker
    try:
        server = Server(config)  # loads the rule base first when it is one of several workers
        server.start()
    except RuleBaseError as exc:
        log_refused(exc, "startup")
        return EXIT_BAD_RULES
    except (OSError, RuntimeError) as exc:
        log.error("cannot_listen", listen=config.address, error=str(exc))
        return EXIT_BAD_ADDRESS

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal", signal=signal.Signals(signum).name)
        threading.Thread(target=server.stop, name="shutdown").start()

    def on_reload(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.reload, args=("SIGHUP",), name="reload").start()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    server.grpc.wait_for_termination()
    server.drained.wait()
    return EXIT_OK
