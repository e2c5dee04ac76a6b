"""Shared fixtures: where the repository, the bundled rule base and the seeds are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.model import RuleBase
from engine.roadmap import RoadmapEngine
from engine.rulebase import BUNDLED_RULES, load_rulebase

REPO = Path(__file__).resolve().parent.parent
#: The seed articles live beside the clone (../shared/seeds), never in it.
SEEDS = Path(os.environ.get("ROADMAP_SEEDS", REPO.parent / "shared" / "seeds"))


@pytest.fixture(scope="session")
def bundled() -> RuleBase:
    return load_rulebase(BUNDLED_RULES)


@pytest.fixture(scope="session")
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS} (set ROADMAP_SEEDS): quotes not checked")
    return SEEDS


@pytest.fixture(scope="session")
def engine(bundled: RuleBase) -> RoadmapEngine:
    # One per session: durable-rules never frees a registered ruleset.
    return RoadmapEngine(bundled)
