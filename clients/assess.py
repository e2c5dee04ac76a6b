"""Assessment files for people and spreadsheets: `roadmap assess init` and `import-csv`,
and the YAML form `roadmap plan` reads.

``init`` writes a YAML template listing every practice of a rule base (the bundled one,
``--rules DIR``, or a server's with ``--target``) with its guidance as comments, the
context questions with how to measure each, targets and an example service; as written
it is a valid assessment. ``import-csv`` turns a spreadsheet with one practice per row
into an assessment, reporting every bad row by row and column.

The command line passes in how it chooses the local engine or a server
(:func:`add_assess_commands`), so this module does not import it: no import cycle.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.backend import LocalBackend, RemoteBackend
from clients.client import ServiceError
from clients.inputs import InputError, read_assessment
from contract.convert import model_to_proto, rule_base_info
from engine.errors import closest, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from clients.backend import Backend

    AddOptions = Callable[[argparse.ArgumentParser], None]
    WithBackend = Callable[[argparse.Namespace, Callable[[Backend], int]], int]

EXIT_OK = 0
EXIT_INVALID = 1
SCHEMA = "proto/schema/assessment.schema.json"
WIDTH = 88

# --- the catalogue: what the template and the importer know of the rule base --------------


@dataclass(frozen=True, slots=True)
class Catalogue:
    rule_base: pb.RuleBaseInfo
    models: tuple[pb.ModelInfo, ...]
    practices: tuple[pb.Practice, ...]

    def ids(self) -> dict[str, str]:
        """Every accepted practice id (aliases included) to its practice's id."""
        known = {p.id: p.id for p in self.practices}
        known |= {alias: p.id for p in self.practices for alias in p.aliases}
        return known


def catalogue(backend: Backend, model: str = "") -> Catalogue:
    """The rule base's models and practices (of ``model`` if given), from either backend;
    ServiceError for an unknown model."""
    practices = tuple(backend.practices(model).practices)
    if isinstance(backend, LocalBackend):
        rulebase = backend.rulebase
        models = tuple(
            model_to_proto(m, len(rulebase.practices_of(m.id))) for m in rulebase.models.values()
        )
        return Catalogue(rule_base_info(rulebase), models, practices)
    if isinstance(backend, RemoteBackend):
        client = backend.client
        info = client.rule_base_info().rule_base
        return Catalogue(info, tuple(client.list_models().models), practices)
    raise TypeError(f"unknown backend {type(backend).__name__}")


def _refused(exc: ServiceError, subject: str) -> int:
    for violation in exc.violations:
        print(f"error: {subject}: {violation.message}", file=sys.stderr)
    if not exc.violations:
        print(f"error: {subject}: {exc}", file=sys.stderr)
    return EXIT_INVALID


# --- init: the template -----------------------------------------------------------------

#: What each answer means, for people filling in a practice.
ADOPTION_GUIDANCE = (
    ("ADOPTION_ADOPTED", "done: in routine use wherever it applies in the unit."),
    (
        "ADOPTION_PARTIAL",
        "under way: set progress to how far, 0..1 (0.4 = about 40% of the teams, systems "
        "or work it concerns). A partial practice counts as its fraction towards the next "
        "level but does not reach one, and it stays in the roadmap.",
    ),
    (
        "ADOPTION_NOT_APPLICABLE",
        "does not apply to this unit (say, no software of its own): neither counted "
        "towards a level nor recommended.",
    ),
    ("ADOPTION_NOT_STARTED", "not begun: the same as leaving the practice out."),
)

USER_BASE_GUIDANCE = (
    (
        "USER_BASE_EXTERNAL_HOMOGENEOUS",
        "a broad, fairly homogeneous external user base (the customers of a software "
        "product): the roadmap leads with DevSecOps.",
    ),
    (
        "USER_BASE_INTERNAL_COMPLEX",
        "a complex internal user base (the organisation's own staff, many kinds of "
        "service): the roadmap leads with IT service management.",
    ),
    ("USER_BASE_UNSPECIFIED", "not sure, or neither: no path is favoured."),
)

