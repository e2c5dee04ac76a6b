"""Server configuration: one table of settings, each a `roadmap serve` flag whose default
can come from the environment (``--max-batch`` from ``ROADMAP_MAX_BATCH``).

A setting is a ``Config`` field; its flag, environment name, parser, floor and help text
all come from that one field, so adding a setting is adding a field.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.settings import DEFAULT_ADDRESS
from contract.settings import env as _env
from engine.rulebase import BUNDLED_RULES

DEFAULT_LISTEN = DEFAULT_ADDRESS
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})$")


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


def _number(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
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


def _path(value: str) -> Path | None:
    return Path(value) if value else None


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def _flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _setting(
    default: Any,
    help: str,
    *,
    parse: Callable[[str], Any],
    floor: float | None = None,
    metavar: str | None = None,
    show: str | None = None,
) -> Any:
    """A ``Config`` field and everything its flag needs.

    ``floor``: values below it are raised to it (a zero that would disable the server);
    ``show``: the default as the help text gives it, when ``str(default)`` is not right.
    """
    return dataclasses.field(
        default=default,
        metadata={"help": help, "parse": parse, "floor": floor, "metavar": metavar, "show": show},
    )


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = _setting(
        DEFAULT_LISTEN, "HOST:PORT or unix:PATH", parse=_listen, metavar="ADDRESS"
    )
    rules: Path = _setting(
        BUNDLED_RULES, "rule base directory", parse=Path, metavar="DIR", show="bundled"
    )
    workers: int = _setting(1, "worker processes sharing the TCP port", parse=_number(int), floor=1)
    threads: int = _setting(16, "request threads per process", parse=_number(int), floor=1)
    log_level: str = _setting(
        "info",
        "debug, info, warning or error",
        parse=_choice("debug", "info", "warning", "error"),
        metavar="LEVEL",
    )
    metrics_port: int = _setting(
        0, "Prometheus /metrics port, 0 for none", parse=_number(int), metavar="PORT"
    )
    grace_seconds: float = _setting(
        10.0, "time in-flight calls get on SIGTERM", parse=_number(float), metavar="SECONDS"
    )
    drain_seconds: float = _setting(
        0.5,
        "on SIGTERM, after the in-flight calls: how long the open connections keep "
        "answering UNAVAILABLE (health NOT_SERVING) before the process exits, closing them",
        parse=_number(float),
        metavar="SECONDS",
    )
    max_message_bytes: int = _setting(
        4 * 1024 * 1024, "largest request accepted", parse=_number(int), floor=1024
    )
    max_batch: int = _setting(
        10_000, "most assessments in one SummarizePortfolio call", parse=_number(int), floor=1
    )
    max_stream_items: int = _setting(
        1_000_000,
        "most assessments in one StreamRoadmaps call; past it the stream ends with "
        "RESOURCE_EXHAUSTED",
        parse=_number(int),
        floor=1,
    )
    enable_admin: bool = _setting(default=False, help="serve roadmap.v1.AdminService", parse=_flag)
    watch_seconds: float = _setting(
        0.0,
        "poll the rule base directory and reload on change, 0 for off",
        parse=_number(float),
        metavar="SECONDS",
    )
    engine_workers: int = _setting(
        2,
        "rule-engine processes per server process: GetRoadmap and stream items are worked "
        "out whole in them, so N uses N cores; a hang or crash in one is contained and it is "
        "replaced; 0 runs the engine in the server process (one core, not contained)",
        parse=_number(int),
    )
    max_evaluation_seconds: float = _setting(
        5.0,
        "longest one evaluation may run when the call's deadline is later or unset; its "
        "engine process is then killed",
        parse=_number(float),
        metavar="SECONDS",
        floor=0.01,
    )
    tls_cert: Path | None = _setting(
        None,
        "serve TLS with this certificate chain (PEM); needs --tls-key",
        parse=_path,
        metavar="FILE",
        show="none",
    )
    tls_key: Path | None = _setting(
        None,
        "the private key of --tls-cert (PEM, unencrypted)",
        parse=_path,
        metavar="FILE",
        show="none",
    )
    tls_client_ca: Path | None = _setting(
        None,
        "mutual TLS: require a client certificate signed by a CA in FILE (PEM); needs "
        "--tls-cert and --tls-key",
        parse=_path,
        metavar="FILE",
        show="none",
    )
    socket_mode: int = _setting(
        0o600,
        "permissions of the socket file of a unix: --listen address, octal",
        parse=_mode,
        metavar="MODE",
        show="0600",
    )
    http_listen: str | None = _setting(
        None,
        "also serve HTTP/JSON (the Connect protocol) and the web app on HOST:PORT",
        parse=_listen,
        metavar="ADDRESS",
        show="off",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `roadmap serve` flags, one per ``Config`` field; ROADMAP_<FIELD> sets a default."""
    for field in dataclasses.fields(Config):
        meta = field.metadata
        name = field.name.upper()
        default = field.default
        shown = meta["show"] or (f"{default:,}" if isinstance(default, int) else str(default))
        env_help = f"ROADMAP_{name}"
        flag = "--" + field.name.replace("_", "-")
        if meta["parse"] is _flag:
            # A switch: present means on; the environment can turn it on too.
            parser.add_argument(
                flag,
                action="store_true",
                default=_flag(_env(name, "")),
                help=f"{meta['help']} ({env_help}=1)",
            )
            continue
        raw = _env(name, "")
        parser.add_argument(
            flag,
            type=meta["parse"],
            # argparse parses a string default with `type`, so a bad ROADMAP_* value gets
            # the same usage error as a bad flag.
            default=raw if raw else default,
            metavar=meta["metavar"] or ("N" if field.type == "int" else None),
            help=f"{meta['help']} ({env_help}, default {shown})",
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
    """The configuration the parsed flags describe, each raised to its floor."""
    values = {}
    for field in dataclasses.fields(Config):
        value = getattr(args, field.name)
        floor = field.metadata["floor"]
        values[field.name] = value if floor is None else max(type(value)(floor), value)
    return Config(**values)
