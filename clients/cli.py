"""The `roadmap` command line: a thin layer over the engine, the client and the server.

Commands answer from the local engine by default, or from a server with ``--target``
(``batch`` always streams through a server). Exit codes: 0 ok, 1 invalid input (every
problem on stderr, with its field), 2 usage, 3 server unreachable or unable to answer
in time (for `serve`: cannot listen), 141 the reader of stdout went away (``| head``).

JSON output, whichever the command, is one object (never a bare list), with the proto
field names (``--json-names snake``) or the proto3 JSON names gRPC tools print
(``--json-names camel``); several roadmaps on stdout are JSON Lines.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from roadmap.v1 import roadmap_pb2 as pb

from clients import render
from clients.assess import add_assess_commands
from clients.backend import Backend, LocalBackend, RemoteBackend
from clients.client import RoadmapClient, ServiceError, channel_credentials
from clients.fanout import DEFAULT_STREAMS, stream_in_order
from clients.inputs import InputError, read_many, read_or_report
from clients.outputs import StdoutConsole, camel_keys, dumps, rendered, to_json, write_json
from contract.settings import DEFAULT_ADDRESS, env_path
from engine.errors import RuleBaseError
from engine.rulebase import BUNDLED_RULES, load_rulebase
from engine.sources import cited, verify_quotes

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    #: Registers a subcommand on the parser's subparsers: `serve`, which the console
    #: script adds from the server package, so that clients never import the server.
    AddCommand = Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]

    from engine.model import Practice, RuleBase

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
#: What a shell reports for `cat`, `seq` or `git log` killed by SIGPIPE (128 + 13) when
#: their reader exits early; we stop as quietly, without being killed.
EXIT_BROKEN_PIPE = 141
DEFAULT_TARGET = os.environ.get("ROADMAP_TARGET", DEFAULT_ADDRESS)
FORMATS = ("table", "json", "markdown", "mermaid", "html")
EXTENSIONS = {"table": "txt", "json": "json", "markdown": "md", "mermaid": "mmd", "html": "html"}
#: JSON field names: the proto field names (``unit_id``), or the lowerCamelCase names of
#: the proto3 JSON mapping (``unitId``) that grpcurl and ``buf curl`` print.
JSON_NAMES = ("snake", "camel")
PACKAGE = "roadmap-engine"

stderr = Console(stderr=True)


# --- shared pieces --------------------------------------------------------------------


def _load(directory: Path) -> RuleBase | None:
    try:
        return load_rulebase(directory)
    except RuleBaseError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{directory}: invalid rule base, {count} problem(s); nothing was loaded",
            file=sys.stderr,
        )
        return None


def _report(
    exc: ServiceError,
    target: str | None,
    subject: str,
    arguments: Mapping[str, str] | None = None,
) -> int:
    """Print a failure the way people need it; return the exit code.

    A violation is blamed on ``subject`` (the input file), or, if its field is a key of
    ``arguments``, on the command-line argument it names (``practice_id``: PRACTICE).
    """
    if exc.code is grpc.StatusCode.INVALID_ARGUMENT:
        arguments = arguments or {}
        blamed: dict[str, None] = {}
        for violation in exc.violations:
            if violation.field in arguments:
                blame, problem = arguments[violation.field], violation.description
            else:
                blame, problem = subject, str(violation)
            blamed[blame] = None
            print(f"error: {blame}: {problem}", file=sys.stderr)
        if not exc.violations:
            blamed[subject] = None
            print(f"error: {subject}: {exc.message}", file=sys.stderr)
        count = len(exc.violations) or 1
        print(f"{', '.join(blamed)}: invalid input, {count} problem(s)", file=sys.stderr)
        return EXIT_INVALID
    if exc.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        # Unreachable, or it could not answer in time (its engine hung or crashed).
        print(f"error: server {target}: {exc.code.name}: {exc.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"error: {target or 'engine'}: {exc}", file=sys.stderr)
    return EXIT_INVALID


def _with_backend(args: argparse.Namespace, work: Callable[[Backend], int]) -> int:
    """Run ``work`` against the local engine, or the server in ``--target``."""
    if args.target is None:
        rulebase = _load(args.rules)
        if rulebase is None:
            return EXIT_INVALID
        return work(LocalBackend(rulebase))
    try:
        client = _connect(args, args.timeout)
    except (OSError, ValueError) as exc:
        return _tls_refused(exc)
    with client:
        if args.wait:
            try:
                client.wait_ready(args.wait)
            except ServiceError as exc:
                return _report(exc, args.target, args.target)
        return work(RemoteBackend(client))


def _tls(args: argparse.Namespace) -> tuple[Path | None, Path | None, Path | None]:
    """--tls-ca, --tls-cert, --tls-key; ValueError naming the flag for a cert without key."""
    if (args.tls_cert is None) != (args.tls_key is None):
        given, missing = (
            ("--tls-cert", "--tls-key") if args.tls_key is None else ("--tls-key", "--tls-cert")
        )
        raise ValueError(f"{given} needs {missing} (a client certificate and its key)")
    return args.tls_ca, args.tls_cert, args.tls_key


def _connect(args: argparse.Namespace, timeout: float) -> RoadmapClient:
    """A client of --target, over TLS if a --tls-* flag says so (OSError, ValueError)."""
    ca, cert, key = _tls(args)
    return RoadmapClient(args.target, timeout=timeout, tls_ca=ca, tls_cert=cert, tls_key=key)


def _tls_refused(exc: OSError | ValueError) -> int:
    reason = exc if isinstance(exc, ValueError) else f"cannot read a TLS file: {exc}"
    print(f"error: {reason}", file=sys.stderr)
    return EXIT_USAGE


# --- rules ----------------------------------------------------------------------------


def _rules_check(args: argparse.Namespace) -> int:
    rulebase = _load(args.directory)
    if rulebase is None:
        return EXIT_INVALID
    if args.seeds is not None:
        problems = verify_quotes(rulebase, args.seeds)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            print(f"{len(problems)} citation(s) not verbatim in {args.seeds}", file=sys.stderr)
            return EXIT_INVALID
    print(f"{args.directory}: valid rule base '{rulebase.title}' version {rulebase.version}")
    print(f"  digest              {rulebase.digest}")
    for model in rulebase.models.values():
        count = len(rulebase.practices_of(model.id))
        levels = f"{model.max_level} levels, " if model.has_levels else ""
        print(f"  {model.id:<20}{levels}{len(model.axes)} axes, {count} practices")
    outsourcing = len(rulebase.outsourcing.rules) if rulebase.outsourcing else 0
    print(
        f"  totals              {len(rulebase.practices)} practices, "
        f"{len(rulebase.context_rules)} context rules, {outsourcing} outsourcing rules"
    )
    if args.seeds is not None:
        quotes = sum(1 for _, _, source in cited(rulebase) if source.quote is not None)
        print(f"  citations           {quotes} quotes verbatim in {args.seeds}")
    return EXIT_OK


def practice_record(practice: Practice) -> dict[str, Any]:
    """A practice with the rule file's key names, for JSON output."""
    source = {
        key: value
        for key, value in (
            ("seed", practice.source.seed),
            ("section", practice.source.section),
            ("quote", practice.source.quote),
            ("addition", practice.source.addition),
            ("assumption", practice.source.assumption),
        )
        if value is not None
    }
    record: dict[str, Any] = {
        "id": practice.id,
        "title": practice.title,
        "description": practice.description,
        "model": practice.model,
        "axis": practice.axis,
    }
    if practice.level is not None:
        record["level"] = practice.level
    if practice.aliases:
        record["aliases"] = list(practice.aliases)
    record |= {
        "requires": list(practice.requires),
        "effort": practice.effort,
        "value": practice.value,
        "source": source,
    }
    return record