#: How to measure each metric: (field, question, how to measure it).
METRIC_GUIDANCE = (
    (
        "keep_the_lights_on_share",
        "Keep-the-lights-on share: the part of the IT budget spent running what exists "
        "(operations, maintenance, support, licence and hosting renewals) rather than "
        "improving it or building new capabilities.",
        "Measure: last fiscal year's run costs / total IT spend, staff costs included. "
        "The survey the rule base quotes found 57% on average (seed 001).",
    ),
    (
        "staff_turnover_rate",
        "Staff turnover: the share of IT staff leaving per year.",
        "Measure: IT staff who left in the last 12 months, for any reason / the average "
        "IT headcount over those months (contractors in long-term roles included).",
    ),
    (
        "self_service_share",
        "Self-service share: the share of employees' interactions with IT that they "
        "complete themselves.",
        "Measure over the last quarter: requests and issues resolved through the portal, "
        "the knowledge base or automation without the service desk / all interactions "
        "(those plus tickets, calls, chats and walk-ups). High performers reach 71%, "
        "others 36% (seed 001).",
    ),
)

EXAMPLE_SERVICE = (
    ("id", "service-desk", "required, unique within the assessment"),
    ("name", "Service desk", ""),
    ("annual_cost", "250000", "a year, in any currency: savings come back in the same"),
    ("live_requirement", "true", "does it still serve a live business need? empty: unknown"),
    ("differentiation", "LEVEL_LOW", "LEVEL_LOW, LEVEL_MEDIUM or LEVEL_HIGH: sets us apart?"),
    ("commodity_available", "true", "can it be bought as a commodity? empty: unknown"),
    ("criticality", "LEVEL_HIGH", "how much the business depends on it"),
    ("sourcing", "SOURCING_IN_HOUSE", "or SOURCING_OUTSOURCED, SOURCING_SAAS"),
    ("contract_end_date", '""', '"YYYY-MM-DD" when an external contract ends'),
    ("transition_cost", "0", "one-off cost of following the advice (exit, migration)"),
)


