"""Run the gRPC server: rule base, services, health, reflection, signals, shutdown.

Lifecycle: health is NOT_SERVING until the rule base is loaded, then SERVING. SIGHUP
(or AdminService.ReloadRuleBase, or the directory watch) reloads the rule base; a bad
one is refused, logged and counted, and the old one keeps serving. SIGTERM or SIGINT
turns health NOT_SERVING, refuses new calls with UNAVAILABLE, lets in-flight calls
finish within the grace period, keeps answering UNAVAILABLE for the drain period, and
exits 0 without stopping grpc (see ``Server.stop``): no caller ever sees CANCELLED.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import stat
import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server
from roadmap.v1 import roadmap_pb2 as pb

from engine.errors import RuleBaseError
from server.observability import configure_logging, log, set_worker
from server.service import (
    ADMIN_SERVICE_NAME,
    SERVICE_NAME,
    AdminService,
    Gate,
    RoadmapService,
    add_to_server,
)
from server.state import RuleBaseHolder, log_refused
from server.workers import supervise

if TYPE_CHECKING:
    from types import FrameType

    from server.config import Config
    from server.http import HttpServer

EXIT_OK = 0
EXIT_BAD_RULES = 1
EXIT_BAD_ADDRESS = 3
SIGNAL_POLL_SECONDS = 0.1


class Server:
    """A configured server: ``start()``, then ``stop()`` or ``reload()`` from anywhere."""

    http: HttpServer | None = None  # --http-listen: HTTP/JSON and the web app (server/http.py)

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
        add_to_server(
            RoadmapService(
                self.holder,
                self.gate,
                max_batch=config.max_batch,
                max_stream_items=config.max_stream_items,
            ),
            pb.DESCRIPTOR.services_by_name["RoadmapService"],
            self.grpc,
        )
        names = [
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        if config.enable_admin:
            add_to_server(
                AdminService(self.holder, self.gate),
                pb.DESCRIPTOR.services_by_name["AdminService"],
                self.grpc,
            )
            names.append(ADMIN_SERVICE_NAME)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(names, self.grpc)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.port = _bind(self.grpc, config)

    def _set_health(self, status: int) -> None:
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def start(self) -> None:
        """Listen, load the rule base (refusing to start on a bad one), then serve."""
        if self.config.http_listen:
            from server.http import serve_http  # noqa: PLC0415  (its libraries only if asked)

            self.http = serve_http(self.config, self.holder, self.gate, self.health)
        self.grpc.start()
        log.info("listening", listen=self.config.listen, port=self.port)
        if not self.holder.loaded:
            self.holder.reload()
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", listen=self.config.listen, port=self.port, rules=str(self.config.rules))
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
        """Drain: refuse new calls and connections, let in-flight calls finish, keep
        answering a while on the connections there are, then let the process end.

        grpc's own stop is never called. It cancels the calls it has received but not
        yet handed to a handler, and those that arrive until each client has read its
        GOAWAY: their callers see CANCELLED, which no standard retry policy retries.
        Instead the process exits once drained (``_serve_one``) and the kernel closes
        its connections: a gRPC client reports a call left on a dropped connection as
        UNAVAILABLE, as when a server dies. The listener is closed first, so that no
        connection is still being opened (its request unread) when that happens: the
        kernel would reset it, which some clients (connect-go: `buf curl`) report as
        CANCELLED.
        """
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.health.enter_graceful_shutdown()
        # New calls get UNAVAILABLE (retryable elsewhere), new connections are refused
        # (UNAVAILABLE too), calls in flight finish.
        self.gate.close_and_wait(0)  # closed from now on; the wait for calls is below
        listening = not _stop_listening(self.config, self.port)
        log.info(
            "stopping",
            grace_seconds=self.config.grace_seconds,
            drain_seconds=self.config.drain_seconds,
            listening=listening,
        )
        drained = self.gate.close_and_wait(self.config.grace_seconds)
        # Meanwhile grpc sends the last answers, and callers on the open connections
        # get UNAVAILABLE (health NOT_SERVING) and go elsewhere.
        time.sleep(self.config.drain_seconds)
        if self.http is not None:
            self.http.stop()
        self.holder.close()
        log.info("stopped", in_flight_finished=drained)
        self.drained.set()


def _stop_listening(config: Config, port: int) -> bool:
    """Close grpc's listening socket for ``config.listen``; True if it was found.

    New connections are then refused, while the established ones are served on. grpc
    offers no call for this short of its stop (see ``Server.stop``), so the socket is
    found among the process's descriptors (Linux's /proc; elsewhere nothing is done):
    a listening socket (SO_ACCEPTCONN) on our port or socket file. A fresh, idle socket
    takes its descriptor number (dup2), so grpc's acceptor never hears of it again
    (shutting the socket instead makes grpc log a failed accept).
    """
    descriptors = Path("/proc/self/fd")
    unix = _unix_path(config.listen)
    found = False
    for entry in descriptors.iterdir() if descriptors.is_dir() else ():
        try:
            descriptor = int(entry.name)
            sock = socket.socket(fileno=os.dup(descriptor))
        except (OSError, ValueError):
            continue  # not a socket, or already closed
        with sock:  # a duplicate: the listener closes once it and grpc's are replaced
            try:
                if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                name = sock.getsockname()
            except OSError:
                continue
            if unix is not None:
                ours = sock.family == socket.AF_UNIX and name == str(unix)
            else:
                ours = sock.family in (socket.AF_INET, socket.AF_INET6) and name[1] == port
            if ours:
                with socket.socket(sock.family, socket.SOCK_STREAM) as idle:
                    os.dup2(idle.fileno(), descriptor)
                found = True
    return found


def _bind(server: grpc.Server, config: Config) -> int:
    """Add the listening port (TLS when configured); the port, or OSError saying why not.

    Single-process servers set no SO_REUSEPORT, so a TCP port in use is refused. For
    unix: grpc creates the socket file here (at bind, not at start) and would silently
    replace a live server's socket, so a socket something answers on is refused; the
    file is created under a umask that grants at most ``socket_mode`` to the owner only,
    then given exactly ``socket_mode``.
    """
    credentials = _server_credentials(config)
    unix = _unix_path(config.listen)
    if unix is not None:
        _refuse_live_socket(unix)
    previous = os.umask(0o077 | (0o777 & ~config.socket_mode)) if unix is not None else None
    try:
        if credentials is None:
            port = server.add_insecure_port(config.listen)
        else:
            port = server.add_secure_port(config.listen, credentials)
    except RuntimeError as exc:  # grpc says "Failed to bind", whatever the cause
        raise OSError(_why_not(config, exc)) from None
    finally:
        if previous is not None:
            os.umask(previous)
    if unix is not None:
        unix.chmod(config.socket_mode)
    elif port == 0:
        raise OSError(f"cannot listen on {config.listen}")
    return port


def _server_credentials(config: Config) -> grpc.ServerCredentials | None:
    """TLS credentials from the configured PEM files, or None (plaintext)."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    chain = _read_pem(config.tls_cert, "--tls-cert", b"-----BEGIN CERTIFICATE-----")
    key = _read_pem(config.tls_key, "--tls-key", b"PRIVATE KEY-----")
    if b"ENCRYPTED" in key:
        raise OSError(f"--tls-key {config.tls_key}: an encrypted private key is not supported")
    ca = None
    if config.tls_client_ca is not None:
        ca = _read_pem(config.tls_client_ca, "--tls-client-ca", b"-----BEGIN CERTIFICATE-----")
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=ca, require_client_auth=ca is not None
    )


