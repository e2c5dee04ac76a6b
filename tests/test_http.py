"""HTTP/JSON beside gRPC: a real server process, a real HTTP client (httpx), the Connect
protocol: every RoadmapService method, errors with their field violations, the limits."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from server import protojson
from tests.server_process import ServerProcess, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

EXAMPLES = Path(__file__).resolve().parent.parent / "clients" / "examples"
SERVICE = "/roadmap.v1.RoadmapService/"
MAX_MESSAGE_BYTES = 65536


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / name).read_text()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("http"),
        "--http-listen",
        f"127.0.0.1:{free_port()}",
        "--max-message-bytes",
        str(MAX_MESSAGE_BYTES),
        "--max-stream-items",
        "25",
        "--max-batch",
        "25",
    )
    process.wait_serving()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    port = server.wait_event("http_listening")[0]["port"]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


def adopting(assessment: dict[str, Any], practice: str) -> dict[str, Any]:
    others = [p for p in assessment["practices"] if p["practice_id"] != practice]
    return {
        **assessment,
        "practices": [*others, {"practice_id": practice, "adoption": "ADOPTION_ADOPTED"}],
    }


def post(http: httpx.Client, method: str, body: object) -> httpx.Response:
    return http.post(SERVICE + method, json=body)


def violations(response: httpx.Response) -> dict[str, str]:
    """The google.rpc.BadRequest field violations among a Connect error's details."""
    found = {}
    for detail in response.json()["details"]:
        assert detail["type"] == "google.rpc.BadRequest"
        raw = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
        for v in error_details_pb2.BadRequest.FromString(raw).field_violations:
            found[v.field] = v.description
    return found


def grpc_answer(server: ServerProcess, method: str, request: Any) -> Any:
    with grpc.insecure_channel(server.target) as channel:
        return getattr(pb_grpc.RoadmapServiceStub(channel), method)(request, timeout=30)


def test_get_roadmap_answers_in_json_what_grpc_answers(
    server: ServerProcess, http: httpx.Client
) -> None:
    assessment = example("reference-mid-maturity.json")
    response = post(http, "GetRoadmap", {"assessment": assessment})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["unitId"] == "reference-mid-maturity"
    assert body["steps"][0]["practiceId"]
    expected = grpc_answer(
        server,
        "GetRoadmap",
        pb.GetRoadmapRequest(assessment=json_format.ParseDict(assessment, pb.Assessment())),
    )
    assert body == json_format.MessageToDict(expected)


@pytest.mark.parametrize(
    ("method", "request_body", "check"),
    [
        ("ListModels", {}, lambda b: len(b["models"]) == 4),
        (
            "ListPractices",
            {"model": "itsm"},
            lambda b: {p["model"] for p in b["practices"]} == {"itsm"},
        ),
        ("GetRuleBaseInfo", {}, lambda b: b["ruleBase"]["practices"] == 113),
        (
            "ExplainPractice",
            {
                "practice_id": "continuous-deployment",
                "assessment": example("startup-external.json"),
            },
            lambda b: b["practiceId"] == "continuous-deployment" and b["summary"],
        ),
        (
            "CompareAssessments",
            {
                "before": example("cd-without-regression-tests.json"),
                "after": adopting(
                    example("cd-without-regression-tests.json"), "automated-regression-testing"
                ),
            },
            lambda b: (
                "continuous-deployment-without-regression-tests"
                in {w["code"] for w in b["warningsResolved"]}
            ),
        ),
        (
            "SummarizePortfolio",
            {
                "assessments": [
                    json.loads(line)
                    for line in (EXAMPLES / "portfolio-20.jsonl").read_text().splitlines()
                ]
            },
            lambda b: b["units"] == 20 and b["blockers"],
        ),
    ],
)
def test_every_unary_method_answers_over_http(
    http: httpx.Client, method: str, request_body: object, check: Any
) -> None:
    response = post(http, method, request_body)
    assert response.status_code == 200, response.text
    assert check(response.json())


def test_a_side_effect_free_call_can_be_a_get(http: httpx.Client) -> None:
    response = http.get(SERVICE + "GetRuleBaseInfo", params={"encoding": "json", "message": "{}"})
    assert response.status_code == 200
    assert response.json()["ruleBase"]["version"]


