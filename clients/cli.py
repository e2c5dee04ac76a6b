"""The `roadmap` command line: a thin layer over the engine, the client and the server.

Commands answer from the local engine by default, or from a server with ``--target``
(``batch`` always streams through a server). Exit codes: 0 ok, 1 invalid input (every
problem on stderr, with its field), 2 usage, 3 server unreachable or unable to answer
in time (for `serve`: cannot listen).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from roadmap.v1 import roadmap_pb2 as pb

from clients import render
from clients.backend import Backend, LocalBackend, RemoteBackend
from clients.client import RoadmapClient, ServiceError, channel_credentials
from contract.settings import DEFAULT_ADDRESS, env_path
from engine.errors import RuleBaseError
from engine.rulebase import BUNDLED_RULES, load_rulebase
from engine.sources import cited, verify_quotes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    #: Registers a subcommand on the parser's subparsers: `serve`, which the console
    #: script adds from the server package, so that clients never import the server.
    AddCommand = Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]

    from engine.model import Practice, RuleBase

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
DEFAULT_TARGET = os.environ.get("ROADMAP_TARGET", DEFAULT_ADDRESS)
FORMATS = ("table", "json", "markdown", "mermaid", "html")
EXTENSIONS = {"table": "txt", "json": "json", "markdown": "md", "mermaid": "mmd", "html": "html"}

stderr = Console(stderr=True)


class InputError(Exception):
    """A file the command cannot use; the message says which and why."""


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


def read_assessment(path: Path) -> pb.Assessment:
    """An assessment file: the proto3 JSON form of roadmap.v1.Assessment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_assessment(text, str(path))


def parse_assessment(text: str, where: str) -> pb.Assessment:
    try:
        return json_format.Parse(text, pb.Assessment())
    except json_format.ParseError as exc:
        raise InputError(f"{where}: not a roadmap.v1.Assessment in JSON: {exc}") from exc


def _read_or_report(paths: Sequence[Path]) -> list[pb.Assessment] | None:
    """The assessment files, or None after printing why one cannot be used."""
    try:
        return [read_assessment(path) for path in paths]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def read_many(source: Path) -> Iterator[tuple[str, pb.Assessment | InputError]]:
    """Assessments from a directory of *.json files or a JSONL file, lazily, in order."""
    if source.is_dir():
        for path in sorted(source.glob("*.json")):
            try:
                yield str(path), read_assessment(path)
            except InputError as exc:
                yield str(path), exc
        return
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        yield str(source), InputError(f"{source}: cannot read: {exc.strerror}")
        return
    for number, line in enumerate(lines, start=1):
        if line.strip():
            where = f"{source}:{number}"
            try:
                yield where, parse_assessment(line, where)
            except InputError as exc:
                yield where, exc


def to_json(message: Any) -> str:
    """Proto3 JSON with the contract's field names, every field present, stable order."""
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=2,
        ensure_ascii=False,
    )


def _report(exc: ServiceError, target: str | None, subject: str) -> int:
    """Print a failure the way people need it; return the exit code."""
    if exc.code is grpc.StatusCode.INVALID_ARGUMENT:
        for violation in exc.violations:
            print(f"error: {subject}: {violation}", file=sys.stderr)
        if not exc.violations:
            print(f"error: {subject}: {exc.message}", file=sys.stderr)
        print(f"{subject}: invalid input, {len(exc.violations) or 1} problem(s)", file=sys.stderr)
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


def _render(response: pb.GetRoadmapResponse, output: str) -> str | None:
    """The text for a format; None for `table`, which rich prints itself."""
    if output == "json":
        return to_json(response) + "\n"
    if output == "markdown":
        return render.markdown(response)
    if output == "mermaid":
        return render.mermaid(response)
    if output == "html":
        return render.html(response)
    return None


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
    if args.json:
        json.dump([practice_record(p) for p in practices], sys.stdout, indent=2, ensure_ascii=False)
        print()
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
    read = _read_or_report(args.files)
    if read is None:
        return EXIT_INVALID
    messages = list(zip(args.files, read, strict=True))
    if args.output is not None and len(messages) > 1 and not args.output.is_dir():
        print(
            f"error: --output: {args.output} must be a directory for several files", file=sys.stderr
        )
        return EXIT_USAGE

    def work(backend: Backend) -> int:
        status = EXIT_OK
        for path, message in messages:
            try:
                response = backend.roadmap(message)
            except ServiceError as exc:
                status = max(status, _report(exc, args.target, str(path)))
                continue
            _emit(response, args, many=len(messages) > 1)
        return status

    return _with_backend(args, work)


def _emit(response: pb.GetRoadmapResponse, args: argparse.Namespace, *, many: bool) -> None:
    text = _render(response, args.format)
    if args.output is None:
        if text is None:
            render.print_table(response)
        else:
            sys.stdout.write(text)
        return
    target = args.output / f"{response.unit_id}.{EXTENSIONS[args.format]}" if many else args.output
    if text is None:
        console = Console(file=target.open("w", encoding="utf-8"), width=140, force_terminal=False)
        console.print(render.roadmap_view(response))
        console.file.close()
    else:
        target.write_text(text, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)


