"""Worst-case bad inputs over a real server: the caller always gets INVALID_ARGUMENT with
readable violations, never its own library's RESOURCE_EXHAUSTED for oversized trailers.

gRPC clients refuse response metadata past 8 KiB (soft) and 16 KiB (hard) by default;
these calls use a plain stub with those defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from tests.server_process import ServerProcess

if TYPE_CHECKING:
    from collections.abc import Iterator

SOFT_METADATA_LIMIT = 8 * 1024


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pb_grpc.RoadmapServiceStub]:
    server = ServerProcess(tmp_path_factory.mktemp("bounded"))
    server.wait_serving()
    with grpc.insecure_channel(server.target) as channel:
        yield pb_grpc.RoadmapServiceStub(channel)
    assert server.stop() == 0


def practices(count: int, length: int) -> list[pb.PracticeStatus]:
    return [
        pb.PracticeStatus(practice_id=f"{n:06d}".ljust(length, "x"), adoption=pb.ADOPTION_ADOPTED)
        for n in range(count)
    ]


def unit(**fields: object) -> pb.Assessment:
    return pb.Assessment(unit_id="u", **fields)  # type: ignore[arg-type]


WORST = {
    "one unknown id of 5,000 characters": unit(practices=practices(1, 5000)),
    "2,000 ids of 200 characters": unit(practices=practices(2000, 200)),
    "2,000 unknown ids of 100 characters": unit(practices=practices(2000, 100)),
    "a service id of 100,000 characters and a name of 1 MiB": unit(
        services=[pb.Service(id="s" * 100_000, name="n" * 1024 * 1024, annual_cost=1)]
    ),
}


@pytest.mark.parametrize("assessment", WORST.values(), ids=WORST.keys())
def test_the_worst_inputs_are_refused_readably_within_the_metadata_limits(
    stub: pb_grpc.RoadmapServiceStub, assessment: pb.Assessment
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetRoadmap(pb.GetRoadmapRequest(assessment=assessment), timeout=30)
    error = raised.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()
    trailers = error.trailing_metadata()
    size = sum(len(k) + len(v) for k, v in trailers) + len(error.details().encode())
    assert size < SOFT_METADATA_LIMIT - 3 * 1024, size  # 3 KiB to spare, at least
    status = rpc_status.from_call(error)
    assert status is not None
    request = error_details_pb2.BadRequest()
    status.details[0].Unpack(request)
    first = request.field_violations[0]
    assert first.field.startswith("assessment.")
    assert len(first.description) < 200, first.description
    assert first.field in error.details()  # the message names it too
    total = len(assessment.practices) or len(assessment.services) * 2
    if total > len(request.field_violations):
        listed = len(request.field_violations) - 1
        assert request.field_violations[-1].description.startswith(
            f"and {total - listed:,} more violations"
        )


def test_a_portfolio_of_bad_assessments_is_refused_within_the_limits(
    stub: pb_grpc.RoadmapServiceStub,
) -> None:
    request = pb.SummarizePortfolioRequest(
        assessments=[unit(practices=practices(500, 120)) for _ in range(8)]
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub.SummarizePortfolio(request, timeout=30)
    error = raised.value
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert len(error.details()) <= 1100
    assert "(and 3,9" in error.details()  # 4,000 violations: a few listed, the count of the rest