def _comment(text: str, indent: str = "", hang: str = "") -> list[str]:
    """``text`` as YAML comment lines of at most WIDTH columns."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=f"{indent}# ",
        subsequent_indent=f"{indent}# {hang}",
        break_on_hyphens=False,
        break_long_words=False,
    )


def _rule(title: str, indent: str = "", fill: str = "-") -> str:
    head = f"{indent}# {fill * 3} {title} "
    return head + fill * max(3, WIDTH - len(head))


def _levels(model: pb.ModelInfo) -> str:
    if not model.levels:
        return "no levels: a target without a level aims at all of it"
    return "levels " + "; ".join(f"{level.level} {level.title}" for level in model.levels)


def template(catalogue: Catalogue, unit_id: str, model: str = "") -> str:
    """The YAML template: valid as it stands (every practice not started)."""
    chosen = [m for m in catalogue.models if model in ("", m.id)]
    out = [
        *_header(catalogue.rule_base, unit_id),
        *_context_section(),
        *_targets_section(chosen),
        *_planning_section(),
        *_practices_section(catalogue, chosen),
        *_services_section(),
    ]
    return "\n".join(out) + "\n"


def _header(info: pb.RuleBaseInfo, unit_id: str) -> list[str]:
    return [
        "# An assessment of one unit, for the Roadmap Engine: roadmap.v1.Assessment as YAML.",
        *_comment(
            f"Written by `roadmap assess init` from the rule base '{info.title}' "
            f"{info.version} ({info.digest})."
        ),
        "# Fill it in, then: roadmap plan THIS-FILE.yaml (--format html for a page).",
        *_comment(
            "An empty value means unknown, or the default. Editors can check the file "
            f"against the JSON Schema {SCHEMA} of the Roadmap Engine's repository."
        ),
        "",
        "# Your id for the unit: a team, a department, a product. Required.",
        f"unit_id: {json.dumps(unit_id)}",
    ]


def _context_section() -> list[str]:
    out = ["", _rule("Context"), "context:", "  # Who uses the unit's products and services?"]
    width = max(len(name) for name, _ in USER_BASE_GUIDANCE) + 2
    for name, meaning in USER_BASE_GUIDANCE:
        out += _comment(f"  {name:<{width}}{meaning}", "  ", " " * (width + 2))
    out += [
        "  user_base: USER_BASE_UNSPECIFIED",
        "",
        _rule("Metrics: fractions 0..1 (0.57 is 57%); leave empty if unknown"),
        "metrics:",
    ]
    for name, question, measure in METRIC_GUIDANCE:
        out += [*_comment(question, "  "), *_comment(measure, "  "), f"  {name}:"]
    return out


def _targets_section(chosen: list[pb.ModelInfo]) -> list[str]:
    out = ["", _rule("Targets: the levels to reach")]
    out += _comment(
        "Without targets the roadmap aims at each model's next level. One entry per model:"
    )
    for info_model in chosen:
        out += _comment(f"  {info_model.id}: {_levels(info_model)}.", "", "    ")
    out.append("targets: []")
    example = next((m for m in chosen if m.levels), None)
    if example is not None:
        level = min(3, example.levels[-1].level)
        out += ["# targets:", f"#   - {{model: {example.id}, level: {level}}}"]
    return out


def _planning_section() -> list[str]:
    return [
        "",
        _rule("Planning"),
        "# Effort points the unit can spend per quarter (empty: 8, two to four steps).",
        "wave_capacity:",
        "# How far ahead to plan, in months, 3 to 120 (empty: 36).",
        "horizon_months:",
    ]


def _practices_section(catalogue: Catalogue, chosen: list[pb.ModelInfo]) -> list[str]:
    out = [
        "",
        _rule("Practices"),
        "# One entry per practice, grouped by model and axis. adoption is one of:",
    ]
    width = max(len(name) for name, _ in ADOPTION_GUIDANCE) + 2
    for name, meaning in ADOPTION_GUIDANCE:
        out += _comment(f"  {name:<{width}}{meaning}", "", " " * (width + 2))
    out += ["# progress is read only for ADOPTION_PARTIAL.", "practices:"]
    return out + _practices(catalogue, chosen)


def _services_section() -> list[str]:
    out = ["", _rule("Services: the unit's IT portfolio, for outsourcing advice")]
    out += _comment(
        "One entry per service; the roadmap recommends for each: decommission, outsource, "
        "re-tender, retain, invest or review. For example:"
    )
    out += ["services: []", "# services:"]
    width = max(len(f"- {key}: {value}") for key, value, _ in EXAMPLE_SERVICE) + 2
    for n, (key, value, note) in enumerate(EXAMPLE_SERVICE):
        entry = f"{'-' if n == 0 else ' '} {key}: {value}"
        out.append(f"#   {entry:<{width}}# {note}".rstrip(" #") if note else f"#   {entry}")
    return out


def _practices(catalogue: Catalogue, models: Iterable[pb.ModelInfo]) -> list[str]:
    out: list[str] = []
    for model in models:
        practices = [p for p in catalogue.practices if p.model == model.id]
        if not practices:
            continue
        out += ["", _rule(f"{model.id}: {model.title}", "  ", "=")]
        axes = {axis.id: axis.title for axis in model.axes}
        order = {axis: n for n, axis in enumerate(axes)}
        practices.sort(key=lambda p: (order.get(p.axis, len(order)), p.level))
        axis = None
        for practice in practices:
            if practice.axis != axis:
                axis = practice.axis
                out += ["", _rule(f"axis {axis}: {axes.get(axis, axis)}", "  ")]
            level = f", level {practice.level}" if practice.level else ""
            out += ["", *_comment(f"{practice.id}{level}: {practice.title}", "  ", "  ")]
            out += _comment(f"  {practice.description}", "  ", "  ")
            if practice.requires:
                out += _comment(f"  requires: {', '.join(practice.requires)}", "  ", "    ")
            out += [
                f"  - practice_id: {practice.id}",
                "    adoption: ADOPTION_NOT_STARTED",
                "    progress: 0",
            ]
    return out


# --- import-csv -------------------------------------------------------------------------

#: The columns read, by their normalised header (lower case, letters and digits only).
COLUMNS = {
    "practice_id": ("practiceid", "practice", "id", "practicekey", "key"),
    "status": ("status", "adoption", "state", "answer", "adopted"),
    "percentage": ("percentage", "percent", "pct", "%", "partial", "completion", "done"),
    "progress": ("progress", "fraction"),
}
#: Status cells, normalised the same way, to the adoption they mean.
STATUSES = {
    pb.ADOPTION_ADOPTED: (
        "adopted",
        "yes",
        "y",
        "done",
        "true",
        "full",
        "fully",
        "complete",
        "completed",
        "implemented",
    ),
    pb.ADOPTION_PARTIAL: ("partial", "partly", "partially", "inprogress", "started", "ongoing"),
    pb.ADOPTION_NOT_APPLICABLE: ("notapplicable", "na", "none", "notrelevant", "irrelevant"),
    pb.ADOPTION_NOT_STARTED: ("notstarted", "no", "n", "false", "todo", "notyet", ""),
}
_STATUS_OF = {word: adoption for adoption, words in STATUSES.items() for word in words}
_STATUS_NAMES = ("adopted", "partial", "not applicable", "not started")


def _normal(text: str) -> str:
    key = re.sub(r"[^a-z0-9%]", "", text.lower())
    return key if key == "%" else key.replace("%", "")


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True, slots=True)
class CsvProblem:
    """One bad cell (or header) of the CSV: its row (line) and column, and what is wrong."""

    row: int
    column: str  # "B 'Status'", or "" for the whole row or file
    message: str

    def render(self, where: str) -> str:
        column = f" column {self.column}:" if self.column else ""
        return f"{where}:{self.row}:{column} {self.message}"


class CsvError(ValueError):
    def __init__(self, problems: list[CsvProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon (spreadsheets in many locales) or tab, as the header shows."""
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _fraction(cell: str, *, percentage: bool) -> float:
    """A percentage (40, 40%) or, for a progress column, a fraction (0.4, or 40%)."""
    text = cell.strip().replace(",", ".")
    sign = text.endswith("%")
    try:
        value = float(text.rstrip("%").strip())
    except ValueError:
        raise ValueError(f"'{cell.strip()}' is not a number") from None
    fraction = value / 100 if percentage or sign else value
    if not 0 <= fraction <= 1:
        scale = "0 and 100" if percentage or sign else "0 and 1 (or 0% and 100%)"
        raise ValueError(f"must be between {scale}, got '{cell.strip()}'")
    return fraction


