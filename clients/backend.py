"""Where the command line gets its answers: the local engine or a server.

Both backends answer with the contract's messages and fail with the same
:class:`~clients.client.ServiceError`, so commands and renderers never care which one
they talk to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

import grpc
from roadmap.v1 import roadmap_pb2 as pb

from clients.client import RoadmapClient, ServiceError
from contract.convert import (
    assessment_from_proto,
    comparison_to_proto,
    explanation_to_proto,
    practice_to_proto,
    roadmap_to_proto,
)
from engine.errors import AssessmentError, FieldViolation
from engine.roadmap import RoadmapEngine

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.model import RuleBase


Answer = TypeVar("Answer")


class Backend(Protocol):
    def roadmap(self, assessment: pb.Assessment) -> pb.GetRoadmapResponse: ...

    def compare(
        self, before: pb.Assessment, after: pb.Assessment
    ) -> pb.CompareAssessmentsResponse: ...

    def explain(
        self, practice_id: str, assessment: pb.Assessment
    ) -> pb.ExplainPracticeResponse: ...

    def practices(self, model: str) -> pb.ListPracticesResponse: ...


def _invalid(error: AssessmentError, *prefix: str) -> ServiceError:
    """What the server would answer: paths from the request, the hint in the description."""
    violations = tuple(FieldViolation((*prefix, *v.path), v.message) for v in error.violations)
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, str(error), violations)


class LocalBackend:
    """The engine in this process, on a rule base directory."""

    def __init__(self, rulebase: RuleBase) -> None:
        self.rulebase = rulebase
        self.engine = RoadmapEngine(rulebase)

    def _run(self, work: Callable[[], Answer], *prefix: str) -> Answer:
        try:
            return work()
        except AssessmentError as error:
            raise _invalid(error, *prefix) from None

    def roadmap(self, assessment: pb.Assessment) -> pb.GetRoadmapResponse:
        roadmap = self._run(
            lambda: self.engine.roadmap(assessment_from_proto(assessment)), "assessment"
        )
        return roadmap_to_proto(roadmap, self.rulebase)

    def compare(self, before: pb.Assessment, after: pb.Assessment) -> pb.CompareAssessmentsResponse:
        comparison = self._run(
            lambda: self.engine.compare(assessment_from_proto(before), assessment_from_proto(after))
        )
        return comparison_to_proto(comparison, self.rulebase)

    def explain(self, practice_id: str, assessment: pb.Assessment) -> pb.ExplainPracticeResponse:
        explanation = self._run(
            lambda: self.engine.explain(practice_id, assessment_from_proto(assessment))
        )
        return explanation_to_proto(explanation, self.rulebase)

    def practices(self, model: str) -> pb.ListPracticesResponse:
        if problems := self.rulebase.selection_problems(model):
            raise _invalid(AssessmentError(problems))
        chosen = self.rulebase.select(model)
        return pb.ListPracticesResponse(practices=[practice_to_proto(p) for p in chosen])


class RemoteBackend:
    """A server, through the Python client."""

    def __init__(self, client: RoadmapClient) -> None:
        self.client = client

    def roadmap(self, assessment: pb.Assessment) -> pb.GetRoadmapResponse:
        return self.client.get_roadmap(assessment)

    def compare(self, before: pb.Assessment, after: pb.Assessment) -> pb.CompareAssessmentsResponse:
        return self.client.compare(before, after)

    def explain(self, practice_id: str, assessment: pb.Assessment) -> pb.ExplainPracticeResponse:
        return self.client.explain(practice_id, assessment)

    def practices(self, model: str) -> pb.ListPracticesResponse:
        return self.client.list_practices(model=model)
