"""`roadmap assess init` (the YAML template), `roadmap assess import-csv`, and YAML
assessment files as `roadmap plan` reads them."""

from __future__ import annotations

import json
import re
import subprocess
from typing import TYPE_CHECKING

import pytest
import yaml

from clients import cli
from clients.assess import Catalogue, CsvError, practices_from_csv, template
from clients.backend import LocalBackend
from clients.inputs import assessment_from_yaml
from contract.convert import assessment_from_proto
from engine.model import Status
from tests.test_cli_rules import ROADMAP, roadmap
from tests.test_clients import CD

if TYPE_CHECKING:
    from pathlib import Path

    from engine.model import RuleBase
    from engine.roadmap import RoadmapEngine


@pytest.fixture(scope="module")
def catalogue(bundled: RuleBase) -> Catalogue:
    from clients.assess import catalogue as read  # noqa: PLC0415

    return read(LocalBackend(bundled))


def fill(text: str, practice: str, adoption: str, progress: float = 0) -> str:
    """The template as a person edits it: one practice's answer changed in place."""
    entry = f"  - practice_id: {practice}\n    adoption: ADOPTION_NOT_STARTED\n    progress: 0\n"
    assert entry in text, practice
    return text.replace(
        entry,
        f"  - practice_id: {practice}\n    adoption: {adoption}\n    progress: {progress}\n",
    )


# --- init -------------------------------------------------------------------------------


def test_init_then_plan_gives_a_roadmap_end_to_end(tmp_path: Path) -> None:
    init = roadmap("assess", "init", "--unit-id", "team-a")
    assert init.returncode == 0, init.stderr
    unit = tmp_path / "unit.yaml"
    unit.write_text(init.stdout)
    plan = roadmap("plan", str(unit))
    assert plan.returncode == 0, plan.stderr
    response = json.loads(plan.stdout)
    assert response["unit_id"] == "team-a"
    assert response["steps"], "a unit with nothing adopted has next steps"


def test_the_template_lists_every_practice_with_its_guidance(
    catalogue: Catalogue, bundled: RuleBase
) -> None:
    text = template(catalogue, "my-unit")
    record = yaml.safe_load(text)
    listed = [p["practice_id"] for p in record["practices"]]
    assert sorted(listed) == sorted(bundled.practices)
    assert {p["adoption"] for p in record["practices"]} == {"ADOPTION_NOT_STARTED"}
    for practice in bundled.practices.values():
        # the description, word for word, in the comments above the entry
        block = text.split(f"  - practice_id: {practice.id}\n")[0].rsplit("\n\n", 1)[-1]
        flat = " ".join(line.lstrip(" #") for line in block.splitlines())
        assert " ".join(practice.description.split()) in flat, practice.id
    for answer in ("ADOPTION_ADOPTED", "ADOPTION_PARTIAL", "ADOPTION_NOT_APPLICABLE"):
        assert f"#   {answer}" in text
    assert "0.4 = about 40%" in text
    for metric in ("keep_the_lights_on_share", "staff_turnover_rate", "self_service_share"):
        assert re.search(rf"# Measure.*\n(  #.*\n)*  {metric}:\n", text), metric
    assert "USER_BASE_INTERNAL_COMPLEX" in text
    assert "#   - id: service-desk" in text  # the example service, commented out
    assert record["services"] == []
    assert record["targets"] == []
    assert all(len(line) <= 100 for line in text.splitlines())


def test_init_for_one_model_lists_only_its_practices(
    catalogue: Catalogue, bundled: RuleBase, engine: RoadmapEngine
) -> None:
    from clients.assess import catalogue as read  # noqa: PLC0415

    itsm = read(LocalBackend(bundled), "itsm")
    text = template(itsm, "desk", "itsm")
    listed = {p["practice_id"] for p in yaml.safe_load(text)["practices"]}
    assert listed == {p.id for p in bundled.practices_of("itsm")}
    assert "devsecops" not in text.split("practices:")[1]
    roadmap_ = engine.roadmap(assessment_from_proto(assessment_from_yaml(text)))
    assert roadmap_.unit_id == "desk"


def test_init_refuses_an_unknown_model_with_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["assess", "init", "--model", "itms"]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert "unknown model 'itms'" in err
    assert "did you mean 'itsm'?" in err