def practices_from_csv(text: str, known: dict[str, str]) -> list[pb.PracticeStatus]:
    """The practice statuses of a CSV, one practice per row; CsvError lists every bad row.

    ``known``: accepted practice ids (aliases too) to the practice's id."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), _dialect(text))
    header = next(reader, None)
    if header is None:
        raise CsvError([CsvProblem(1, "", "the file is empty: expected a header row")])
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        for column, names in COLUMNS.items():
            if _normal(name) in names and column not in columns:
                columns[column] = index
    problems = _missing_columns(header, columns)
    if problems:
        raise CsvError(problems)

    def label(column: str) -> str:
        index = columns[column]
        return f"{_column_letter(index)} '{header[index].strip()}'"

    statuses: list[pb.PracticeStatus] = []
    first: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = {column: row[i].strip() if i < len(row) else "" for column, i in columns.items()}
        practice = known.get(cells["practice_id"])
        if practice is not None and practice in first:
            again = f"'{cells['practice_id']}' is listed twice (first on row {first[practice]})"
            problems.append(CsvProblem(line, label("practice_id"), again))
            continue
        if practice is not None:
            first[practice] = line
        status, row_problems = _row(cells, known, label, line)
        problems += row_problems
        if status is not None:
            statuses.append(status)
    if problems:
        raise CsvError(problems)
    return statuses


def _missing_columns(header: list[str], columns: dict[str, int]) -> list[CsvProblem]:
    problems = []
    present = ", ".join(f"'{name.strip()}'" for name in header)
    if "practice_id" not in columns:
        guess = closest(_normal(" ".join(header[:1])), COLUMNS["practice_id"])
        hint = did_you_mean(guess) if guess else ""
        problems.append(
            CsvProblem(
                1,
                "",
                f"no practice id column{hint}: the header has {present}; name one "
                "'practice_id' (or 'practice', 'id')",
            )
        )
    if not {"status", "percentage", "progress"} & set(columns):
        problems.append(
            CsvProblem(
                1,
                "",
                f"no status column: the header has {present}; name one 'status' (adopted, "
                "partial, not applicable, not started) and, for partial, 'percentage' (0-100)",
            )
        )
    return problems


def _row(
    cells: dict[str, str], known: dict[str, str], label: Callable[[str], str], line: int
) -> tuple[pb.PracticeStatus | None, list[CsvProblem]]:
    """One row's practice status (None if the row is bad), and its problems."""
    problems: list[CsvProblem] = []
    practice_id = cells["practice_id"]
    if not practice_id:
        problems.append(CsvProblem(line, label("practice_id"), "the practice id is empty"))
    elif practice_id not in known:
        hint = did_you_mean(closest(practice_id, known))
        problems.append(
            CsvProblem(line, label("practice_id"), f"unknown practice '{practice_id}'{hint}")
        )
    amount_column = next((c for c in ("percentage", "progress") if c in cells), None)
    amount: float | None = None
    if amount_column is not None and cells[amount_column]:
        try:
            amount = _fraction(cells[amount_column], percentage=amount_column == "percentage")
        except ValueError as exc:
            problems.append(CsvProblem(line, label(amount_column), str(exc)))
            return None, problems
    adoption = _adoption(cells, amount)
    if adoption is None:
        hint = did_you_mean(closest(cells["status"].lower(), _STATUS_NAMES))
        problems.append(
            CsvProblem(
                line,
                label("status"),
                f"unknown status '{cells['status']}'{hint}: write adopted, partial, "
                "not applicable or not started",
            )
        )
    elif adoption == pb.ADOPTION_PARTIAL and amount is None:
        column = label(amount_column) if amount_column else label("status")
        add = "" if amount_column else "; add a 'percentage' column"
        problems.append(
            CsvProblem(line, column, f"partial needs how far it is, a percentage (0-100){add}")
        )
    elif amount is not None and amount_column is not None:
        problems += _consistent(adoption, amount, line, label(amount_column))
    if problems or adoption is None:
        return None, problems
    status = pb.PracticeStatus(practice_id=known[practice_id], adoption=adoption)
    if adoption == pb.ADOPTION_PARTIAL and amount is not None:
        status.progress = round(amount, 6)
    return status, problems


