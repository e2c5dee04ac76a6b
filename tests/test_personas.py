"""Personas: realistic organisations, and what a consultant presenting their roadmap to
a CIO would insist on, each claim grounded in a verbatim seed passage.

Each file in tests/personas/ is one organisation (an assessment in proto3 JSON form,
written as YAML) and 3-5 properties: a claim, the seed passage behind it, and what must
hold of the roadmap (the vocabulary of tests/expectations.py). One test per property.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from contract.convert import assessment_from_proto
from engine.sources import normalise
from tests.expectations import check_roadmap

if TYPE_CHECKING:
    from engine.results import Roadmap
    from engine.roadmap import RoadmapEngine

PERSONAS = sorted(Path(__file__).with_name("personas").glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    persona: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return persona


PROPERTIES = [
    pytest.param(path, n, id=f"{path.stem}:{n + 1}")
    for path in PERSONAS
    for n in range(len(_load(path)["properties"]))
]

_roadmaps: dict[Path, Roadmap] = {}


def _roadmap(engine: RoadmapEngine, path: Path) -> Roadmap:
    if path not in _roadmaps:
        message = json_format.ParseDict(_load(path)["assessment"], pb.Assessment())
        _roadmaps[path] = engine.roadmap(assessment_from_proto(message))
    return _roadmaps[path]


@pytest.mark.parametrize(("path", "n"), PROPERTIES)
def test_persona_property(engine: RoadmapEngine, path: Path, n: int) -> None:
    prop = _load(path)["properties"][n]
    check_roadmap(_roadmap(engine, path), prop["expect"])


def test_the_suite_covers_enough_organisations() -> None:
    assert len(PERSONAS) >= 8
    for path in PERSONAS:
        persona = _load(path)
        assert 3 <= len(persona["properties"]) <= 5, path.name
        for prop in persona["properties"]:
            assert prop["claim"].strip(), path.name
            assert prop["quote"].strip(), path.name
            assert prop["expect"], path.name


def test_every_claim_quotes_its_seed_verbatim(seeds: Path) -> None:
    texts = {p.name: normalise(p.read_text(encoding="utf-8")) for p in seeds.glob("*.txt")}
    misquoted = [
        f"{path.name}: {prop['quote'][:60]}"
        for path in PERSONAS
        for prop in _load(path)["properties"]
        if normalise(prop["quote"]) not in texts.get(prop["seed"], "")
    ]
    assert misquoted == []