def _compare(args: argparse.Namespace) -> int:
    read = _read_or_report([args.before, args.after])
    if read is None:
        return EXIT_INVALID
    before, after = read

    def work(backend: Backend) -> int:
        try:
            response = backend.compare(before, after)
        except ServiceError as exc:
            return _report(exc, args.target, f"{args.before} -> {args.after}")
        if args.format == "json":
            print(to_json(response))
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
        console = Console()
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
    read = _read_or_report([args.file])
    if read is None:
        return EXIT_INVALID
    (message,) = read

    def work(backend: Backend) -> int:
        try:
            response = backend.explain(args.practice, message)
        except ServiceError as exc:
            return _report(exc, args.target, str(args.file))
        if args.format == "json":
            print(to_json(response))
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
            print(to_json(response))
            return EXIT_OK
        table = Table(title=f"{len(response.practices)} practices", title_justify="left")
        for column in ("id", "model / axis", "level", "requires"):
            table.add_column(column)
        for p in response.practices:
            table.add_row(p.id, f"{p.model} / {p.axis}", str(p.level or "-"), ", ".join(p.requires))
        Console().print(table)
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
    args.out.mkdir(parents=True, exist_ok=True)
    failed = len(unreadable)
    summary_units: list[pb.Assessment] = []
    try:
        client = _connect(args, max(args.timeout, 60.0))
    except (OSError, ValueError) as exc:
        return _tls_refused(exc)
    with client:
        try:
            with Progress(console=stderr, transient=False) as progress:
                task = progress.add_task("roadmaps", total=len(good))
                for response in client.stream_roadmaps(message for _, message in good):
                    where, message = good[response.index]
                    if response.HasField("error"):
                        failed += 1
                        for violation in response.error.field_violations:
                            print(
                                f"error: {where}: {violation.field}: {violation.description}",
                                file=sys.stderr,
                            )
                    else:
                        path = args.out / f"{response.unit_id or response.index}.json"
                        path.write_text(to_json(response.roadmap) + "\n", encoding="utf-8")
                        summary_units.append(message)
                    progress.advance(task)
            summary = (
                client.summarize_portfolio(summary_units, top_blockers=args.top)
                if summary_units
                else None
            )
        except ServiceError as exc:
            return _report(exc, args.target, str(args.source))
    print(
        f"{len(summary_units)} roadmaps written to {args.out}; {failed} item(s) failed",
        file=sys.stderr,
    )
    if summary is not None:
        _print_summary(summary)
        (args.out / "summary.json").write_text(to_json(summary) + "\n", encoding="utf-8")
    return EXIT_INVALID if failed else EXIT_OK


def _print_summary(summary: pb.SummarizePortfolioResponse) -> None:
    console = Console()
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
    health.add_argument("--target", default=DEFAULT_TARGET, metavar="ADDR")
    health.add_argument(
        "--service", default="", metavar="NAME", help="service name (default: the server)"
    )
    health.add_argument("--timeout", type=float, default=3.0, metavar="S")
    _tls_options(health)


def build_parser(extra_commands: Sequence[AddCommand] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roadmap", description="Roadmap Engine: IT, DevSecOps and ITSM maturity roadmaps."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rules = commands.add_parser("rules", help="check and list a rule base")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rules_commands.add_parser(
        "check", help="validate a rule base; exit 1 with every problem"
    )
    check.add_argument("directory", nargs="?", type=Path, default=BUNDLED_RULES, metavar="DIR")
    check.add_argument(
        "--seeds",
        type=Path,
        metavar="DIR",
        help="also check every quote is verbatim in the seeds in DIR",
    )
    check.set_defaults(handler=_rules_check)
    listing = rules_commands.add_parser("list", help="list the practices")
    listing.add_argument("directory", nargs="?", type=Path, default=BUNDLED_RULES, metavar="DIR")
    listing.add_argument("--json", action="store_true", help="print JSON with the rule file's keys")
    listing.add_argument("--model", metavar="MODEL", help="only the practices of this model")
    listing.set_defaults(handler=_rules_list)

    plan = commands.add_parser("plan", help="the roadmap of assessment files")
    plan.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="roadmap.v1.Assessment as JSON"
    )
    plan.add_argument(
        "--format", choices=FORMATS, default="json", help="output format (default json)"
    )
    plan.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PATH",
        help="write to PATH (a directory for several files)",
    )
    _remote_options(plan)
    plan.set_defaults(handler=_plan)

    batch = commands.add_parser("batch", help="stream many assessments through a server")
    batch.add_argument(
        "source", type=Path, metavar="DIR|FILE.jsonl", help="a directory of *.json or a JSONL file"
    )
    batch.add_argument(
        "--out",
        type=Path,
        default=Path("roadmaps"),
        metavar="DIR",
        help="one result per unit (default ./roadmaps)",
    )
    batch.add_argument(
        "--top", type=int, default=10, metavar="N", help="blockers in the summary (default 10)"
    )
    _remote_options(batch, required=True)
    batch.set_defaults(handler=_batch)

    compare = commands.add_parser("compare", help="what changed between two assessments of a unit")
    compare.add_argument("before", type=Path, metavar="BEFORE")
    compare.add_argument("after", type=Path, metavar="AFTER")
    compare.add_argument("--format", choices=["table", "json"], default="table")
    _remote_options(compare)
    compare.set_defaults(handler=_compare)

    explain = commands.add_parser("explain", help="why a practice is or is not in the roadmap")
    explain.add_argument("practice", metavar="PRACTICE")
    explain.add_argument("file", type=Path, metavar="FILE")
    explain.add_argument("--format", choices=["text", "json"], default="text")
    _remote_options(explain)
    explain.set_defaults(handler=_explain)

    practices = commands.add_parser("practices", help="the practices of the rule base")
    practices.add_argument("--model", metavar="MODEL")
    practices.add_argument("--format", choices=["table", "json"], default="table")
    _remote_options(practices)
    practices.set_defaults(handler=_practices)

    health = commands.add_parser(
        "health", help="is a server SERVING? (exit 0 yes, 1 no, 3 unreachable)"
    )
    _health_options(health)
    health.set_defaults(handler=_health)

    for add_command in extra_commands:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None, extra_commands: Sequence[AddCommand] = ()) -> int:
    args = build_parser(extra_commands).parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
