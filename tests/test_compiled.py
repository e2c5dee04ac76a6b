"""The durable-rules side: limits by construction, integrity, threads, memory, scale."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings

from bench.synthetic import generate
from engine import driver
from engine.assessment import Assessment, Metrics, PracticeStatus, Service
from engine.compiled import CompiledRules, Facts
from engine.conditions import evaluate
from engine.errors import EvaluationError
from engine.facts import service_facts
from engine.limits import MAX_TESTS_PER_RULESET, durable_test_count
from engine.model import Status
from engine.roadmap import RoadmapEngine
from engine.rulebase import load_rulebase
from tests import reference
from tests.states import StateProbe, held
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
    assert isinstance(rules, CompiledRules)
    assert rules.shard_count > 10  # 162 context rules need many rulesets
    for shard in rules.layout.context_shards:
        members = [r for r in SYNTHETIC.context_rules if r.id in shard.rule_ids]
        assert 1 + sum(durable_test_count(r.when) for r in members) <= MAX_TESTS_PER_RULESET
        # Facts carry only the fields their shard's rules test.
        assert len(shard.fields) <= MAX_TESTS_PER_RULESET


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assessments(SYNTHETIC))
def test_sharded_rules_agree_with_the_reference_at_1000_practices(assessment: Assessment) -> None:
    probe = StateProbe(SYNTHETIC_ENGINE.rules)
    fired = SYNTHETIC_ENGINE.rules.evaluate(assessment).fired
    assert list(fired) == reference.fired_context_rules(SYNTHETIC, assessment)
    assert probe.evaluations() == 1
    assert probe.held() == []


def test_a_fact_the_engine_drops_is_an_error_not_a_wrong_answer(bundled: RuleBase) -> None:
    rules = CompiledRules(bundled)
    # durable-rules' parser stops at an exponent without a decimal point (1e-07), drops
    # the rest of the batch and reports success. The driver never writes one; written
    # past it, straight into the batch as here, it is still caught by the sink's count.
    fact = driver.properties(
        rules.layout.service_shards[0].keys, service_facts(Service("a", "A", 100.0), 200.0)
    )
    with driver.LOCK, pytest.raises(EvaluationError, match=r"dropped facts \[1, 2\]"):
        rules.rulesets[-1].fire("dropped", [fact, fact + ', "f99": 1e-07', fact])
    assert held(rules, ["dropped"]) == []
    # The next evaluation is unaffected.
    unit = Assessment(unit_id="after", services=(Service("a", "A", 100.0),))
    assert [list(m) for m in rules.evaluate(unit).matched] == (
        reference.matched_outsourcing_rules(bundled, unit.services)
    )


def test_numbers_of_any_size_reach_the_engine_exactly(engine: RoadmapEngine) -> None:
    rules = engine.rules
    probe = StateProbe(rules)
    tiny = Service("tiny", "Tiny", 5e-324, live_requirement=None)
    huge = Service("huge", "Huge", 1e17, live_requirement=True, commodity_available=True)
    unit = Assessment(
        unit_id="u",
        metrics=Metrics(
            keep_the_lights_on_share=1e-07, staff_turnover_rate=0.99999, self_service_share=3e-5
        ),
        services=(tiny, huge),
    )
    conclusions = rules.evaluate(unit)
    assert list(conclusions.fired) == reference.fired_context_rules(engine.rulebase, unit)
    assert [list(m) for m in conclusions.matched] == reference.matched_outsourcing_rules(
        engine.rulebase, [tiny, huge]
    )
    # Unquantised facts (facts.py rounds; a caller of fire() need not): the answer is the
    # conditions' own meaning over exactly these values.
    assert isinstance(rules, CompiledRules)
    context = rules.layout.context_fact(Assessment(unit_id="raw"))
    for value in (1e-07, 0.5 + 1e-12, 3.3e-300, 0.35999999999999):
        context = {f: value if f.startswith("metric:") else v for f, v in context.items()}
        got = rules.fire(Facts("raw", context, ())).fired
        expected = [r.id for r in engine.rulebase.context_rules if evaluate(r.when, context)]
        assert list(got) == expected, value
    assert probe.held() == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_number_the_engine_cannot_compare_is_refused_before_asserting(
    engine: RoadmapEngine, value: float
) -> None:
    rules = engine.rules
    assert isinstance(rules, CompiledRules)
    probe = StateProbe(rules)
    fact = service_facts(Service("a", "A", 100.0), 100.0) | {"service:cost_share": value}
    context = rules.layout.context_fact(Assessment(unit_id="u"))
    with pytest.raises(EvaluationError, match="not a finite number"):
        rules.fire(Facts("u", context, (fact,)))
    assert probe.held() == []


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
    probe = StateProbe(engine.rules)
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
    assert probe.evaluations() == 4 * 10 * 20
    assert probe.held() == []


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
    probe = StateProbe(engine.rules)
    before = rss_kib()
    for _ in range(1000):
        engine.roadmap(unit)
    after = rss_kib()
    assert after - before < 2048, (
        f"resident memory grew {after - before} KiB over 1,000 evaluations"
    )
    assert probe.held() == []