def _rules_list(args: argparse.Namespace) -> int:
    rulebase = _load(args.directory)
    if rulebase is None:
        return EXIT_INVALID
    if args.model is not None and args.model not in rulebase.models:
        known = ", ".join(rulebase.models)
        print(f"error: --model: unknown model '{args.model}'; known: {known}", file=sys.stderr)
        return EXIT_INVALID
    practices = [p for p in rulebase.practices.values() if args.model in (None, p.model)]
    if args.format == "json":
        record = {"practices": [practice_record(p) for p in practices]}
        print(dumps(record if args.json_names == "snake" else camel_keys(record)))
        return EXIT_OK
    width = max((len(p.id) for p in practices), default=2)
    for practice in practices:
        level = f"L{practice.level}" if practice.level is not None else "  "
        where = f"{practice.model}/{practice.axis}"
        requires = f"  requires {', '.join(practice.requires)}" if practice.requires else ""
        print(f"{practice.id:<{width}}  {level}  {where:<42}{requires}")
    per_model = Counter(p.model for p in practices)
    print(f"{len(practices)} practices: " + ", ".join(f"{m} {n}" for m, n in per_model.items()))
    return EXIT_OK


# --- plan, compare, explain, practices ----------------------------------------------------


def _plan(args: argparse.Namespace) -> int:
    read = read_or_report(args.files)
    if read is None:
        return EXIT_INVALID
    messages = list(zip(args.files, read, strict=True))
    many = len(messages) > 1
    directory = None
    if args.output is not None and (many or args.output.is_dir()):
        directory = args.output
        if directory.exists() and not directory.is_dir():
            print(
                f"error: --output: {directory} must be a directory for several files",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if not _make_directory(directory, "--output"):
            return EXIT_USAGE

    def work(backend: Backend) -> int:
        status = EXIT_OK
        for path, message in messages:
            try:
                response = backend.roadmap(message)
            except ServiceError as exc:
                status = max(status, _report(exc, args.target, str(path)))
                continue
            if args.output is None:
                _print_roadmap(response, args, lines=many)
            else:
                unit = f"{response.unit_id}.{EXTENSIONS[args.format]}"
                target = args.output if directory is None else directory / unit
                status = max(status, _write_roadmap(response, args, target))
        return status

    return _with_backend(args, work)


def _make_directory(directory: Path, flag: str) -> bool:
    """Create ``directory`` and its parents if missing; False after saying why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: {flag}: cannot create {directory}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def _print_roadmap(
    response: pb.GetRoadmapResponse, args: argparse.Namespace, *, lines: bool
) -> None:
    """To stdout; JSON as one compact line per roadmap (JSON Lines) when ``lines``."""
    text = rendered(response, args.format, args.json_names, compact=lines)
    if text is None:
        render.print_table(response, StdoutConsole())
    else:
        sys.stdout.write(text)


def _write_roadmap(response: pb.GetRoadmapResponse, args: argparse.Namespace, target: Path) -> int:
    """To ``target``, creating its directory if missing; the exit status."""
    text = rendered(response, args.format, args.json_names)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            with target.open("w", encoding="utf-8") as file:
                Console(file=file, width=140, force_terminal=False).print(
                    render.roadmap_view(response)
                )
        else:
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: --output: cannot write {target}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {target}", file=sys.stderr)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    read = read_or_report([args.before, args.after])
    if read is None:
        return EXIT_INVALID
    before, after = read

    def work(backend: Backend) -> int:
        try:
            response = backend.compare(before, after)
        except ServiceError as exc:
            return _report(exc, args.target, f"{args.before} -> {args.after}")
        if args.format == "json":
            print(to_json(response, args.json_names))
            return EXIT_OK
        table = Table(
            title=f"{response.unit_id}: {args.before.name} -> {args.after.name}",
            title_justify="left",
        )
        for column in ("model", "before", "after"):
            table.add_column(column)
        for change in response.levels:
            table.add_row(
                change.model,
                f"{change.before} ({change.progress_before:.0%})",
                f"{change.after} ({change.progress_after:.0%})",
            )
        console = StdoutConsole()
        console.print(table)
        console.print(f"steps completed: {', '.join(response.steps_completed) or 'none'}")
        console.print(f"steps added: {', '.join(response.steps_added) or 'none'}")
        console.print(
            f"warnings resolved: {', '.join(w.code for w in response.warnings_resolved) or 'none'}"
        )
        console.print(f"warnings new: {', '.join(w.code for w in response.warnings_new) or 'none'}")
        return EXIT_OK

    return _with_backend(args, work)


def _explain(args: argparse.Namespace) -> int:
    read = read_or_report([args.file])
    if read is None:
        return EXIT_INVALID
    (message,) = read

    def work(backend: Backend) -> int:
        try:
            response = backend.explain(args.practice, message)
        except ServiceError as exc:
            return _report(exc, args.target, str(args.file), {"practice_id": "PRACTICE"})
        if args.format == "json":
            print(to_json(response, args.json_names))
            return EXIT_OK
        print(response.summary)
        if response.unmet_prerequisites:
            print(f"unmet prerequisites: {', '.join(response.unmet_prerequisites)}")
        for reason in response.reasons:
            amount = f" ({reason.amount:+g})" if reason.amount else ""
            print(f"  - {reason.text}{amount}  [{reason.rule_id}; {reason.source}]")
        return EXIT_OK

    return _with_backend(args, work)


def _practices(args: argparse.Namespace) -> int:
    def work(backend: Backend) -> int:
        try:
            response = backend.practices(args.model or "")
        except ServiceError as exc:
            return _report(exc, args.target, "--model")
        if args.format == "json":
            print(to_json(response, args.json_names))
            return EXIT_OK
        table = Table(title=f"{len(response.practices)} practices", title_justify="left")
        for column in ("id", "model / axis", "level", "requires"):
            table.add_column(column)
        for p in response.practices:
            table.add_row(p.id, f"{p.model} / {p.axis}", str(p.level or "-"), ", ".join(p.requires))
        StdoutConsole().print(table)
        return EXIT_OK

    return _with_backend(args, work)


# --- batch ------------------------------------------------------------------------------


def _batch(args: argparse.Namespace) -> int:
    items = list(read_many(args.source))
    if not items:
        print(f"error: {args.source}: no assessments found", file=sys.stderr)
        return EXIT_INVALID
    unreadable = [(where, item) for where, item in items if isinstance(item, InputError)]
    for _, problem in unreadable:
        print(f"error: {problem}", file=sys.stderr)
    good = [(where, item) for where, item in items if isinstance(item, pb.Assessment)]
    if args.out is not None and not _make_directory(args.out, "--out"):
        return EXIT_USAGE
    try:
        client = _connect(args, max(args.timeout, 60.0))
    except (OSError, ValueError) as exc:
        return _tls_refused(exc)
    with client:
        try:
            answered, failed = _stream(client, good, args)
            summary = (
                client.summarize_portfolio(answered, top_blockers=args.top) if answered else None
            )
        except ServiceError as exc:
            return _report(exc, args.target, str(args.source))
    failed += len(unreadable)
    done = f"written to {args.out}" if args.out is not None else "computed (--out DIR keeps them)"
    print(f"{len(answered)} roadmaps {done}; {failed} item(s) failed", file=sys.stderr)
    if summary is not None:
        _print_summary(summary)
        if args.out is not None:
            write_json(args.out / "summary.json", to_json(summary, args.json_names))
    return EXIT_INVALID if failed else EXIT_OK


def _stream(
    client: RoadmapClient, good: list[tuple[str, pb.Assessment]], args: argparse.Namespace
) -> tuple[list[pb.Assessment], int]:
    """Every assessment through StreamRoadmaps (over --streams streams, answers in input
    order), with a progress bar; each roadmap to --out if given. The assessments
    answered, and how many items failed."""
    answered: list[pb.Assessment] = []
    failed = 0
    with Progress(console=stderr, transient=False) as progress:
        task = progress.add_task("roadmaps", total=len(good))
        messages = [message for _, message in good]
        for response in stream_in_order(client, messages, streams=args.streams):
            where, message = good[response.index]
            if response.HasField("error"):
                failed += 1
                for violation in response.error.field_violations:
                    print(
                        f"error: {where}: {violation.field}: {violation.description}",
                        file=sys.stderr,
                    )
            else:
                if args.out is not None:
                    path = args.out / f"{response.unit_id or response.index}.json"
                    write_json(path, to_json(response.roadmap, args.json_names))
                answered.append(message)
            progress.advance(task)
    return answered, failed


def _print_summary(summary: pb.SummarizePortfolioResponse) -> None:
    console = StdoutConsole()
    levels = Table(title=f"Portfolio of {summary.units} units: levels", title_justify="left")
    levels.add_column("model")
    levels.add_column("units per level")
    for distribution in summary.levels:
        counts = ", ".join(f"L{c.level}: {c.units}" for c in distribution.counts)
        levels.add_row(distribution.model, counts)
    console.print(levels)
    blockers = Table(title="Shared blockers", title_justify="left")
    for column in ("practice", "units", "title"):
        blockers.add_column(column)
    for blocker in summary.blockers:
        blockers.add_row(blocker.practice_id, str(blocker.units), blocker.title)
    console.print(blockers)


# --- health -----------------------------------------------------------------------------


def _health(args: argparse.Namespace) -> int:
    """grpc.health.v1 check, for container HEALTHCHECKs and scripts."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    try:
        credentials = channel_credentials(*_tls(args))
    except (OSError, ValueError) as exc:
        return _tls_refused(exc)
    channel = (
        grpc.insecure_channel(args.target)
        if credentials is None
        else grpc.secure_channel(args.target, credentials)
    )
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]  # the stubs omit HealthStub.Check
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as error:
            print(f"{args.target}: {error.code().name}", file=sys.stderr)
            return EXIT_UNREACHABLE
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{args.target}: {status}")
    return EXIT_OK if reply.status == health_pb2.HealthCheckResponse.SERVING else EXIT_INVALID