def envelopes(messages: list[dict[str, Any]]) -> bytes:
    data = [json.dumps(m).encode() for m in messages]
    return b"".join(b"\0" + struct.pack(">I", len(d)) + d for d in data)


def read_envelopes(data: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    messages, end, i = [], {}, 0
    while i < len(data):
        flags, size = data[i], struct.unpack(">I", data[i + 1 : i + 5])[0]
        message = json.loads(data[i + 5 : i + 5 + size])
        i += 5 + size
        if flags & 2:
            end = message
        else:
            messages.append(message)
    return messages, end


def test_stream_roadmaps_answers_each_item_in_order_with_per_item_errors(
    http: httpx.Client,
) -> None:
    items = [
        {"assessment": json.loads(line)}
        for line in (EXAMPLES / "portfolio-20.jsonl").read_text().splitlines()
    ]
    items.insert(
        3,
        {
            "assessment": {
                "unit_id": "bad",
                "practices": [{"practice_id": "nope", "adoption": "ADOPTION_ADOPTED"}],
            }
        },
    )
    response = http.post(
        SERVICE + "StreamRoadmaps",
        content=envelopes(items),
        headers={"Content-Type": "application/connect+json"},
    )
    assert response.status_code == 200
    answers, end = read_envelopes(response.content)
    assert end == {}
    assert [a.get("index", "0") for a in answers] == [str(i) for i in range(21)]
    assert answers[3]["unitId"] == "bad"
    assert answers[3]["error"]["code"] == "INVALID_ARGUMENT"
    assert (
        answers[3]["error"]["fieldViolations"][0]["field"] == "assessment.practices[0].practice_id"
    )
    assert all("roadmap" in a for i, a in enumerate(answers) if i != 3)


def test_a_stream_past_its_item_limit_ends_with_resource_exhausted(http: httpx.Client) -> None:
    items = [{"assessment": {"unit_id": f"u{i}"}} for i in range(30)]
    response = http.post(
        SERVICE + "StreamRoadmaps",
        content=envelopes(items),
        headers={"Content-Type": "application/connect+json"},
    )
    answers, end = read_envelopes(response.content)
    assert len(answers) == 25
    assert end["error"]["code"] == "resource_exhausted"


def test_an_invalid_assessment_gets_400_with_every_field_violation(http: httpx.Client) -> None:
    response = post(
        http,
        "GetRoadmap",
        {
            "assessment": {
                "unit_id": "bad",
                "practices": [
                    {"practice_id": "infra-as-code", "adoption": "ADOPTION_ADOPTED"},
                    {
                        "practice_id": "knowledge-base",
                        "adoption": "ADOPTION_PARTIAL",
                        "progress": 1.5,
                    },
                ],
                "metrics": {"staff_turnover_rate": -0.1},
            }
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_argument"
    found = violations(response)
    assert set(found) == {
        "assessment.practices[0].practice_id",
        "assessment.practices[1].progress",
        "assessment.metrics.staff_turnover_rate",
    }
    assert "did you mean 'infrastructure-as-code'" in found["assessment.practices[0].practice_id"]


def test_json_that_is_not_the_request_message_is_invalid_argument(http: httpx.Client) -> None:
    misspelt = post(http, "GetRoadmap", {"assesment": {"unit_id": "x"}})
    assert misspelt.status_code == 400
    assert misspelt.json()["code"] == "invalid_argument"
    assert "assesment" in misspelt.json()["message"]
    garbage = http.post(
        SERVICE + "GetRoadmap", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 400
    assert garbage.json()["code"] == "invalid_argument"


def test_an_oversized_body_is_refused_before_it_is_read(http: httpx.Client) -> None:
    large = {"assessment": {"unit_id": "x" * (MAX_MESSAGE_BYTES + 1)}}
    response = post(http, "GetRoadmap", large)
    assert response.status_code == 429  # Connect's status for resource_exhausted
    assert response.json()["code"] == "resource_exhausted"


def test_a_wrong_content_type_is_415_naming_the_accepted_ones(http: httpx.Client) -> None:
    response = http.post(
        SERVICE + "ListModels", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.headers["accept-post"]


def test_an_unknown_method_is_404(http: httpx.Client) -> None:
    assert post(http, "GetRoadmaps", {}).status_code == 404


def test_health_is_served_over_http_as_over_grpc(server: ServerProcess, http: httpx.Client) -> None:
    assert http.get("/healthz").text == "SERVING\n"
    check = http.post("/grpc.health.v1.Health/Check", json={})
    assert check.json() == {"status": "SERVING"}
    unknown = http.post("/grpc.health.v1.Health/Check", json={"service": "nope"})
    assert unknown.status_code == 404
    with grpc.insecure_channel(server.target) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert status.status == health_pb2.HealthCheckResponse.SERVING


def test_http_calls_are_logged_and_counted_as_grpc_calls_are(
    server: ServerProcess, http: httpx.Client
) -> None:
    post(http, "GetRuleBaseInfo", {})
    lines = server.wait_lines(
        lambda e: (
            e.get("event") == "request"
            and e.get("transport") == "http"
            and e.get("method") == "GetRuleBaseInfo"
        )
    )
    assert lines[-1]["code"] == "OK"
    assert "duration_ms" in lines[-1]


def test_the_web_app_is_served_on_the_same_port(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/js/app.js">' in page.text
    script = http.get("/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")


def test_http_listen_is_off_by_default(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path)
    process.wait_serving()
    assert process.events("http_listening") == []
    assert process.stop() == 0


def test_an_http_address_in_use_stops_the_start(tmp_path: Path, server: ServerProcess) -> None:
    port = server.wait_event("http_listening")[0]["port"]
    process = ServerProcess(tmp_path, "--http-listen", f"127.0.0.1:{port}")
    assert process.wait_exit() == 3
    refused = process.events("cannot_listen")
    assert f"--http-listen 127.0.0.1:{port}" in refused[0]["error"]


# ---------------------------------------------------------------- the JSON codec


@pytest.mark.parametrize(
    "message",
    [
        pb.StreamRoadmapsResponse(unit_id="u", index=7, error=pb.ItemError(code="X")),
        pb.GetRuleBaseInfoResponse(
            rule_base=pb.RuleBaseInfo(version="1", loaded_at={"seconds": 1_700_000_000, "nanos": 5})
        ),
        pb.Step(practice_id="p", score=float("nan"), reasons=[pb.Reason(amount=-1.5)]),
        pb.ExplainPracticeResponse(status=pb.ADOPTION_PARTIAL, in_roadmap=True),
        pb.Service(live_requirement=False, commodity_available=True, annual_cost=0),
        pb.LevelCount(),
    ],
)
def test_the_fast_json_writer_writes_what_json_format_writes(message: Any) -> None:
    assert json.loads(protojson.to_json(message)) == json.loads(json_format.MessageToJson(message))


@pytest.mark.parametrize(
    "text",
    [
        (EXAMPLES / "reference-mid-maturity.json").read_text(),
        '{"unitId": "camel", "waveCapacity": 4}',
        '{"unit_id": "x", "wave_capacity": "4"}',
        '{"unit_id": "x", "practices": [{"practice_id": "a", "adoption": 2, "progress": 1}]}',
        '{"unit_id": null, "services": [{"id": "s", "live_requirement": false}]}',
        '{"unit_id": "x", "horizon_months": 0}',
    ],
)
def test_the_fast_json_reader_reads_what_json_format_reads(text: str) -> None:
    expected = json_format.Parse(text, pb.Assessment())
    read = protojson.from_json(text.encode(), pb.Assessment)
    assert read == expected
    assert read.HasField("horizon_months") == expected.HasField("horizon_months")


@pytest.mark.parametrize(
    "text",
    [
        '{"unit_id": 5}',
        '{"unit_id": "x", "wave_capacity": true}',
        '{"unit_id": "x", "services": [{"id": "s", "live_requirement": 1}]}',
        '{"unit_id": "x", "practices": [{"practice_id": "a", "adoption": "ADOPTED"}]}',
        '{"unknown": 1}',
        "[1]",
    ],
)
def test_the_fast_json_reader_refuses_what_json_format_refuses(text: str) -> None:
    with pytest.raises(json_format.ParseError):
        json_format.Parse(text, pb.Assessment())
    with pytest.raises(json_format.ParseError):
        protojson.from_json(text.encode(), pb.Assessment)
