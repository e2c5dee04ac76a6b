"""What the engine answers: levels, roadmap steps, outsourcing decisions, warnings.

Plain frozen values mirroring the gRPC contract's messages (``GetRoadmapResponse``
and friends); the server translates them field by field.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model import Recommendation, Status


@dataclass(frozen=True, slots=True)
class AxisLevel:
    axis: str
    level: int  # 0 for models without levels
    progress: float  # towards the next level, or coverage for models without levels


@dataclass(frozen=True, slots=True)
class ModelLevel:
    model: str
    level: int  # 0 for models without levels
    max_level: int  # 0 for models without levels
    progress: float
    axes: tuple[AxisLevel, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a step is in the roadmap or scores what it does: a rule and its source."""

    rule_id: str
    source: str
    amount: float
    text: str


@dataclass(frozen=True, slots=True)
class Step:
    practice_id: str
    title: str
    model: str
    axis: str
    level: int | None
    wave: int
    score: float
    effort: int
    reasons: tuple[Reason, ...]
    unlocks: tuple[str, ...]  # later steps that directly require this one
    requires: tuple[str, ...]  # earlier steps this one directly requires
    quarter: int = 0  # 1-based quarter of the horizon; 0 beyond it


@dataclass(frozen=True, slots=True)
class ServiceRecommendation:
    service_id: str
    recommendation: Recommendation
    estimated_annual_saving: float
    provisional: bool
    reasons: tuple[Reason, ...]
    transition_cost: float = 0.0
    net_first_year_saving: float = 0.0
    payback_months: float = 0.0  # 0: no transition cost, or nothing saved


@dataclass(frozen=True, slots=True)
class RoadmapWarning:
    code: str
    message: str
    practice_ids: tuple[str, ...]
    rule_id: str


@dataclass(frozen=True, slots=True)
class Roadmap:
    unit_id: str
    levels: tuple[ModelLevel, ...]
    steps: tuple[Step, ...]
    outsourcing: tuple[ServiceRecommendation, ...]
    warnings: tuple[RoadmapWarning, ...]
    rule_base_version: str
    rule_base_digest: str
    horizon_months: int = 0
    quarter_capacity: int = 0

    def step(self, practice_id: str) -> Step | None:
        return next((s for s in self.steps if s.practice_id == practice_id), None)


@dataclass(frozen=True, slots=True)
class Explanation:
    practice_id: str
    title: str
    status: Status
    in_roadmap: bool
    wave: int  # 0 when not in the roadmap
    score: float
    unmet_prerequisites: tuple[str, ...]  # every prerequisite not yet adopted, transitively
    beyond_target: bool  # not adopted, but neither wanted nor needed by a wanted step
    reasons: tuple[Reason, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class LevelChange:
    model: str
    before: int
    after: int
    progress_before: float
    progress_after: float


@dataclass(frozen=True, slots=True)
class Comparison:
    unit_id: str
    levels: tuple[LevelChange, ...]
    steps_completed: tuple[str, ...]  # steps of the earlier roadmap now adopted or not applicable
    steps_added: tuple[str, ...]  # steps of the later roadmap the earlier one did not have
    warnings_resolved: tuple[RoadmapWarning, ...]
    warnings_new: tuple[RoadmapWarning, ...]


@dataclass(frozen=True, slots=True)
class LevelCount:
    level: int
    units: int


@dataclass(frozen=True, slots=True)
class LevelDistribution:
    model: str
    counts: tuple[LevelCount, ...]


@dataclass(frozen=True, slots=True)
class Blocker:
    """An unmet prerequisite that holds back later steps in many units' roadmaps."""

    practice_id: str
    title: str
    units: int
    unit_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PortfolioSummary:
    units: int
    levels: tuple[LevelDistribution, ...]
    blockers: tuple[Blocker, ...]