def test_a_filled_in_template_gives_the_statuses_written(
    catalogue: Catalogue, engine: RoadmapEngine
) -> None:
    text = template(catalogue, "filled")
    text = fill(text, "infrastructure-as-code", "ADOPTION_ADOPTED")
    text = fill(text, "continuous-integration", "ADOPTION_PARTIAL", 0.4)
    text = fill(text, "service-catalog", "ADOPTION_NOT_APPLICABLE")
    text = text.replace("  keep_the_lights_on_share:\n", "  keep_the_lights_on_share: 0.6\n")
    assessment = assessment_from_proto(assessment_from_yaml(text))
    statuses = assessment.statuses()
    assert statuses["infrastructure-as-code"].status is Status.ADOPTED
    assert statuses["continuous-integration"].status is Status.PARTIAL
    assert statuses["continuous-integration"].progress == pytest.approx(0.4)
    assert statuses["service-catalog"].status is Status.NOT_APPLICABLE
    assert statuses["knowledge-base"].status is Status.NOT_STARTED
    assert assessment.metrics.keep_the_lights_on_share == pytest.approx(0.6)
    assert assessment.metrics.staff_turnover_rate is None  # left empty: unknown

    steps = {s.practice_id for s in engine.roadmap(assessment).steps}
    assert "infrastructure-as-code" not in steps  # adopted
    assert "service-catalog" not in steps  # not applicable
    explained = engine.explain("continuous-integration", assessment)
    assert explained.status is Status.PARTIAL


# --- YAML input -------------------------------------------------------------------------


