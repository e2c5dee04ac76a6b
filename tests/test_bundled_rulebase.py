"""The bundled rule base: the models, the ids callers depend on, the prerequisites the
seeds state, and citations that are verbatim passages of the seeds."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest

from engine import rulefiles
from engine.rulebase import BUNDLED_RULES, load_rulebase
from engine.sources import cited, normalise, verify_quotes

if TYPE_CHECKING:
    from pathlib import Path

    from engine.model import RuleBase

#: Ids callers reference (issue 2): a contract, never renamed.
CONTRACT_IDS = [
    "infrastructure-as-code",
    "immutable-infrastructure",
    "test-driven-development",
    "continuous-integration",
    "automated-regression-testing",
    "automated-load-testing",
    "rollback-practices",
    "continuous-deployment",
    "dependency-vulnerability-scanning",
    "service-catalog",
    "supplier-contract-management",
    "knowledge-base",
    "self-service-portal",
    "peer-to-peer-support",
    "outsourcing-evaluation",
    "warranty-requirements-in-backlog",
]

#: (later, earlier): the seeds say `earlier` must come before `later`.
STATED_PREREQUISITES = [
    ("immutable-infrastructure", "infrastructure-as-code"),
    ("peer-to-peer-support", "self-service-portal"),
    ("peer-to-peer-support", "knowledge-base"),
    ("outsourcing-evaluation", "service-catalog"),
    ("outsourcing-evaluation", "outsourcing-evaluation-criteria"),
    ("outsourcing-evaluation", "service-cost-performance-metrics"),
    ("continuous-deployment", "automated-regression-testing"),
    ("continuous-deployment", "automated-load-testing"),
    ("continuous-deployment", "rollback-practices"),
]


def prerequisites_of(rulebase: RuleBase, practice_id: str) -> set[str]:
    """Transitive closure of `requires`."""
    seen: set[str] = set()
    stack = list(rulebase.practices[practice_id].requires)
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(rulebase.practices[current].requires)
    return seen


def test_models_have_the_ids_levels_and_axes_of_the_seeds(bundled: RuleBase) -> None:
    models = bundled.models
    assert sorted(models) == ["agile-itil", "devsecops", "high-performing-it", "itsm"]
    assert models["devsecops"].max_level == 6
    assert models["devsecops"].axis_ids() == (
        "organizational-traits",
        "feature-delivery",
        "automation",
        "testing",
        "security",
        "monitoring",
        "operations",
    )
    assert models["itsm"].max_level == 5
    assert len(models["high-performing-it"].axes) == 7
    assert not models["high-performing-it"].has_levels
    assert len(models["agile-itil"].axes) == 6
    assert not models["agile-itil"].has_levels


def test_practice_count_is_in_the_planned_range(bundled: RuleBase) -> None:
    assert 80 <= len(bundled.practices) <= 150
    per_model = Counter(p.model for p in bundled.practices.values())
    assert all(count >= 10 for count in per_model.values()), per_model


def test_every_levelled_axis_level_is_covered_from_level_two(bundled: RuleBase) -> None:
    # Level 1 of both levelled models is the baseline (nothing adopted yet).
    for model_id in ("devsecops", "itsm"):
        model = bundled.models[model_id]
        levels = {p.level for p in bundled.practices_of(model_id)}
        assert levels == set(range(2, model.max_level + 1)), (model_id, levels)


@pytest.mark.parametrize("practice_id", CONTRACT_IDS)
def test_contract_ids_exist(bundled: RuleBase, practice_id: str) -> None:
    assert practice_id in bundled.practices


@pytest.mark.parametrize(("later", "earlier"), STATED_PREREQUISITES)
def test_prerequisites_stated_by_the_seeds_hold(
    bundled: RuleBase, later: str, earlier: str
) -> None:
    assert earlier in prerequisites_of(bundled, later)


def test_context_and_outsourcing_rules_cover_what_the_seeds_state(bundled: RuleBase) -> None:
    rule_ids = {rule.id for rule in bundled.context_rules}
    assert {
        "external-user-base-devsecops-first",
        "internal-user-base-itsm-first",
        "keep-the-lights-on-above-average",
        "critical-keep-the-lights-on-share",
        "morale-may-decline",
        "continuous-deployment-with-sprint-cab-approval",
        "high-staff-turnover",
        "self-service-below-high-performers",
        "self-service-at-typical-level",
        "continuous-deployment-without-regression-tests",
    } <= rule_ids
    assert bundled.outsourcing is not None
    decisions = {rule.recommendation.value for rule in bundled.outsourcing.rules}
    assert decisions | {bundled.outsourcing.fallback.value} == {
        "decommission",
        "outsource",
        "retender",
        "retain",
        "invest",
        "review",
    }
    assert "service-catalog" in bundled.outsourcing.provisional_unless_adopted


def test_every_entry_cites_a_seed_passage_or_says_why_it_is_ours(bundled: RuleBase) -> None:
    for _, entry, source in cited(bundled):
        assert source.quote or source.addition, entry
        if source.quote:
            assert source.seed, entry
            assert source.section, entry


def test_every_quote_is_verbatim_in_its_seed(bundled: RuleBase, seeds: Path) -> None:
    quotes = [s for _, _, s in cited(bundled) if s.quote]
    assert len(quotes) > len(bundled.practices)  # practices, rules and models all cite
    assert verify_quotes(bundled, seeds) == []


def test_quote_check_catches_a_paraphrase(bundled: RuleBase, seeds: Path, tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    copy.mkdir()
    for path in BUNDLED_RULES.glob("*.yaml"):
        (copy / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    original = "Infrastructure as code beginning to automate software deployment."
    devsecops = copy / "devsecops.yaml"
    text = devsecops.read_text(encoding="utf-8")
    assert original in text
    devsecops.write_text(
        text.replace(original, "Infrastructure as code starts to automate deployments.")
    )
    citing = [entry for _, entry, source in cited(bundled) if source.quote == original]
    assert "practice 'infrastructure-as-code'" in citing
    problems = verify_quotes(load_rulebase(copy), seeds)
    assert [p.entry for p in problems] == citing
    assert normalise("a \n  b") == "a b"


def test_digest_depends_on_content_not_on_location(bundled: RuleBase, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    for path in BUNDLED_RULES.glob("*.yaml"):
        # Reflowing comments and blank lines keeps the content, and the digest.
        (copy / path.name).write_text("# moved\n\n" + path.read_text(encoding="utf-8"))
    assert load_rulebase(copy).digest == bundled.digest
    manifest = copy / "rulebase.yaml"
    manifest.write_text(manifest.read_text().replace('version: "', 'version: "9'))
    assert load_rulebase(copy).digest != bundled.digest


def test_the_schema_validators_compiled_by_make_gen_are_used() -> None:
    """`make gen` compiles each rule-file schema's validator, so a server's start does not."""
    for path in sorted(rulefiles.SCHEMA_DIR.glob("*.schema.json")):
        assert rulefiles._generated_validator(path.name) is not None, path.name


def test_a_validator_compiled_from_another_schema_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rulefiles, "_schema_digest", lambda name: "0" * 64)
    assert rulefiles._generated_validator("rulefile.schema.json") is None