# --- the parser -------------------------------------------------------------------------


def _remote_options(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    default = DEFAULT_TARGET if required else None
    where = (
        f"(default {DEFAULT_TARGET}, or ROADMAP_TARGET)"
        if required
        else "instead of the local engine"
    )
    parser.add_argument(
        "--target",
        default=default,
        metavar="ADDR",
        help=f"server: HOST:PORT, unix:PATH, dns:///… {where}",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="deadline per call (default 10 s)"
    )
    parser.add_argument(
        "--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds for the server"
    )
    _tls_options(parser)
    if not required:
        parser.add_argument(
            "--rules",
            type=Path,
            default=BUNDLED_RULES,
            metavar="DIR",
            help="rule base (local engine)",
        )


def _tls_options(parser: argparse.ArgumentParser) -> None:
    """TLS to --target: any of these makes the connection TLS."""
    env = env_path
    parser.add_argument(
        "--tls-ca",
        type=Path,
        default=env("TLS_CA"),
        metavar="FILE",
        help="connect with TLS, trusting the server certificate's CA in FILE (PEM) "
        "(ROADMAP_TLS_CA; without it but with --tls-cert: gRPC's default CAs)",
    )
    parser.add_argument(
        "--tls-cert",
        type=Path,
        default=env("CLIENT_CERT"),
        metavar="FILE",
        help="mutual TLS: this client's certificate chain (PEM); needs --tls-key "
        "(ROADMAP_CLIENT_CERT)",
    )
    parser.add_argument(
        "--tls-key",
        type=Path,
        default=env("CLIENT_KEY"),
        metavar="FILE",
        help="the private key of --tls-cert (PEM) (ROADMAP_CLIENT_KEY)",
    )


def _health_options(health: argparse.ArgumentParser) -> None:
    health.add_argument(
        "--target",
        default=DEFAULT_TARGET,
        metavar="ADDR",
        help=f"server (default {DEFAULT_TARGET}, or ROADMAP_TARGET)",
    )
    health.add_argument(
        "--service", default="", metavar="NAME", help="service name (default: the server)"
    )
    health.add_argument(
        "--timeout", type=float, default=3.0, metavar="S", help="deadline (default 3 s)"
    )
    _tls_options(health)


def _json_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json-names",
        choices=JSON_NAMES,
        default="snake",
        help="JSON field names: snake, the proto field names (unit_id; the default), or "
        "camel, the proto3 JSON names that grpcurl and buf curl print (unitId)",
    )


