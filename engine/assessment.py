"""What a unit tells us about itself, and the checks that make it usable.

Validation returns every problem with the path of the field it concerns, in the
shape of the gRPC contract (``practices[3].practice_id``), so the service can hand
them to the caller as field violations.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from engine.errors import AssessmentError, FieldViolation, Path, closest, quoted
from engine.model import Status

if TYPE_CHECKING:
    from engine.model import RuleBase

#: Size limits: an assessment over them is refused, not truncated.
MAX_UNIT_ID_LENGTH = 256
#: A practice id, a target's model or a service id (rule-base ids are far shorter).
MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 512  # a service's name
MAX_PRACTICE_STATUSES = 10_000
MAX_SERVICES = 2_000
MAX_TARGETS = 64
MAX_ANNUAL_COST = 1e12
MAX_HORIZON_MONTHS = 120


class _Add(Protocol):
    def __call__(self, path: Path, description: str, suggestion: str | None = None) -> None: ...


class UserBase(StrEnum):
    UNSPECIFIED = "unspecified"
    EXTERNAL_HOMOGENEOUS = "external-homogeneous"
    INTERNAL_COMPLEX = "internal-complex"


class Grade(StrEnum):
    """Low/medium/high scale of a service's differentiation and criticality."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Sourcing(StrEnum):
    """How a service is sourced today."""

    IN_HOUSE = "in-house"
    #: run by a third party under contract (managed service, outsourced hosting)
    OUTSOURCED = "outsourced"
    #: bought as software or infrastructure as a service (public cloud included)
    SAAS = "saas"


@dataclass(frozen=True, slots=True)
class PracticeStatus:
    practice_id: str
    status: Status | None  # None: the caller did not say (an error)
    progress: float = 0.0  # 0..1, meaningful for PARTIAL


