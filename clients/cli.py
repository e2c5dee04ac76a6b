"""The `roadmap` command line: a thin layer over the engine, the client and the server.

Exit codes: 0 ok, 1 invalid input (every problem printed on stderr), 2 usage,
3 server unreachable (or, for `serve`, cannot listen).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.client import RoadmapClient, ServiceError
from clients.render import print_table
from engine.errors import AssessmentError, RuleBaseError
from engine.roadmap import RoadmapEngine
from engine.rulebase import BUNDLED_RULES, load_rulebase
from engine.sources import cited, verify_quotes
from server import config as server_config
from server.convert import assessment_from_proto, roadmap_to_proto

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.model import Practice, RuleBase

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


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


def read_assessment(path: Path) -> pb.Assessment:
    """An assessment file: the proto3 JSON form of roadmap.v1.Assessment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return json_format.Parse(text, pb.Assessment())
    except json_format.ParseError as exc:
        raise InputError(f"{path}: not a roadmap.v1.Assessment in JSON: {exc}") from exc


class InputError(Exception):
    """A file the command cannot use; the message says which and why."""


def to_json(message: Any) -> str:
    """Proto3 JSON with the contract's field names, every field present, stable order."""
    return json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=2,
        ensure_ascii=False,
    )


def _plan(args: argparse.Namespace) -> int:
    try:
        message = read_assessment(args.file)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.target is not None:
        return _plan_remote(args, message)
    rulebase = _load(args.rules)
    if rulebase is None:
        return EXIT_INVALID
    try:
        roadmap = RoadmapEngine(rulebase).roadmap(assessment_from_proto(message))
    except AssessmentError as exc:
        for violation in exc.violations:
            print(f"error: {args.file}: {violation}", file=sys.stderr)
        print(f"{args.file}: invalid assessment, {len(exc.violations)} problem(s)", file=sys.stderr)
        return EXIT_INVALID
    _show(roadmap_to_proto(roadmap, rulebase), args.format)
    return EXIT_OK


def _show(response: pb.GetRoadmapResponse, output: str) -> None:
    if output == "table":
        print_table(response)
    else:
        print(to_json(response))


def _plan_remote(args: argparse.Namespace, message: pb.Assessment) -> int:
    with RoadmapClient(args.target, timeout=args.timeout) as client:
        try:
            if args.wait:
                client.wait_ready(args.wait)
            response = client.get_roadmap(message)
        except ServiceError as exc:
            return _report_service_error(exc, args.target, str(args.file))
    _show(response, args.format)
    return EXIT_OK


def _report_service_error(exc: ServiceError, target: str, subject: str) -> int:
    if exc.code is grpc.StatusCode.INVALID_ARGUMENT:
        for violation in exc.violations:
            print(f"error: {subject}: {violation}", file=sys.stderr)
        print(f"{subject}: invalid input, {len(exc.violations)} problem(s)", file=sys.stderr)
        return EXIT_INVALID
    if exc.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        print(f"error: server {target} unreachable: {exc.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"error: {target}: {exc}", file=sys.stderr)
    return EXIT_INVALID


def _serve(args: argparse.Namespace) -> int:
    from server.app import serve  # noqa: PLC0415  (only `serve` needs the server stack)

    return serve(server_config.from_namespace(args))


def build_parser() -> argparse.ArgumentParser:
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
        help="also check that every quote is verbatim in the seed articles in DIR",
    )
    check.set_defaults(handler=_rules_check)

    listing = rules_commands.add_parser("list", help="list the practices")
    listing.add_argument("directory", nargs="?", type=Path, default=BUNDLED_RULES, metavar="DIR")
    listing.add_argument("--json", action="store_true", help="print JSON with the rule file's keys")
    listing.add_argument("--model", metavar="MODEL", help="only the practices of this model")
    listing.set_defaults(handler=_rules_list)

    plan = commands.add_parser("plan", help="compute the roadmap of an assessment file")
    plan.add_argument(
        "file", type=Path, metavar="FILE", help="assessment: roadmap.v1.Assessment as JSON"
    )
    plan.add_argument(
        "--format", choices=["json", "table"], default="json", help="output format (default json)"
    )
    plan.add_argument(
        "--rules", type=Path, default=BUNDLED_RULES, metavar="DIR", help="rule base (local)"
    )
    plan.add_argument(
        "--target", metavar="ADDR", help="ask a server (HOST:PORT, unix:PATH, dns:///…)"
    )
    plan.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="deadline (default 10)"
    )
    plan.add_argument(
        "--wait", type=float, default=0.0, metavar="S", help="wait S s for the server"
    )
    plan.set_defaults(handler=_plan)

    serve = commands.add_parser("serve", help="run the gRPC service")
    server_config.add_arguments(serve)
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
