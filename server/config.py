"""Server configuration from command-line flags, each with a ROADMAP_* environment default."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contract.settings import DEFAULT_ADDRESS, env_path
from contract.settings import env as _env
from engine.rulebase import BUNDLED_RULES

DEFAULT_LISTEN = DEFAULT_ADDRESS
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})$")


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = DEFAULT_LISTEN
    rules: Path = BUNDLED_RULES
    workers: int = 1
    threads: int = 16
    log_level: str = "info"
    metrics_port: int = 0  # 0: no metrics endpoint
    grace_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    max_batch: int = 10_000
    max_stream_items: int = 1_000_000
    enable_admin: bool = False
    watch_seconds: float = 0.0  # 0: no polling of the rule base directory
    engine_workers: int = 2  # rule-engine processes; 0: in the server process (no containment)
    max_evaluation_seconds: float = 5.0  # an evaluation's limit when the call sets no deadline
    tls_cert: Path | None = None  # server certificate chain (PEM); with tls_key: TLS
    tls_key: Path | None = None  # its private key (PEM, unencrypted)
    tls_client_ca: Path | None = None  # clients must present a certificate it signed: mTLS
    socket_mode: int = 0o600  # permissions of a unix: socket file


def _listen(value: str) -> str:
    if value.startswith("unix:"):
        if len(value) <= len("unix:"):
            raise argparse.ArgumentTypeError(
                "unix: needs a socket path, e.g. unix:/run/roadmap.sock"
            )
        return value
    match = _HOST_PORT.match(value)
    if not match or not 0 <= int(match.group(2)) < 65536:  # port 0: any free port (logged)
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or unix:PATH, got {value!r}")
    return value


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(value: str) -> int | float:
        number = kind(value)
        if number < 0:
            raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
        return number

    return parse


def _mode(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"expected an octal file mode such as 0600, got {value!r}")
    return mode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `roadmap serve` flags; every default can come from ROADMAP_<FLAG>."""
    d = Config()
    parser.add_argument(
        "--listen",
        type=_listen,
        default=_env("LISTEN", d.listen),
        help=f"HOST:PORT or unix:PATH (ROADMAP_LISTEN, default {d.listen})",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        default=Path(_env("RULES", str(d.rules))),
        help="rule base directory (ROADMAP_RULES, default: bundled)",
    )
    parser.add_argument(
        "--workers",
        type=_positive(int),
        default=int(_env("WORKERS", str(d.workers))),
        help="worker processes sharing the TCP port (ROADMAP_WORKERS, default 1)",
    )
    parser.add_argument(
        "--threads",
        type=_positive(int),
        default=int(_env("THREADS", str(d.threads))),
        help="request threads per process (ROADMAP_THREADS)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=_env("LOG_LEVEL", d.log_level),
        help="(ROADMAP_LOG_LEVEL)",
    )
    parser.add_argument(
        "--metrics-port",
        type=_positive(int),
        default=int(_env("METRICS_PORT", str(d.metrics_port))),
        help="Prometheus /metrics port, 0 for none (ROADMAP_METRICS_PORT)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=_positive(float),
        default=float(_env("GRACE_SECONDS", str(d.grace_seconds))),
        help="time in-flight calls get on SIGTERM (ROADMAP_GRACE_SECONDS)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=_positive(int),
        default=int(_env("MAX_MESSAGE_BYTES", str(d.max_message_bytes))),
        help="largest request accepted (ROADMAP_MAX_MESSAGE_BYTES)",
    )
    parser.add_argument(
        "--max-batch",
        type=_positive(int),
        default=int(_env("MAX_BATCH", str(d.max_batch))),
        help="most assessments in one SummarizePortfolio call (ROADMAP_MAX_BATCH)",
    )
    parser.add_argument(
        "--max-stream-items",
        type=_positive(int),
        default=int(_env("MAX_STREAM_ITEMS", str(d.max_stream_items))),
        help="most assessments in one StreamRoadmaps call; past it the stream ends with "
        f"RESOURCE_EXHAUSTED (ROADMAP_MAX_STREAM_ITEMS, default {d.max_stream_items:,})",
    )
    parser.add_argument(
        "--enable-admin",
        action="store_true",
        default=_env("ENABLE_ADMIN", "") in ("1", "true", "yes"),
        help="serve roadmap.v1.AdminService (ROADMAP_ENABLE_ADMIN=1)",
    )
    parser.add_argument(
        "--watch-seconds",
        type=_positive(float),
        default=float(_env("WATCH_SECONDS", str(d.watch_seconds))),
        help="poll the rule base directory and reload on change, 0 for off (ROADMAP_WATCH_SECONDS)",
    )
    parser.add_argument(
        "--engine-workers",
        type=_positive(int),
        default=int(_env("ENGINE_WORKERS", str(d.engine_workers))),
        help="rule-engine processes per server process; a hang or crash in one is "
        "contained and it is replaced; 0 runs the engine in the server process, faster "
        f"but uncontained (ROADMAP_ENGINE_WORKERS, default {d.engine_workers})",
    )
    parser.add_argument(
        "--max-evaluation-seconds",
        type=_positive(float),
        default=float(_env("MAX_EVALUATION_SECONDS", str(d.max_evaluation_seconds))),
        help="longest one evaluation may run when the call's deadline is later or unset; "
        f"its engine process is then killed (ROADMAP_MAX_EVALUATION_SECONDS, default {d.max_evaluation_seconds:g})",
    )
    parser.add_argument(
        "--tls-cert",
        type=Path,
        default=env_path("TLS_CERT"),
        metavar="FILE",
        help="serve TLS with this certificate chain (PEM); needs --tls-key (ROADMAP_TLS_CERT)",
    )
    parser.add_argument(
        "--tls-key",
        type=Path,
        default=env_path("TLS_KEY"),
        metavar="FILE",
        help="the private key of --tls-cert (PEM, unencrypted) (ROADMAP_TLS_KEY)",
    )
    parser.add_argument(
        "--tls-client-ca",
        type=Path,
        default=env_path("TLS_CLIENT_CA"),
        metavar="FILE",
        help="mutual TLS: require a client certificate signed by a CA in FILE (PEM); "
        "needs --tls-cert and --tls-key (ROADMAP_TLS_CLIENT_CA)",
    )
    parser.add_argument(
        "--socket-mode",
        type=_mode,
        default=_env("SOCKET_MODE", f"{d.socket_mode:04o}"),
        metavar="MODE",
        help=f"permissions of the socket file of a unix: --listen address, octal "
        f"(ROADMAP_SOCKET_MODE, default {d.socket_mode:04o})",
    )


def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse flag combinations one flag alone cannot (argparse's usage error, exit 2)."""
    if args.tls_cert is not None and args.tls_key is None:
        parser.error("--tls-cert needs --tls-key (the certificate's private key)")
    if args.tls_key is not None and args.tls_cert is None:
        parser.error("--tls-key needs --tls-cert (the certificate chain it belongs to)")
    if args.tls_client_ca is not None and args.tls_cert is None:
        parser.error("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")


def from_namespace(args: argparse.Namespace) -> Config:
    return Config(
        listen=args.listen,
        rules=args.rules,
        workers=max(1, args.workers),
        threads=max(1, args.threads),
        log_level=args.log_level,
        metrics_port=args.metrics_port,
        grace_seconds=args.grace_seconds,
        max_message_bytes=max(1024, args.max_message_bytes),
        max_batch=max(1, args.max_batch),
        max_stream_items=max(1, args.max_stream_items),
        enable_admin=args.enable_admin,
        watch_seconds=args.watch_seconds,
        engine_workers=args.engine_workers,
        max_evaluation_seconds=max(0.01, args.max_evaluation_seconds),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        socket_mode=args.socket_mode,
    )
