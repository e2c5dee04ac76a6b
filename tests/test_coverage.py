"""Seed coverage (issue 12): every seed item and stated ordering maps to the rule base.

The data is rules/coverage/seeds.yaml (its header explains the format). These tests
check that every id it names exists in the bundled rule base, that every ordering holds
as a transitive prerequisite, that enough items are encoded, and that every quote is a
verbatim passage of its seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.model import RequireEffect, RuleBase, ScoreEffect
from engine.rulebase import BUNDLED_RULES
from engine.sources import normalise

COVERAGE = BUNDLED_RULES / "coverage" / "seeds.yaml"
SEEDS = ("000", "001", "002")
MIN_ITEMS_ENCODED = 0.95

Entry = Mapping[str, Any]

_DATA: Mapping[str, list[Entry]] = yaml.safe_load(COVERAGE.read_text(encoding="utf-8"))
ITEMS: list[Entry] = _DATA["items"]
ORDERINGS: list[Entry] = _DATA["orderings"]


def _item_id(item: Entry) -> str:
    return f"{item['seed']}: {item['item']}"


def _ordering_id(ordering: Entry) -> str:
    rule = f" [{ordering['rule']}]" if "rule" in ordering else ""
    return f"{ordering['seed']}: {ordering['earlier']} before {ordering['later']}{rule}"


def known_ids(rulebase: RuleBase) -> set[str]:
    """Every id an item may name: practices, rules, models, their axes and levels."""
    ids = set(rulebase.practices)
    ids.update(rule.id for rule in rulebase.context_rules)
    if rulebase.outsourcing is not None:
        ids.update(rule.id for rule in rulebase.outsourcing.rules)
    for model in rulebase.models.values():
        ids.add(f"model:{model.id}")
        ids.update(f"model:{model.id}/axis:{axis.id}" for axis in model.axes)
        ids.update(f"model:{model.id}/level:{level.number}" for level in model.levels)
    return ids


def prerequisites(rulebase: RuleBase, start: str, extra: Iterable[RequireEffect] = ()) -> set[str]:
    """Everything `start` requires, directly or through others (plus a rule's `require`s)."""
    edges = {pid: set(practice.requires) for pid, practice in rulebase.practices.items()}
    for effect in extra:
        edges.setdefault(effect.practice, set()).update(effect.requires)
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(edges.get(current, ()))
    return seen


def model_boost(effects: Iterable[object], model: str) -> float:
    """Net whole-model score change (raise positive, lower negative) a rule gives `model`."""
    return sum(
        effect.amount
        for effect in effects
        if isinstance(effect, ScoreEffect) and effect.model == model and effect.axis is None
    )


def test_data_shape() -> None:
    seen: set[str] = set()
    for entry in ITEMS:
        assert entry["seed"] in SEEDS, _item_id(entry)
        assert entry["quote"].strip(), _item_id(entry)
        assert _item_id(entry) not in seen, f"duplicate item {_item_id(entry)}"
        seen.add(_item_id(entry))
        encoded, out = entry.get("encoded_by"), entry.get("out_of_scope")
        assert bool(encoded) != bool(out), f"{_item_id(entry)}: encoded_by xor out_of_scope"
    for entry in ORDERINGS:
        assert entry["seed"] in SEEDS, _ordering_id(entry)
        assert entry["quote"].strip(), _ordering_id(entry)
        assert entry["earlier"] != entry["later"], _ordering_id(entry)


def test_items_encoded_share() -> None:
    encoded = sum(1 for item in ITEMS if item.get("encoded_by"))
    assert encoded / len(ITEMS) >= MIN_ITEMS_ENCODED, f"{encoded}/{len(ITEMS)} items encoded"


@pytest.mark.parametrize("item", [i for i in ITEMS if i.get("encoded_by")], ids=_item_id)
def test_item_ids_exist(item: Entry, bundled: RuleBase) -> None:
    missing = sorted(set(item["encoded_by"]) - known_ids(bundled))
    assert not missing, f"{_item_id(item)}: unknown ids {missing}"


@pytest.mark.parametrize("ordering", ORDERINGS, ids=_ordering_id)
def test_ordering_holds(ordering: Entry, bundled: RuleBase) -> None:
    earlier, later = ordering["earlier"], ordering["later"]
    rule = None
    if "rule" in ordering:
        rules = {r.id: r for r in bundled.context_rules}
        assert ordering["rule"] in rules, f"unknown context rule {ordering['rule']}"
        rule = rules[ordering["rule"]]
    if earlier.startswith("model:"):
        assert rule is not None, "a model ordering names the rule that states it"
        first, second = earlier.removeprefix("model:"), later.removeprefix("model:")
        assert model_boost(rule.effects, first) > model_boost(rule.effects, second)
        return
    missing = sorted({earlier, later} - set(bundled.practices))
    assert not missing, f"unknown practices {missing}"
    extra = [e for e in rule.effects if isinstance(e, RequireEffect)] if rule else []
    assert earlier in prerequisites(bundled, later, extra), f"{later} does not require {earlier}"


@pytest.mark.parametrize("seed", SEEDS)
def test_quotes_verbatim(seed: str, seeds: Path) -> None:
    [path] = seeds.glob(f"{seed}_*.txt")
    text = normalise(path.read_text(encoding="utf-8"))
    entries = [e for e in (*ITEMS, *ORDERINGS) if e["seed"] == seed]
    wrong = [e["quote"] for e in entries if normalise(e["quote"]) not in text]
    assert not wrong, f"not verbatim in {path.name}: {wrong}"
