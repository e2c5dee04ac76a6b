"""A thin, typed Python client of roadmap.v1 over the generated stubs.

    with RoadmapClient("127.0.0.1:50051") as client:
        response = client.get_roadmap(assessment)   # roadmap_pb2.GetRoadmapResponse

Targets are gRPC names: ``HOST:PORT``, ``unix:PATH``, ``dns:///name:port``, ``ipv4:a:p,b:p``.
TLS: ``tls_ca`` (PEM file of the CA that signed the server's certificate; without it, the
gRPC's default roots), ``tls_cert`` and ``tls_key`` (a client certificate, for mutual TLS);
any of them makes the channel TLS, none leaves it plaintext.
Calls have a deadline; UNAVAILABLE is retried by gRPC itself (service config). Every
failure is a :class:`ServiceError` carrying the status code and, for INVALID_ARGUMENT,
the field violations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from roadmap.v1 import roadmap_pb2 as pb
from roadmap.v1 import roadmap_pb2_grpc as pb_grpc

from engine.errors import FieldViolation, parse_path

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

DEFAULT_TIMEOUT = 10.0
Reply = TypeVar("Reply")
_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [
                {"service": "roadmap.v1.RoadmapService"},
                {"service": "roadmap.v1.AdminService"},
            ],
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.05s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                # Every roadmap.v1 call is safe to repeat (pure reads; a reload of the
                # same directory is idempotent). A server that is stopping answers the
                # calls that reach it in its last moment with CANCELLED: try another.
                "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
            },
        }
    ],
}


#: A field violation from a status's details: the engine's own type, path parsed back.
Violation = FieldViolation


class ServiceError(Exception):
    """A call failed: ``code`` is the gRPC status, ``violations`` the bad fields, if any."""

    def __init__(
        self, code: grpc.StatusCode, message: str, violations: tuple[FieldViolation, ...] = ()
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = violations

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> ServiceError:
        violations: list[FieldViolation] = []
        status = rpc_status.from_call(error)  # type: ignore[arg-type]  # RpcError is also a Call
        if status is not None:
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations += [
                        FieldViolation(parse_path(v.field), v.description)
                        for v in bad.field_violations
                    ]
        return cls(error.code(), error.details() or "", tuple(violations))


def channel_credentials(
    ca: str | Path | None = None, cert: str | Path | None = None, key: str | Path | None = None
) -> grpc.ChannelCredentials | None:
    """TLS credentials from PEM files, or None (plaintext) if no file is given.

    ValueError if only one of ``cert`` and ``key`` is given; OSError if a file cannot be read.
    """
    if (cert is None) != (key is None):
        raise ValueError("a client certificate needs both its certificate chain and its key")
    if ca is None and cert is None:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes() if ca is not None else None,
        private_key=Path(key).read_bytes() if key is not None else None,
        certificate_chain=Path(cert).read_bytes() if cert is not None else None,
    )


class RoadmapClient:
    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        options: Iterable[tuple[str, Any]] = (),
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
    ) -> None:
        self.timeout = timeout
        options = [
            ("grpc.service_config", json.dumps(_SERVICE_CONFIG)),
            ("grpc.enable_retries", 1),
            *options,
        ]
        credentials = channel_credentials(tls_ca, tls_cert, tls_key)
        self.channel = (
            grpc.insecure_channel(target, options=options)
            if credentials is None
            else grpc.secure_channel(target, credentials, options=options)
        )
        self.stub = pb_grpc.RoadmapServiceStub(self.channel)
        self.admin = pb_grpc.AdminServiceStub(self.channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def wait_ready(self, timeout: float) -> None:
        """Block until the channel connects (e.g. right after starting a server)."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise ServiceError(
                grpc.StatusCode.UNAVAILABLE, f"not reachable within {timeout} s"
            ) from exc

    def _call(self, method: Callable[..., Reply], request: Any) -> Reply:
        try:
            return method(request, timeout=self.timeout, wait_for_ready=False)
        except grpc.RpcError as error:
            raise ServiceError.from_rpc_error(error) from None

    def get_roadmap(self, assessment: pb.Assessment) -> pb.GetRoadmapResponse:
        return self._call(self.stub.GetRoadmap, pb.GetRoadmapRequest(assessment=assessment))

    def stream_roadmaps(
        self, assessments: Iterable[pb.Assessment], *, timeout: float | None = None
    ) -> Iterator[pb.StreamRoadmapsResponse]:
        """One answer per assessment, as they come; ``timeout`` bounds the whole stream
        (none by default: a stream may be long)."""
        requests = (pb.StreamRoadmapsRequest(assessment=a) for a in assessments)
        try:
            yield from self.stub.StreamRoadmaps(requests, timeout=timeout)
        except grpc.RpcError as error:
            raise ServiceError.from_rpc_error(error) from None

    def summarize_portfolio(
        self, assessments: Iterable[pb.Assessment], top_blockers: int = 0
    ) -> pb.SummarizePortfolioResponse:
        request = pb.SummarizePortfolioRequest(
            assessments=list(assessments), top_blockers=top_blockers
        )
        return self._call(self.stub.SummarizePortfolio, request)

    def compare(self, before: pb.Assessment, after: pb.Assessment) -> pb.CompareAssessmentsResponse:
        return self._call(
            self.stub.CompareAssessments, pb.CompareAssessmentsRequest(before=before, after=after)
        )

    def explain(self, practice_id: str, assessment: pb.Assessment) -> pb.ExplainPracticeResponse:
        request = pb.ExplainPracticeRequest(practice_id=practice_id, assessment=assessment)
        return self._call(self.stub.ExplainPractice, request)

    def list_models(self) -> pb.ListModelsResponse:
        return self._call(self.stub.ListModels, pb.ListModelsRequest())

    def list_practices(
        self, model: str = "", axis: str = "", level: int = 0
    ) -> pb.ListPracticesResponse:
        return self._call(
            self.stub.ListPractices, pb.ListPracticesRequest(model=model, axis=axis, level=level)
        )

    def rule_base_info(self) -> pb.GetRuleBaseInfoResponse:
        return self._call(self.stub.GetRuleBaseInfo, pb.GetRuleBaseInfoRequest())

    def reload_rule_base(self) -> pb.ReloadRuleBaseResponse:
        return self._call(self.admin.ReloadRuleBase, pb.ReloadRuleBaseRequest())
