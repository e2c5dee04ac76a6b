"""The gRPC service over real sockets: every call, every error, health, reflection,
reload under load, graceful shutdown, Unix sockets, and `buf curl` as an independent client.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from clients.client import RoadmapClient, ServiceError
from engine.rulebase import BUNDLED_RULES
from tests.server_process import ServerProcess, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.model import RuleBase

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "clients" / "examples"
BUF = str(Path(sys.executable).parent / "buf")


def example(name: str) -> pb.Assessment:
    return json_format.Parse((EXAMPLES / name).read_text(), pb.Assessment())


def assessment(**fields: object) -> pb.Assessment:
    return json_format.ParseDict({"unit_id": "unit", **fields}, pb.Assessment())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("server"),
        "--max-batch",
        "5",
        "--max-message-bytes",
        "65536",
        "--max-stream-items",
        "3",
    )
    process.wait_serving()
    yield process
    assert process.stop() == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[RoadmapClient]:
    with RoadmapClient(server.target) as c:
        yield c


def violations(call: object) -> dict[str, str]:
    with pytest.raises(ServiceError) as raised:
        call()  # type: ignore[operator]
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT, raised.value
    return {v.field: v.description for v in raised.value.violations}


# --- every call ----------------------------------------------------------------------


def test_get_roadmap_matches_the_local_engine(client: RoadmapClient) -> None:
    response = client.get_roadmap(example("reference-mid-maturity.json"))
    local = subprocess.run(
        [
            str(Path(sys.executable).parent / "roadmap"),
            "plan",
            str(EXAMPLES / "reference-mid-maturity.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json_format.Parse(local.stdout, pb.GetRoadmapResponse()) == response
    assert response.unit_id == "reference-mid-maturity"
    assert response.rule_base.digest.startswith("sha256:")
    assert len(response.outsourcing) == 20
    assert all(step.reasons for step in response.steps)


def test_stream_answers_in_order_and_survives_a_bad_item(client: RoadmapClient) -> None:
    items = [
        assessment(unit_id="a"),
        assessment(
            unit_id="b", practices=[{"practice_id": "nope", "adoption": "ADOPTION_ADOPTED"}]
        ),
        assessment(unit_id="c", metrics={"keep_the_lights_on_share": 0.6}),
    ]
    responses = list(client.stream_roadmaps(items))
    assert [(r.index, r.unit_id) for r in responses] == [(0, "a"), (1, "b"), (2, "c")]
    assert [r.WhichOneof("result") for r in responses] == ["roadmap", "error", "roadmap"]
    error = responses[1].error
    assert error.code == "INVALID_ARGUMENT"
    assert [v.field for v in error.field_violations] == ["assessment.practices[0].practice_id"]
    assert any(s.practice_id == "outsourcing-evaluation" for s in responses[2].roadmap.steps)


def test_a_stream_caller_that_waits_for_each_answer_is_answered(server: ServerProcess) -> None:
    """The server works out the items after the one it answers in its other engine
    processes; a caller that sends the next item only once it has the last answer (a
    conversation, not a batch) must still get every answer, in order."""
    sent: queue.Queue[pb.StreamRoadmapsRequest | None] = queue.Queue()
    units = ["first", "bad", "second"]  # the module's server takes 3 items a stream

    def requests() -> Iterator[pb.StreamRoadmapsRequest]:
        while (item := sent.get(timeout=30)) is not None:
            yield item

    with grpc.insecure_channel(server.target) as channel:
        answers = pb_grpc.RoadmapServiceStub(channel).StreamRoadmaps(requests(), timeout=60)
        got = []
        for unit in units:
            practices = [{"practice_id": "nope", "adoption": "ADOPTION_ADOPTED"}]
            item = assessment(unit_id=unit, practices=practices if unit == "bad" else [])
            sent.put(pb.StreamRoadmapsRequest(assessment=item))
            answer = next(answers)  # before the next item is sent
            got.append((answer.index, answer.unit_id, answer.WhichOneof("result")))
        sent.put(None)
        assert list(answers) == []
    assert got == [
        (0, "first", "roadmap"),
        (1, "bad", "error"),
        (2, "second", "roadmap"),
    ]


def test_a_stream_gets_the_same_roadmaps_as_single_calls(client: RoadmapClient) -> None:
    names = ("reference-mid-maturity", "startup-external", "internal-it-itsm-level2")
    units = [example(f"{name}.json") for name in names]
    streamed = [r.roadmap for r in client.stream_roadmaps(units)]
    assert streamed == [client.get_roadmap(unit) for unit in units]


def test_summarize_compare_explain(client: RoadmapClient) -> None:
    units = [assessment(unit_id=u, targets=[{"model": "devsecops", "level": 4}]) for u in "xyz"]
    summary = client.summarize_portfolio(units, top_blockers=3)
    assert summary.units == 3
    assert len(summary.blockers) == 3
    assert summary.blockers[0].units == 3

    before = assessment(
        practices=[{"practice_id": "continuous-deployment", "adoption": "ADOPTION_ADOPTED"}]
    )
    after = assessment(
        practices=[
            {"practice_id": "continuous-deployment", "adoption": "ADOPTION_ADOPTED"},
            {"practice_id": "automated-regression-testing", "adoption": "ADOPTION_ADOPTED"},
        ]
    )
    comparison = client.compare(before, after)
    assert "automated-regression-testing" in comparison.steps_completed
    assert [w.code for w in comparison.warnings_resolved] == [
        "continuous-deployment-without-regression-tests"
    ]

    explanation = client.explain(
        "peer-to-peer-support", assessment(targets=[{"model": "itsm", "level": 2}])
    )
    assert explanation.beyond_target
    assert list(explanation.unmet_prerequisites) == [
        "knowledge-base",
        "self-service-portal",
        "service-catalog",
    ]
    assert explanation.status == pb.ADOPTION_NOT_STARTED


def test_catalogue_calls(client: RoadmapClient, bundled: RuleBase) -> None:
    models = {m.id: m for m in client.list_models().models}
    assert set(models) == {"devsecops", "itsm", "high-performing-it", "agile-itil"}
    assert len(models["devsecops"].levels) == 6
    assert models["devsecops"].practices == len(bundled.practices_of("devsecops"))
    level4 = client.list_practices(model="devsecops", level=4).practices
    assert "immutable-infrastructure" in {p.id for p in level4}
    assert {p.level for p in level4} == {4}
    testing = client.list_practices(model="devsecops", axis="testing").practices
    assert {p.axis for p in testing} == {"testing"}
    info = client.rule_base_info().rule_base
    assert (info.models, info.practices) == (4, len(bundled.practices))
    assert info.loaded_at.seconds > 0


# --- errors ----------------------------------------------------------------------------


def test_invalid_assessment_names_every_field(client: RoadmapClient) -> None:
    bad = assessment(
        unit_id="",
        practices=[
            {"practice_id": "infra-as-code", "adoption": "ADOPTION_ADOPTED"},
            {"practice_id": "no-such-thing", "adoption": "ADOPTION_ADOPTED"},
            {"practice_id": "service-catalog", "adoption": "ADOPTION_PARTIAL", "progress": 2},
        ],
        metrics={"staff_turnover_rate": 1.2},
        targets=[{"model": "itil", "level": 3}],
        services=[{"id": "a", "annual_cost": -1}, {"id": "a", "annual_cost": 5}],
    )
    found = violations(lambda: client.get_roadmap(bad))
    assert list(found) == [
        "assessment.unit_id",
        "assessment.practices[0].practice_id",
        "assessment.practices[1].practice_id",
        "assessment.practices[2].progress",
        "assessment.metrics.staff_turnover_rate",
        "assessment.targets[0].model",
        "assessment.services[0].annual_cost",
        "assessment.services[1].id",
    ]
    assert "did you mean 'infrastructure-as-code'" in found["assessment.practices[0].practice_id"]


def test_other_calls_name_their_fields(client: RoadmapClient) -> None:
    too_many = [assessment(unit_id=str(n)) for n in range(6)]
    assert "assessments" in violations(lambda: client.summarize_portfolio(too_many))
    bad_units = [assessment(unit_id="ok"), assessment(unit_id="")]
    assert list(violations(lambda: client.summarize_portfolio(bad_units))) == [
        "assessments[1].unit_id"
    ]
    assert list(violations(lambda: client.explain("knowledge-bas", assessment()))) == [
        "practice_id"
    ]
    assert list(
        violations(lambda: client.compare(assessment(unit_id="a"), assessment(unit_id="b")))
    ) == ["after.unit_id"]
    assert list(violations(lambda: client.list_practices(model="itil"))) == ["model"]
    assert list(violations(lambda: client.list_practices(model="itsm", axis="testing"))) == ["axis"]


def test_oversized_request_is_resource_exhausted(client: RoadmapClient) -> None:
    huge = assessment(
        services=[{"id": f"s{n}", "name": "x" * 100, "annual_cost": 1} for n in range(1000)]
    )
    with pytest.raises(ServiceError) as raised:
        client.get_roadmap(huge)
    assert raised.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_assessment_and_stream_limits_are_enforced(
    server: ServerProcess, client: RoadmapClient
) -> None:
    # Item counts within the message size: each limit names its field and its bound.
    many_targets = assessment(targets=[{"model": "itsm", "level": 2}] * 65)
    assert violations(lambda: client.get_roadmap(many_targets)) == {
        "assessment.targets": "too many items: 65 (at most 64)"
    }
    many_services = assessment(
        services=[{"id": f"s{n}", "name": "n", "annual_cost": 1} for n in range(2001)]
    )
    assert violations(lambda: client.get_roadmap(many_services)) == {
        "assessment.services": "too many items: 2001 (at most 2000)"
    }
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.RoadmapServiceStub(channel)
        items = (pb.StreamRoadmapsRequest(assessment=assessment(unit_id=f"u{n}")) for n in range(5))
        answered = []
        with pytest.raises(grpc.RpcError) as raised:
            answered.extend(reply.unit_id for reply in stub.StreamRoadmaps(items, timeout=10))
    assert answered == ["u0", "u1", "u2"]  # nothing answered is lost
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "at most 3 per stream" in (raised.value.details() or "")


def test_deadline_is_honoured(server: ServerProcess) -> None:
    with (
        RoadmapClient(server.target, timeout=0.000_001) as hasty,
        pytest.raises(ServiceError) as raised,
    ):
        hasty.get_roadmap(example("reference-mid-maturity.json"))
    assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED


# --- standard services, logs, buf curl --------------------------------------------------


def test_reflection_lists_the_services(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in response.list_services_response.service}
    assert {"roadmap.v1.RoadmapService", "grpc.health.v1.Health"} <= names
    assert "roadmap.v1.AdminService" not in names  # admin is opt-in


def test_buf_curl_calls_get_roadmap_through_reflection(server: ServerProcess) -> None:
    data = json.dumps(
        {"assessment": {"unit_id": "curl-unit", "targets": [{"model": "itsm", "level": 2}]}}
    )
    result = subprocess.run(
        [
            BUF,
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--data",
            data,
            f"http://{server.target}/roadmap.v1.RoadmapService/GetRoadmap",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["unitId"] == "curl-unit"
    assert [s["practiceId"] for s in response["steps"]][:3] == [
        "service-ownership",
        "supplier-contract-management",
        "service-catalog",
    ]


def test_one_json_log_line_per_request_without_the_assessment(
    server: ServerProcess, client: RoadmapClient
) -> None:
    client.get_roadmap(
        assessment(
            unit_id="log-probe",
            practices=[{"practice_id": "knowledge-base", "adoption": "ADOPTION_ADOPTED"}],
        )
    )
    lines = server.wait_lines(
        lambda e: e.get("event") == "request" and e.get("unit_id") == "log-probe",
        what="request log-probe",
    )
    assert len(lines) == 1
    (line,) = lines
    assert line["method"] == "GetRoadmap"
    assert line["code"] == "OK"
    assert line["duration_ms"] > 0
    assert "knowledge-base" not in json.dumps(line)


# --- Unix socket, health while loading, reload, shutdown --------------------------------


def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "roadmap.sock"
    process = ServerProcess(tmp_path, listen=f"unix:{path}")
    try:
        process.wait_serving()
        with RoadmapClient(f"unix:{path}") as client:
            assert client.get_roadmap(assessment()).unit_id == "unit"
    finally:
        assert process.stop() == 0


@pytest.mark.no_cover  # generating 10,000 practices here is three times slower when traced
def test_health_is_not_serving_until_the_rule_base_is_loaded(tmp_path: Path) -> None:
    from bench.synthetic import generate  # noqa: PLC0415

    rules = generate(2_000, tmp_path / "big")  # a second or more to load: long enough to see
    process = ServerProcess(tmp_path, "--rules", str(rules))
    try:
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "SERVING" not in seen:
            status = process.health(timeout=0.5)
            if not seen or seen[-1] != status:
                seen.append(status)
            time.sleep(0.02)
        assert "NOT_SERVING" in seen
        assert seen[-1] == "SERVING"
        assert seen.index("NOT_SERVING") < seen.index("SERVING")
    finally:
        assert process.stop() == 0


def copy_rules(directory: Path) -> Path:
    shutil.copytree(BUNDLED_RULES, directory)
    return directory


def set_version(rules: Path, version: str) -> None:
    manifest = rules / "rulebase.yaml"
    text = manifest.read_text()
    start = text.index('version: "') + len('version: "')
    manifest.write_text(text[:start] + version + text[text.index('"', start) :])


def wait_for_version(client: RoadmapClient, version: str, timeout: float = 10.0) -> None:
    """Until the server serves rule base ``version`` (a reload by signal runs in the background)."""
    deadline = time.monotonic() + timeout
    while client.rule_base_info().rule_base.version != version:
        assert time.monotonic() < deadline, f"{version} not served within {timeout:g} s"
        time.sleep(0.05)


def test_reload_under_concurrent_calls_loses_nothing(tmp_path: Path, bundled: RuleBase) -> None:
    rules = copy_rules(tmp_path / "rules")
    process = ServerProcess(tmp_path, "--rules", str(rules), "--enable-admin")
    process.wait_serving()
    versions: set[str] = set()
    failures: list[str] = []
    stop = threading.Event()

    def call() -> None:
        with RoadmapClient(process.target) as client:
            while not stop.is_set():
                try:
                    versions.add(
                        client.get_roadmap(example("reference-mid-maturity.json")).rule_base.version
                    )
                except ServiceError as exc:
                    failures.append(str(exc))

    workers = [threading.Thread(target=call) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        with RoadmapClient(process.target) as admin:
            for n in range(6):
                set_version(rules, f"reload-{n}")
                if n % 2:
                    process.signal(signal.SIGHUP)
                    # Applied before the next version is written, or it could load that one.
                    wait_for_version(admin, f"reload-{n}")
                else:
                    reply = admin.reload_rule_base()
                    assert reply.changed
                    assert reply.rule_base.version == f"reload-{n}"
                time.sleep(0.2)  # the callers run on this version for a while
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        assert process.stop() == 0
    assert failures == []
    assert "reload-5" in versions
    assert versions <= {bundled.version} | {f"reload-{n}" for n in range(6)}


def test_a_bad_reload_keeps_the_old_rule_base(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path / "rules")
    process = ServerProcess(tmp_path, "--rules", str(rules), "--enable-admin")
    process.wait_serving()
    try:
        with RoadmapClient(process.target) as client:
            before = client.rule_base_info().rule_base.digest
            (rules / "broken.yaml").write_text("practices: [{id: X}]\n")
            with pytest.raises(ServiceError) as raised:
                client.reload_rule_base()
            assert raised.value.code is grpc.StatusCode.FAILED_PRECONDITION
            assert "broken.yaml" in raised.value.message
            process.signal(signal.SIGHUP)
            refused = process.wait_event("rule_base_refused", 2)
            assert len(refused) == 2  # the admin call and SIGHUP
            assert client.rule_base_info().rule_base.digest == before
            assert client.get_roadmap(assessment()).rule_base.digest == before
            assert process.health() == "SERVING"
    finally:
        assert process.stop() == 0


def test_sigterm_lets_an_in_flight_call_finish(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, "--grace-seconds", "10")
    process.wait_serving()
    sent = threading.Event()
    release = threading.Event()

    def requests() -> Iterator[pb.StreamRoadmapsRequest]:
        yield pb.StreamRoadmapsRequest(assessment=assessment(unit_id="first"))
        sent.set()
        release.wait(10)
        yield pb.StreamRoadmapsRequest(assessment=assessment(unit_id="second"))

    with grpc.insecure_channel(process.target) as channel:
        stub = pb_grpc.RoadmapServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=20)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        responses = stub.StreamRoadmaps(requests(), timeout=20)
        first = next(responses)
        assert sent.wait(5)
        process.signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        with (
            grpc.insecure_channel(process.target) as fresh,
            pytest.raises(grpc.RpcError) as refused,
        ):
            pb_grpc.RoadmapServiceStub(fresh).GetRoadmap(
                pb.GetRoadmapRequest(assessment=assessment()), timeout=5
            )
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        release.set()
        rest = list(responses)
    assert [first.unit_id, *(r.unit_id for r in rest)] == ["first", "second"]
    assert process.wait_exit(timeout=15) == 0  # the one SIGTERM above is enough


def test_metrics_endpoint_counts_requests_and_names_the_rule_base(tmp_path: Path) -> None:
    port = free_port()
    process = ServerProcess(tmp_path, "--metrics-port", str(port))
    process.wait_serving()
    try:
        with RoadmapClient(process.target) as client:
            client.get_roadmap(assessment())
            with pytest.raises(ServiceError):
                client.get_roadmap(assessment(unit_id=""))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    finally:
        assert process.stop() == 0
    assert 'roadmap_requests_total{code="OK",method="GetRoadmap"} 1.0' in text
    assert 'roadmap_requests_total{code="INVALID_ARGUMENT",method="GetRoadmap"} 1.0' in text
    assert 'roadmap_request_seconds_count{method="GetRoadmap"} 2.0' in text
    assert 'roadmap_rule_base_info{digest="sha256:' in text
    assert 'roadmap_rule_base_reloads_total{result="loaded"} 1.0' in text


def test_directory_watch_reloads_on_change(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path / "rules")
    process = ServerProcess(tmp_path, "--rules", str(rules), "--watch-seconds", "0.2")
    process.wait_serving()
    try:
        set_version(rules, "watched-1")
        deadline = time.monotonic() + 10
        with RoadmapClient(process.target) as client:
            while time.monotonic() < deadline:
                if client.rule_base_info().rule_base.version == "watched-1":
                    break
                time.sleep(0.1)
            assert client.rule_base_info().rule_base.version == "watched-1"
    finally:
        assert process.stop() == 0
