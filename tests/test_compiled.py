"""The durable-rules side: limits by construction, integrity, threads, memory, scale."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings

from bench.synthetic import generate
from engine.assessment import Assessment, Metrics, PracticeStatus, Service
from engine.compiled import CompiledRules, Facts
from engine.errors import EvaluationError
from engine.facts import service_facts
from engine.limits import MAX_TESTS_PER_RULESET, durable_test_count
from engine.model import Status
from engine.roadmap import RoadmapEngine
from engine.rulebase import load_rulebase
from tests import reference
from tests.strategies import assessments

if TYPE_CHECKING:
    from engine.model import RuleBase

SYNTHETIC = load_rulebase(generate(1000, Path(__file__).parent / ".cache" / "synthetic-1000"))
SYNTHETIC_ENGINE = RoadmapEngine(SYNTHETIC)


def rss_kib() -> int:
    with Path("/proc/self/status").open() as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_rulesets_stay_within_the_engine_limits() -> None:
    rules = SYNTHETIC_ENGINE.rules
    assert rules.shard_count > 10  # 162 context rules need many rulesets
    for shard in rules.layout.context_shards:
        members = [r for r in SYNTHETIC.context_rules if r.id in shard.rule_ids]
        assert 1 + sum(durable_test_count(r.when) for r in members) <= MAX_TESTS_PER_RULESET
        # Facts carry only the fields their shard's rules test.
        assert len(shard.fields) <= MAX_TESTS_PER_RULESET


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assessments(SYNTHETIC))
def test_sharded_rules_agree_with_the_reference_at_1000_practices(assessment: Assessment) -> None:
    assert SYNTHETIC_ENGINE.rules.context(assessment) == reference.fired_context_rules(
        SYNTHETIC, assessment
    )
    assert SYNTHETIC_ENGINE.rules.live_states() == 0


def test_a_fact_the_engine_drops_is_an_error_not_a_wrong_answer(bundled: RuleBase) -> None:
    rules = CompiledRules(bundled)
    # durable-rules' JSON parser rejects 1e-07; in a batch it drops the fact silently.
    good = service_facts(Service("a", "A", 100.0), 200.0)
    bad = service_facts(Service("b", "B", 100.0), 200.0) | {"service:annual_cost": 1e-07}
    context = rules.layout.facts(Assessment(unit_id="unit")).context
    facts = Facts("unit", context, (good, bad))
    with pytest.raises(EvaluationError, match="dropped facts"):
        rules.fire(facts)
    assert rules.live_states() == 0


def test_numbers_are_quantised_so_the_engine_can_parse_them(engine: RoadmapEngine) -> None:
    tiny = Service("tiny", "Tiny", 5e-324, live_requirement=None)
    huge = Service("huge", "Huge", 1e11, live_requirement=True, commodity_available=True)
    assert engine.rules.services([tiny, huge]) == reference.matched_outsourcing_rules(
        engine.rulebase, [tiny, huge]
    )
    metrics = Metrics(
        keep_the_lights_on_share=1e-07, staff_turnover_rate=0.99999, self_service_share=3e-5
    )
    unit = Assessment(unit_id="u", metrics=metrics)
    assert engine.rules.context(unit) == reference.fired_context_rules(engine.rulebase, unit)


def test_concurrent_evaluations_match_sequential_ones(engine: RoadmapEngine) -> None:
    units = [
        Assessment(
            unit_id=f"u{n}",
            practices=(PracticeStatus("continuous-deployment", Status.ADOPTED),) if n % 2 else (),
            metrics=Metrics(keep_the_lights_on_share=n / 20, self_service_share=1 - n / 20),
            services=(Service(f"s{n}", "S", 1000.0 * n, live_requirement=n % 3 == 0),),
        )
        for n in range(20)
    ]
    expected = [engine.roadmap(u) for u in units]
    results: dict[int, list[object]] = {}

    def work(worker: int) -> None:
        results[worker] = [engine.roadmap(u) for _ in range(10) for u in units]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got in results.values():
        assert got == expected * 10
    assert engine.rules.live_states() == 0


def test_a_thousand_evaluations_leave_memory_flat_and_no_state(engine: RoadmapEngine) -> None:
    unit = Assessment(
        unit_id="steady",
        practices=(PracticeStatus("continuous-deployment", Status.ADOPTED),),
        metrics=Metrics(0.6, 0.3, 0.2),
        services=tuple(
            Service(f"s{n}", "S", 1000.0 * (n + 1), live_requirement=n % 2 == 0) for n in range(20)
        ),
    )
    for _ in range(300):  # warm up allocator pools and caches
        engine.roadmap(unit)
    before = rss_kib()
    for _ in range(1000):
        engine.roadmap(unit)
    after = rss_kib()
    assert after - before < 2048, (
        f"resident memory grew {after - before} KiB over 1,000 evaluations"
    )
    assert engine.rules.live_states() == 0