def _read_pem(path: Path, flag: str, marker: bytes) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OSError(f"{flag} {path}: cannot read it: {exc.strerror or exc}") from None
    if marker not in data:
        raise OSError(f"{flag} {path}: no PEM {marker.strip(b'-').decode().lower()} in it")
    return data


def _why_not(config: Config, error: RuntimeError) -> str:
    """grpc's bind error names no cause: find it (bad TLS files, or the address)."""
    if config.tls_cert is not None and config.tls_key is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(config.tls_cert, config.tls_key, password=b"")
            if config.tls_client_ca is not None:
                context.load_verify_locations(cafile=config.tls_client_ca)
            # (an encrypted key was refused before: no password prompt here)
        except (ssl.SSLError, OSError) as exc:
            files = f"--tls-cert {config.tls_cert}, --tls-key {config.tls_key}"
            if config.tls_client_ca is not None:
                files += f", --tls-client-ca {config.tls_client_ca}"
            return f"TLS files refused ({files}): {getattr(exc, 'reason', None) or exc}"
    unix = _unix_path(config.listen)
    if unix is None:
        cause = _tcp_bind_error(config.listen)
    elif not unix.parent.is_dir():
        cause = f"no directory {unix.parent}"
    elif unix.exists():
        cause = f"{unix} exists and is not a socket"
    else:
        cause = None
    return f"cannot listen on {config.listen}: {cause or error}"


def _tcp_bind_error(address: str) -> str | None:
    """Why binding HOST:PORT fails (e.g. "Address already in use"), if it does."""
    host, _, port = address.rpartition(":")
    try:
        infos = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, ValueError) as exc:
        return str(exc)
    for family, kind, proto, _name, where in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does
            try:
                probe.bind(where)
            except OSError as exc:
                return exc.strerror or str(exc)
    return None


def _unix_path(address: str) -> Path | None:
    """The socket file of a unix:PATH or unix:///PATH address; None for TCP."""
    if not address.startswith("unix:"):
        return None
    path = address.removeprefix("unix:")
    return Path(path.removeprefix("//") if path.startswith("///") else path)


def _refuse_live_socket(path: Path) -> None:
    """OSError if a process answers on the socket file ``path`` (a stale one is fine)."""
    try:
        if not stat.S_ISSOCK(path.stat().st_mode):
            return  # grpc refuses to replace a file that is not a socket
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return  # stale: left by a process that is gone; grpc replaces it
        except OSError as exc:
            raise OSError(f"{path}: a socket file in use or not ours ({exc})") from None
    raise OSError(f"{path}: address already in use (a server is listening on it)")


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
    if config.listen.startswith("unix:") or config.listen.endswith(":0"):
        log.error(
            "cannot_listen",
            listen=config.listen,
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
        log.error("cannot_listen", listen=config.listen, error=str(exc))
        return EXIT_BAD_ADDRESS

    # A handler runs in the main thread between any two bytecodes, even inside a lock the
    # interrupted code holds (the log's, while an earlier handler writes its line: a
    # second SIGTERM then hung the process). So it only notes the signal; this loop acts.
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(handled, note)
    while not server.drained.wait(SIGNAL_POLL_SECONDS):
        while received:
            signum = received.pop(0)
            log.info("signal", signal=signal.Signals(signum).name)
            if signum == signal.SIGHUP:
                threading.Thread(target=server.reload, args=("SIGHUP",), name="reload").start()
            else:
                threading.Thread(target=server.stop, name="shutdown").start()
    return _exit(EXIT_OK)  # never returns: the process ends here


def _exit(code: int) -> NoReturn:
    """End the process now: no grpc stop, not even the one the interpreter's shutdown
    runs when it collects the server (see ``Server.stop``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