def test_plan_reads_yaml_and_json_alike(tmp_path: Path) -> None:
    as_yaml = tmp_path / "cd.yml"
    as_yaml.write_text(yaml.safe_dump(json.loads(CD.read_text())))
    from_json = roadmap("plan", str(CD))
    from_yaml = roadmap("plan", str(as_yaml))
    assert from_yaml.returncode == 0, from_yaml.stderr
    assert from_yaml.stdout == from_json.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unit_id: a\nunit_id: b\n", "line 2, column 1"),  # a key twice
        ("unit_id: a\npractices:\n  - practice_id: x\n    adoption: ADOPTED\n", "line 4:"),
        ("unit_id: a\nmetrics:\n  self_service_share: lots\n", "line 3:"),
        ("unit_id: [a\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_a_bad_yaml_assessment_says_what_and_on_which_line(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)):
        assessment_from_yaml(text)


def test_yaml_dates_stay_text() -> None:
    text = "unit_id: a\nservices:\n  - id: s\n    contract_end_date: 2027-03-31\n"
    assert assessment_from_yaml(text).services[0].contract_end_date == "2027-03-31"


def test_plan_names_the_yaml_file_and_line_of_a_bad_value(tmp_path: Path) -> None:
    unit = tmp_path / "unit.yaml"
    unit.write_text("unit_id: a\npractices:\n  - {practice_id: x, adoption: DONE}\n")
    result = roadmap("plan", str(unit))
    assert result.returncode == 1
    assert f"{unit}: not a roadmap.v1.Assessment in YAML: line 3:" in result.stderr


# --- import-csv -------------------------------------------------------------------------

GOOD = """\
Practice ID;Title;Status;Percentage;Notes
infrastructure-as-code;IaC;Adopted;;all environments in code
continuous-integration;CI;partial;40%;half the repositories
service-catalog;;n/a;;
knowledge-base;;In progress;25;
incident-and-request-logging;;yes;100;

"""


def test_import_csv_reads_a_spreadsheet_export(tmp_path: Path) -> None:
    sheet = tmp_path / "team-b.csv"
    sheet.write_text("\ufeff" + GOOD, encoding="utf-8")  # Excel's byte order mark
    result = roadmap("assess", "import-csv", str(sheet))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record == {
        "unit_id": "team-b",
        "practices": [
            {"practice_id": "infrastructure-as-code", "adoption": "ADOPTION_ADOPTED"},
            {
                "practice_id": "continuous-integration",
                "adoption": "ADOPTION_PARTIAL",
                "progress": 0.4,
            },
            {"practice_id": "service-catalog", "adoption": "ADOPTION_NOT_APPLICABLE"},
            {"practice_id": "knowledge-base", "adoption": "ADOPTION_PARTIAL", "progress": 0.25},
            {"practice_id": "incident-and-request-logging", "adoption": "ADOPTION_ADOPTED"},
        ],
    }
    unit = tmp_path / "unit.json"
    unit.write_text(result.stdout)
    assert roadmap("plan", str(unit)).returncode == 0


def test_import_csv_keeps_the_rest_of_a_base_assessment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("practice,status\nagile-delivery,adopted\n")
    base = tmp_path / "base.yaml"
    base.write_text(
        "unit_id: shop\ntargets: [{model: devsecops, level: 3}]\n"
        "practices: [{practice_id: knowledge-base, adoption: ADOPTION_ADOPTED}]\n"
    )
    argv = ["assess", "import-csv", str(sheet), "--base", str(base), "--format", "yaml"]
    assert cli.main(argv) == cli.EXIT_OK
    record = yaml.safe_load(capsys.readouterr().out)
    assert record["unit_id"] == "shop"
    assert record["targets"] == [{"model": "devsecops", "level": 3}]
    assert record["practices"] == [
        {"practice_id": "agile-delivery", "adoption": "ADOPTION_ADOPTED"}
    ]


def test_a_bad_csv_gets_every_problem_with_its_row_and_column(tmp_path: Path) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "practice,status,percentage,notes\n"
        "infra-as-code,adopted,,\n"
        "continuous-integration,partially done,,\n"
        "service-catalog,partial,,\n"
        "knowledge-base,adopted,40,\n"
        "agile-delivery,partial,140,\n"
        "agile-delivery,adopted,,\n"
        ",adopted,,\n"
        "incident-and-request-logging,partial,forty,\n"
    )
    result = roadmap("assess", "import-csv", str(sheet))
    assert result.returncode == 1
    assert result.stdout == ""  # nothing half-imported
    lines = result.stderr.splitlines()
    assert lines == [
        f"error: {sheet}:2: column A 'practice': unknown practice 'infra-as-code' "
        "(did you mean 'infrastructure-as-code'?)",
        f"error: {sheet}:3: column B 'status': unknown status 'partially done' "
        "(did you mean 'partial'?): write adopted, partial, not applicable or not started",
        f"error: {sheet}:4: column C 'percentage': partial needs how far it is, a "
        "percentage (0-100)",
        f"error: {sheet}:5: column C 'percentage': 40% contradicts the status adopted "
        "(100%); for work under way write partial",
        f"error: {sheet}:6: column C 'percentage': must be between 0 and 100, got '140'",
        f"error: {sheet}:7: column A 'practice': 'agile-delivery' is listed twice (first on row 6)",
        f"error: {sheet}:8: column A 'practice': the practice id is empty",
        f"error: {sheet}:9: column C 'percentage': 'forty' is not a number",
        f"{sheet}: invalid input, 8 problem(s)",
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("name,status\n", "no practice id column"),
        ("practice_id,notes\n", "no status column"),
        ("", "the file is empty"),
    ],
)
def test_a_csv_without_the_columns_needed_says_which(
    catalogue: Catalogue, header: str, expected: str
) -> None:
    with pytest.raises(CsvError) as caught:
        practices_from_csv(header + "agile-delivery,adopted\n" if header else "", catalogue.ids())
    assert expected in caught.value.problems[0].message
    assert caught.value.problems[0].row == 1


def test_csv_headers_and_answers_are_read_tolerantly(catalogue: Catalogue) -> None:
    text = (
        "PracticeId\tProgress\n"  # tab separated; no status column: the fraction says it
        "agile-delivery\t1\n"
        "knowledge-base\t0.5\n"
        "service-catalog\t0\n"
        "infrastructure-as-code\t\n"
    )
    got = {
        (p.practice_id, p.adoption, p.progress) for p in practices_from_csv(text, catalogue.ids())
    }
    assert got == {
        ("agile-delivery", 1, 0.0),
        ("knowledge-base", 2, 0.5),
        ("service-catalog", 4, 0.0),
        ("infrastructure-as-code", 4, 0.0),
    }


def test_a_template_piped_into_plan_is_read_as_yaml() -> None:
    made = roadmap("assess", "init", "--model", "itsm")
    assert made.returncode == 0, made.stderr
    planned = subprocess.run(
        [ROADMAP, "plan", "/dev/stdin", "--format", "json"],
        input=made.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["unit_id"] == "my-unit"
