"""The domain: rule base, assessments, levels, planning, outsourcing. Knows nothing of gRPC.

The names callers use are re-exported here, so ``from engine import RoadmapEngine,
load_rulebase, Assessment`` is the whole public surface. They are loaded on first use:
importing one light module (``engine.assessment``, say) does not pull in the rule
engine, YAML or JSON Schema.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.assessment import (
        Assessment,
        Grade,
        Metrics,
        PracticeStatus,
        Service,
        Sourcing,
        Target,
        UserBase,
    )
    from engine.errors import (
        AssessmentError,
        ContainmentError,
        EngineBusyError,
        EngineCrashedError,
        EngineTimeoutError,
        EvaluationError,
        FieldViolation,
        InputRefusedError,
        Problem,
        RoadmapError,
        RuleBaseError,
    )
    from engine.model import Model, Practice, Recommendation, RuleBase, Status
    from engine.results import (
        Comparison,
        Explanation,
        ModelLevel,
        PortfolioSummary,
        Reason,
        Roadmap,
        RoadmapWarning,
        ServiceRecommendation,
        Step,
    )
    from engine.roadmap import RoadmapEngine
    from engine.rulebase import BUNDLED_RULES, load_rulebase

_WHERE = {
    "engine.assessment": (
        "Assessment",
        "Grade",
        "Metrics",
        "PracticeStatus",
        "Service",
        "Sourcing",
        "Target",
        "UserBase",
    ),
    "engine.errors": (
        "AssessmentError",
        "ContainmentError",
        "EngineBusyError",
        "EngineCrashedError",
        "EngineTimeoutError",
        "EvaluationError",
        "FieldViolation",
        "InputRefusedError",
        "Problem",
        "RoadmapError",
        "RuleBaseError",
    ),
    "engine.model": ("Model", "Practice", "Recommendation", "RuleBase", "Status"),
    "engine.results": (
        "Comparison",
        "Explanation",
        "ModelLevel",
        "PortfolioSummary",
        "Reason",
        "Roadmap",
        "ServiceRecommendation",
        "Step",
        "RoadmapWarning",
    ),
    "engine.roadmap": ("RoadmapEngine",),
    "engine.rulebase": ("BUNDLED_RULES", "load_rulebase"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "BUNDLED_RULES",
    "Assessment",
    "AssessmentError",
    "Comparison",
    "ContainmentError",
    "EngineBusyError",
    "EngineCrashedError",
    "EngineTimeoutError",
    "EvaluationError",
    "Explanation",
    "FieldViolation",
    "Grade",
    "InputRefusedError",
    "Metrics",
    "Model",
    "ModelLevel",
    "PortfolioSummary",
    "Practice",
    "PracticeStatus",
    "Problem",
    "Reason",
    "Recommendation",
    "Roadmap",
    "RoadmapEngine",
    "RoadmapError",
    "RoadmapWarning",
    "RuleBase",
    "RuleBaseError",
    "Service",
    "ServiceRecommendation",
    "Sourcing",
    "Status",
    "Step",
    "Target",
    "UserBase",
    "load_rulebase",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(import_module(module), name)