def _adoption(cells: dict[str, str], amount: float | None) -> pb.Adoption.ValueType | None:
    """The status cell's adoption (None if unknown); without a status column, the
    percentage's: 100 adopted, 0 or empty not started, else partial."""
    if "status" in cells:
        return _STATUS_OF.get(_normal(cells["status"].upper().removeprefix("ADOPTION_")))
    if amount is None or amount == 0:
        return pb.ADOPTION_NOT_STARTED
    return pb.ADOPTION_ADOPTED if amount == 1 else pb.ADOPTION_PARTIAL


def _consistent(
    adoption: pb.Adoption.ValueType, amount: float, line: int, column: str
) -> list[CsvProblem]:
    """A percentage beside a status must agree with it: adopted is 100, not started 0."""
    expected = {pb.ADOPTION_ADOPTED: 1.0, pb.ADOPTION_NOT_STARTED: 0.0}.get(adoption)
    if expected is not None and amount != expected:
        name = "adopted" if adoption == pb.ADOPTION_ADOPTED else "not started"
        return [
            CsvProblem(
                line,
                column,
                f"{amount:.0%} contradicts the status {name} ({expected:.0%}); for work under "
                "way write partial",
            )
        ]
    return []


# --- the commands -----------------------------------------------------------------------


def _init(args: argparse.Namespace, with_backend: WithBackend) -> int:
    def work(backend: Backend) -> int:
        try:
            known = catalogue(backend, args.model or "")
        except ServiceError as exc:
            return _refused(exc, "--model")
        sys.stdout.write(template(known, args.unit_id, args.model or ""))
        return EXIT_OK

    return with_backend(args, work)