def _format_option(parser: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    parser.add_argument(
        "--format", choices=formats, default=formats[0], help=f"output (default {formats[0]})"
    )


def version() -> str:
    """This package's version and the bundled rule base's."""
    try:
        package = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        package = "(not installed)"
    try:
        rulebase = load_rulebase(BUNDLED_RULES)
    except RuleBaseError as exc:
        bundled = f"bundled rule base invalid: {len(exc.problems)} problem(s) (roadmap rules check)"
    else:
        bundled = f"bundled rule base {rulebase.version} ({rulebase.digest})"
    return f"{PACKAGE} {package}\n{bundled}\n"


class _VersionAction(argparse.Action):
    """--version, computed only when asked: loading the rule base takes a moment."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version and the bundled rule base's, then exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(version())
        parser.exit()


def _add_rules(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = commands.add_parser("rules", help="check and list a rule base")
    actions = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    directory_help = "rule base directory (default: the bundled rule base)"
    check = actions.add_parser("check", help="validate a rule base; exit 1 with every problem")
    check.add_argument(
        "directory", nargs="?", type=Path, default=BUNDLED_RULES, metavar="DIR", help=directory_help
    )
    check.add_argument(
        "--seeds",
        type=Path,
        metavar="DIR",
        help="also check every quote is verbatim in the seeds in DIR",
    )
    check.set_defaults(handler=_rules_check)
    listing = actions.add_parser("list", help="list the practices")
    listing.add_argument(
        "directory", nargs="?", type=Path, default=BUNDLED_RULES, metavar="DIR", help=directory_help
    )
    listing.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help='output (default text); json: {"practices": [...]} with the rule file\'s keys',
    )
    listing.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        default=argparse.SUPPRESS,
        help="the same as --format json",
    )
    listing.add_argument("--model", metavar="MODEL", help="only the practices of this model")
    _json_options(listing)
    listing.set_defaults(handler=_rules_list)


def _add_plan(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = commands.add_parser("plan", help="the roadmap of assessment files")
    plan.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="an assessment: roadmap.v1.Assessment as JSON or YAML (see clients/examples/, roadmap assess init)",
    )
    plan.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="output format (default json; JSON Lines for several files on stdout)",
    )
    plan.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PATH",
        help="write to the file PATH, or to PATH/UNIT.EXT if PATH is a directory or several "
        "files are given (the directory and its parents are created if missing)",
    )
    _json_options(plan)
    _remote_options(plan)
    plan.set_defaults(handler=_plan)


def _add_batch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = commands.add_parser("batch", help="stream many assessments through a server")
    batch.add_argument(
        "source", type=Path, metavar="DIR|FILE.jsonl", help="a directory of *.json or a JSONL file"
    )
    batch.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write each roadmap to DIR/UNIT.json and the summary to DIR/summary.json "
        "(DIR is created if missing); without it, only the summary is printed",
    )
    batch.add_argument(
        "--top", type=int, default=10, metavar="N", help="blockers in the summary (default 10)"
    )
    batch.add_argument(
        "--streams",
        type=int,
        default=DEFAULT_STREAMS,
        metavar="N",
        help="concurrent streams; with a target naming several servers (dns:///NAME:PORT "
        "of a headless service, ipv4:A:P,B:P) they are spread over all of them, and the "
        "items of a server that fails are answered by another "
        f"(default {DEFAULT_STREAMS})",
    )
    _json_options(batch)
    _remote_options(batch, required=True)
    batch.set_defaults(handler=_batch)


def _add_questions(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """compare, explain, practices: questions about assessments and the rule base."""
    compare = commands.add_parser("compare", help="what changed between two assessments of a unit")
    compare.add_argument("before", type=Path, metavar="BEFORE", help="the earlier assessment file")
    compare.add_argument(
        "after", type=Path, metavar="AFTER", help="the later assessment file of the same unit"
    )
    _format_option(compare, ("table", "json"))
    _json_options(compare)
    _remote_options(compare)
    compare.set_defaults(handler=_compare)

    explain = commands.add_parser("explain", help="why a practice is or is not in the roadmap")
    explain.add_argument(
        "practice", metavar="PRACTICE", help="a practice id or alias (see roadmap practices)"
    )
    explain.add_argument("file", type=Path, metavar="FILE", help="the unit's assessment file")
    _format_option(explain, ("text", "json"))
    _json_options(explain)
    _remote_options(explain)
    explain.set_defaults(handler=_explain)

    practices = commands.add_parser("practices", help="the practices of the rule base")
    practices.add_argument("--model", metavar="MODEL", help="only the practices of this model")
    _format_option(practices, ("table", "json"))
    _json_options(practices)
    _remote_options(practices)
    practices.set_defaults(handler=_practices)


def build_parser(extra_commands: Sequence[AddCommand] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roadmap", description="Roadmap Engine: IT, DevSecOps and ITSM maturity roadmaps."
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_rules(commands)
    _add_plan(commands)
    _add_batch(commands)
    _add_questions(commands)
    add_assess_commands(commands, source_options=_remote_options, with_backend=_with_backend)
    health = commands.add_parser(
        "health", help="is a server SERVING? (exit 0 yes, 1 no, 3 unreachable)"
    )
    _health_options(health)
    health.set_defaults(handler=_health)
    for add_command in extra_commands:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None, extra_commands: Sequence[AddCommand] = ()) -> int:
    try:
        return _run(build_parser(extra_commands), argv)
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): no traceback, and nothing more to
        # write; what is still buffered goes to /dev/null (Python's "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    try:
        args = parser.parse_args(argv)
    finally:
        sys.stdout.flush()  # --version exits here; a closed pipe is main()'s to handle
    status = int(args.handler(args))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