@dataclass(frozen=True, slots=True)
class Metrics:
    """Operating metrics as fractions 0..1; None means unknown."""

    keep_the_lights_on_share: float | None = None
    staff_turnover_rate: float | None = None
    self_service_share: float | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Reach ``level`` of ``model``; for a model without levels, level 0 means all of it."""

    model: str
    level: int


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    annual_cost: float
    live_requirement: bool | None = None
    differentiation: Grade | None = None
    commodity_available: bool | None = None
    criticality: Grade | None = None
    sourcing: Sourcing | None = None  # None: unknown
    contract_end_date: str = ""  # YYYY-MM-DD when the current contract ends; "" unknown
    transition_cost: float = 0.0  # one-off cost of following a recommendation


@dataclass(frozen=True, slots=True)
class Assessment:
    unit_id: str
    practices: tuple[PracticeStatus, ...] = ()
    user_base: UserBase = UserBase.UNSPECIFIED
    metrics: Metrics = field(default_factory=Metrics)
    targets: tuple[Target, ...] = ()
    wave_capacity: int | None = None
    services: tuple[Service, ...] = ()
    horizon_months: int | None = None
    #: Problems found reading the input message before it became this value (an enum
    #: number the contract does not define); validation reports them first.
    unreadable: tuple[FieldViolation, ...] = field(default=(), compare=False)

    def statuses(self) -> dict[str, PracticeStatus]:
        """Practice id to its status; practices not listed are not started."""
        return {p.practice_id: p for p in self.practices}


#: Which of two statuses of merged twins stands for both: the most advanced.
_ADVANCE = {
    None: 0,
    Status.NOT_STARTED: 1,
    Status.NOT_APPLICABLE: 2,
    Status.PARTIAL: 3,
    Status.ADOPTED: 4,
}


def resolve_aliases(assessment: Assessment, rulebase: RuleBase) -> Assessment:
    """The assessment with retired practice ids replaced by the practices they were
    merged into. A unit that lists both twins (as assessments written before the merge
    do) has the more advanced status of the two: adopting either satisfies the merged
    practice."""
    aliases = rulebase.aliases
    if not aliases or aliases.keys().isdisjoint([p.practice_id for p in assessment.practices]):
        return assessment
    merged: dict[str, PracticeStatus] = {}
    for status in assessment.practices:
        pid = rulebase.canonical(status.practice_id)
        candidate = (
            status
            if pid == status.practice_id
            else PracticeStatus(pid, status.status, status.progress)
        )
        if (held := merged.get(pid)) is None or (
            _ADVANCE[candidate.status],
            candidate.progress,
        ) > (_ADVANCE[held.status], held.progress):
            merged[pid] = candidate
    return replace(assessment, practices=tuple(merged.values()))


def _fraction_problem(value: float) -> str | None:
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        return f"must be a fraction between 0 and 1, got {value}"
    return None


#: A date as written YYYY-MM-DD in ASCII digits: checked without strptime (costly),
#: which is asked only about anything else.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _date_problem(value: str) -> str | None:
    if _ISO_DATE.fullmatch(value):
        try:
            datetime.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            pass  # strptime says why below
        else:
            return None
    try:
        datetime.datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return f"must be a date written YYYY-MM-DD, got {quoted(value)}"
    if len(value) != len("YYYY-MM-DD"):  # strptime takes 2027-1-5 too
        return f"must be a date written YYYY-MM-DD, got {quoted(value)}"
    return None


def _too_long(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"must be at most {limit:,} characters, got {len(value):,}"
    return None


def validate(assessment: Assessment, rulebase: RuleBase) -> list[FieldViolation]:
    """Every problem of the assessment against the rule base, in field order; what the
    input message could not state comes first, and is the only problem of its field."""
    problems: list[FieldViolation] = list(assessment.unreadable)
    said = {v.path for v in problems}

    def add(path: Path, description: str, suggestion: str | None = None) -> None:
        if path not in said:
            problems.append(FieldViolation(path, description, suggestion))

    if not assessment.unit_id.strip():
        add(("unit_id",), "must not be empty")
    elif problem := _too_long(assessment.unit_id, MAX_UNIT_ID_LENGTH):
        add(("unit_id",), problem)

    if len(assessment.practices) > MAX_PRACTICE_STATUSES:
        add(
            ("practices",),
            f"too many items: {len(assessment.practices)} (at most {MAX_PRACTICE_STATUSES})",
        )
    else:
        _validate_practices(assessment, rulebase, add)

    for name in ("keep_the_lights_on_share", "staff_turnover_rate", "self_service_share"):
        value = getattr(assessment.metrics, name)
        if value is not None and (problem := _fraction_problem(value)):
            add(("metrics", name), problem)

    if len(assessment.targets) > MAX_TARGETS:
        add(("targets",), f"too many items: {len(assessment.targets)} (at most {MAX_TARGETS})")
    else:
        _validate_targets(assessment, rulebase, add)

    if assessment.wave_capacity is not None and assessment.wave_capacity < 1:
        add(
            ("wave_capacity",),
            f"must be at least 1 effort point when set, got {assessment.wave_capacity}",
        )

    if assessment.horizon_months is not None and not (
        3 <= assessment.horizon_months <= MAX_HORIZON_MONTHS
    ):
        add(
            ("horizon_months",),
            f"must be between 3 and {MAX_HORIZON_MONTHS} months when set, "
            f"got {assessment.horizon_months}",
        )

    if len(assessment.services) > MAX_SERVICES:
        add(("services",), f"too many items: {len(assessment.services)} (at most {MAX_SERVICES})")
    else:
        _validate_services(assessment, add)
    return problems


def _validate_practices(assessment: Assessment, rulebase: RuleBase, add: _Add) -> None:
    seen: dict[str, int] = {}
    for index, status in enumerate(assessment.practices):
        path: Path = ("practices", index)
        if not status.practice_id:
            add((*path, "practice_id"), "must not be empty")
        elif problem := _too_long(status.practice_id, MAX_ID_LENGTH):
            add((*path, "practice_id"), problem)
        elif not rulebase.knows(status.practice_id):
            add(
                (*path, "practice_id"),
                f"unknown practice {quoted(status.practice_id)}",
                closest(status.practice_id, rulebase.practices),
            )
        elif status.practice_id in seen:
            first = seen[status.practice_id]
            add(
                (*path, "practice_id"),
                f"duplicate of practices[{first}]: {quoted(status.practice_id)} is listed twice",
            )
        else:
            seen[status.practice_id] = index
        if status.status is None:
            add((*path, "adoption"), "must be set (ADOPTED, PARTIAL or NOT_APPLICABLE)")
        if not 0.0 <= status.progress <= 1.0 and (problem := _fraction_problem(status.progress)):
            add((*path, "progress"), problem)


def _validate_targets(assessment: Assessment, rulebase: RuleBase, add: _Add) -> None:
    seen: dict[str, int] = {}
    for index, target in enumerate(assessment.targets):
        path: Path = ("targets", index)
        model = rulebase.models.get(target.model)
        if problem := _too_long(target.model, MAX_ID_LENGTH):
            add((*path, "model"), problem)
            continue
        if model is None:
            known = ", ".join(rulebase.models)
            add((*path, "model"), f"unknown model {quoted(target.model)} (known: {known})")
            continue
        if target.model in seen:
            add(
                (*path, "model"),
                f"duplicate of targets[{seen[target.model]}]: one target per model",
            )
        else:
            seen[target.model] = index
        if model.has_levels and not 1 <= target.level <= model.max_level:
            add(
                (*path, "level"),
                f"must be between 1 and {model.max_level} for model '{model.id}', got {target.level}",
            )
        elif not model.has_levels and target.level != 0:
            add(
                (*path, "level"),
                f"model '{model.id}' has no levels: leave level unset (0) to target all of it",
            )


def _validate_services(assessment: Assessment, add: _Add) -> None:
    seen: dict[str, int] = {}
    for index, service in enumerate(assessment.services):
        path: Path = ("services", index)
        if not service.id.strip():
            add((*path, "id"), "must not be empty")
        elif problem := _too_long(service.id, MAX_ID_LENGTH):
            add((*path, "id"), problem)
        elif service.id in seen:
            add((*path, "id"), f"duplicate of services[{seen[service.id]}]: {quoted(service.id)}")
        else:
            seen[service.id] = index
        if problem := _too_long(service.name, MAX_NAME_LENGTH):
            add((*path, "name"), problem)
        if math.isnan(service.annual_cost) or math.isinf(service.annual_cost):
            add((*path, "annual_cost"), f"must be a finite amount, got {service.annual_cost}")
        elif not 0 <= service.annual_cost <= MAX_ANNUAL_COST:
            add(
                (*path, "annual_cost"),
                f"must be between 0 and {MAX_ANNUAL_COST:.0f}, got {service.annual_cost}",
            )
        if service.contract_end_date and (problem := _date_problem(service.contract_end_date)):
            add((*path, "contract_end_date"), problem)
        if not math.isfinite(service.transition_cost) or not (
            0 <= service.transition_cost <= MAX_ANNUAL_COST
        ):
            add(
                (*path, "transition_cost"),
                f"must be a finite amount between 0 and {MAX_ANNUAL_COST:.0f}, "
                f"got {service.transition_cost}",
            )


def check(assessment: Assessment, rulebase: RuleBase) -> None:
    """Raise :class:`AssessmentError` with every violation, if there is any."""
    if problems := validate(assessment, rulebase):
        raise AssessmentError(problems)
