"""Work the server hands whole to its engine processes: a request's bytes in, the
answer's bytes out (``engine.isolated.Job``).

Run there, a GetRoadmap costs the server process only the bytes' trip through a pipe;
converting, validating, planning and building the answer run in the engine processes,
on as many cores as there are of them. Each job is what the call does in process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roadmap.v1 import roadmap_pb2 as pb

from contract.convert import assessment_from_proto, roadmap_to_proto

if TYPE_CHECKING:
    from engine.isolated import Job
    from engine.roadmap import RoadmapEngine

#: The jobs, by the name a caller asks for (``IsolatedRules.run``).
ROADMAP = "roadmap"


def roadmap_response(
    engine: RoadmapEngine, assessment: pb.Assessment, *, deadline: float | None = None
) -> pb.GetRoadmapResponse:
    """GetRoadmap's work, wherever it runs: in an engine process, or in the server's
    own when it has none."""
    roadmap = engine.roadmap(assessment_from_proto(assessment), deadline=deadline)
    return roadmap_to_proto(roadmap, engine.rulebase)


def roadmap(engine: RoadmapEngine, data: bytes) -> bytes:
    """The job: an ``Assessment``'s bytes in, its ``GetRoadmapResponse``'s bytes out."""
    return roadmap_response(engine, pb.Assessment.FromString(data)).SerializeToString()


JOBS: dict[str, Job] = {ROADMAP: roadmap}