def _import_csv(args: argparse.Namespace, with_backend: WithBackend) -> int:
    source: Path = args.file
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        print(f"error: {source}: cannot read: {reason}", file=sys.stderr)
        return EXIT_INVALID
    base = pb.Assessment()
    if args.base is not None:
        try:
            base = read_assessment(args.base)
        except InputError as exc:
            print(f"error: --base: {exc}", file=sys.stderr)
            return EXIT_INVALID

    def work(backend: Backend) -> int:
        try:
            known = catalogue(backend).ids()
        except ServiceError as exc:
            return _refused(exc, "rule base")
        try:
            statuses = practices_from_csv(text, known)
        except CsvError as error:
            for problem in error.problems:
                print(f"error: {problem.render(str(source))}", file=sys.stderr)
            print(f"{source}: invalid input, {len(error.problems)} problem(s)", file=sys.stderr)
            return EXIT_INVALID
        assessment = pb.Assessment()
        assessment.CopyFrom(base)
        assessment.unit_id = args.unit_id or base.unit_id or source.stem
        del assessment.practices[:]
        assessment.practices.extend(statuses)
        record = json_format.MessageToDict(assessment, preserving_proto_field_name=True)
        if args.format == "yaml":
            sys.stdout.write(yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
        else:
            sys.stdout.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(f"{source}: {len(statuses)} practice(s) imported", file=sys.stderr)
        return EXIT_OK

    return with_backend(args, work)


def add_assess_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    source_options: AddOptions,
    with_backend: WithBackend,
) -> None:
    """Add `roadmap assess init|import-csv`.

    ``source_options`` adds the command line's --target/--rules options to a parser;
    ``with_backend`` runs a piece of work against the backend they choose."""
    assess = commands.add_parser("assess", help="write assessment files: a template, a CSV import")
    actions = assess.add_subparsers(dest="assess_command", required=True, metavar="ACTION")

    init = actions.add_parser(
        "init",
        help="print a YAML assessment template: every practice with its guidance",
        description="Print a YAML assessment listing every practice (all not started) with "
        "its description and what each answer means as comments, the context questions "
        "with how to measure each, targets and an example service. As printed it is a "
        "valid assessment: roadmap assess init > unit.yaml; edit; roadmap plan unit.yaml.",
    )
    init.add_argument("--model", metavar="MODEL", help="only the practices of this model")
    init.add_argument(
        "--unit-id", default="my-unit", metavar="ID", help="the unit's id (default my-unit)"
    )
    source_options(init)
    init.set_defaults(handler=lambda args: _init(args, with_backend))

    importer = actions.add_parser(
        "import-csv",
        help="an assessment (JSON) from a CSV with one practice per row",
        description="Read a CSV (comma, semicolon or tab separated; a header row) with one "
        "practice per row and print the assessment. Columns, by header, in any order and "
        "case: practice_id (or practice, id); status (adopted, partial, not applicable, "
        "not started; also yes, no, n/a, in progress, or the ADOPTION_* names); percentage "
        "(0-100, for partial; '40%%' too) or progress (0-1). Other columns (notes, title, "
        "...) are ignored: an assessment has no place for them. Every bad row is reported "
        "with its row and column; nothing is printed then.",
    )
    importer.add_argument("file", type=Path, metavar="FILE.csv", help="the spreadsheet, as CSV")
    importer.add_argument(
        "--unit-id",
        metavar="ID",
        help="the unit's id (default: --base's, else the file name without .csv)",
    )
    importer.add_argument(
        "--base",
        type=Path,
        metavar="FILE",
        help="an assessment (JSON or YAML, e.g. from assess init) whose context, metrics, "
        "targets and services to keep; its practices are replaced by the CSV's",
    )
    importer.add_argument(
        "--format", choices=("json", "yaml"), default="json", help="output (default json)"
    )
    source_options(importer)
    importer.set_defaults(handler=lambda args: _import_csv(args, with_backend))
