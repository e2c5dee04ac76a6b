"""Engine micro-benchmark: where an evaluation's time goes, in-process, no gRPC.

For the bundled rule base (reference assessment) and synthetic rule bases of 100,
1,000 and 10,000 practices: load and compile time, resident memory, and the median
time of rule evaluation (durable-rules: context rules + outsourcing rules) and of
planning (plain Python: levels, closure, scores, waves, outsourcing decisions). For
the bundled rule base also: the direct driver against durable's own ``Host``
(``bench/host.py``), interleaved in one process, and where one evaluation's time goes,
stage by stage (``stages``, which the service benchmark reports too). Every figure is a
median over repeated runs, measured side by side in one process; ratios matter more
than absolute numbers on a shared machine.

    python -m bench.engine_bench [--quick] [--json bench/results-engine.json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from bench.host import HostRules
from bench.synthetic import generate
from contract.convert import assessment_from_proto, roadmap_to_proto
from engine.assessment import (
    Assessment,
    Grade,
    Metrics,
    PracticeStatus,
    Service,
    UserBase,
    check,
    resolve_aliases,
)
from engine.compiled import CompiledRules, RuleEvaluator
from engine.levels import standings
from engine.model import RuleBase, Status
from engine.roadmap import build_roadmap
from engine.rulebase import BUNDLED_RULES, load_rulebase

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "clients" / "examples" / "reference-mid-maturity.json"


def rss_mib() -> float:
    with Path("/proc/self/status").open() as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def reference_assessment() -> Assessment:
    message = json_format.Parse(REFERENCE.read_text(encoding="utf-8"), pb.Assessment())
    return assessment_from_proto(message)


def synthetic_assessment(rulebase: RuleBase, seed: int = 1) -> Assessment:
    """A mid-maturity unit: the lower third of each model adopted, some partial work."""
    rng = random.Random(seed)  # noqa: S311  (reproducible benchmark input)
    practices = []
    for model in rulebase.models:
        own = rulebase.practices_of(model)
        for n, practice in enumerate(own):
            if n < len(own) // 3:
                practices.append(PracticeStatus(practice.id, Status.ADOPTED))
            elif rng.random() < 0.05:
                practices.append(
                    PracticeStatus(practice.id, Status.PARTIAL, round(rng.random(), 2))
                )
    services = tuple(
        Service(
            f"s{n}",
            f"Service {n}",
            float(rng.randint(10_000, 500_000)),
            live_requirement=rng.random() > 0.15,
            differentiation=rng.choice(list(Grade)),
            commodity_available=rng.random() > 0.4,
            criticality=rng.choice(list(Grade)),
        )
        for n in range(20)
    )
    return Assessment(
        unit_id="synthetic",
        practices=tuple(practices),
        user_base=UserBase.INTERNAL_COMPLEX,
        metrics=Metrics(0.58, 0.14, 0.41),
        wave_capacity=12,
        services=services,
    )


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 4)


def measure(rulebase: RuleBase, assessment: Assessment, runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    rules = CompiledRules(rulebase)
    compile_s = time.perf_counter() - started
    rule_times, plan_times = [], []
    for _ in range(max(3, runs // 10)):  # warm-up
        conclusions = rules.evaluate(assessment)
        build_roadmap(rulebase, assessment, conclusions.fired, conclusions.matched)
    for _ in range(runs):
        t0 = time.perf_counter()
        conclusions = rules.evaluate(assessment)
        t1 = time.perf_counter()
        evaluation = build_roadmap(rulebase, assessment, conclusions.fired, conclusions.matched)
        t2 = time.perf_counter()
        rule_times.append(t1 - t0)
        plan_times.append(t2 - t1)
    totals = [a + b for a, b in zip(rule_times, plan_times, strict=True)]
    return {
        "compile_s": round(compile_s, 4),
        "rulesets": rules.shard_count,
        "runs": runs,
        "rules_ms": median_ms(rule_times),
        "planning_ms": median_ms(plan_times),
        "total_ms": median_ms(totals),
        "p99_total_ms": round(sorted(totals)[int(0.99 * (len(totals) - 1))] * 1000, 4),
        "steps": len(evaluation.roadmap.steps),
        "context_rules_fired": len(conclusions.fired),
    }


def bench_rulebase(name: str, directory: Path, assessment_for: Any, runs: int) -> dict[str, Any]:
    rss_before = rss_mib()
    started = time.perf_counter()
    rulebase = load_rulebase(directory)
    load_s = time.perf_counter() - started
    assessment = assessment_for(rulebase)
    result: dict[str, Any] = {
        "rule_base": name,
        "practices": len(rulebase.practices),
        "context_rules": len(rulebase.context_rules),
        "load_s": round(load_s, 4),
        **measure(rulebase, assessment, runs),
    }
    result["rss_growth_mib"] = round(rss_mib() - rss_before, 1)
    return result


def interleaved(calls: dict[str, Any], rounds: int, block: int = 20) -> dict[str, float]:
    """Median ms of each zero-argument call, the calls taking turns in blocks."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # warm-up
        for _ in range(block):
            call()
    for _ in range(max(1, rounds // block)):
        for name, call in calls.items():
            for _ in range(block):
                t0 = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t0)
    return {name: median_ms(samples) for name, samples in times.items()}


def drivers(rulebase: RuleBase, assessment: Assessment, runs: int) -> dict[str, float]:
    """Rule evaluation through the direct driver and through durable's Host."""
    direct, host = CompiledRules(rulebase), HostRules(rulebase)
    if direct.evaluate(assessment) != host.evaluate(assessment):
        raise RuntimeError("the direct driver and the Host disagree")
    medians = interleaved(
        {"direct": lambda: direct.evaluate(assessment), "host": lambda: host.evaluate(assessment)},
        runs,
    )
    return {
        "direct_ms": medians["direct"],
        "host_ms": medians["host"],
        "speed_up": round(medians["host"] / medians["direct"], 2),
    }


def stage_calls(
    rulebase: RuleBase, rules: RuleEvaluator, messages: list[Any]
) -> dict[str, Callable[[], object]]:
    """One zero-argument call per stage of a GetRoadmap's engine work, each taking
    ``messages`` (``pb.Assessment``) in turn: conversion in and out, validation, rules,
    levels, and building the roadmap (levels included)."""
    units = [assessment_from_proto(m) for m in messages]
    resolved = [resolve_aliases(u, rulebase) for u in units]
    conclusions = [rules.evaluate(u) for u in resolved]
    built = [
        build_roadmap(rulebase, u, c.fired, c.matched).roadmap
        for u, c in zip(resolved, conclusions, strict=True)
    ]
    statuses = [u.statuses() for u in resolved]
    count = len(messages)
    turn = iter(range(1 << 62))

    def each(work: Callable[[int], object]) -> Callable[[], object]:
        return lambda: work(next(turn) % count)

    return {
        "convert_in": each(lambda n: assessment_from_proto(messages[n])),
        "validate": each(
            lambda n: (check(units[n], rulebase), resolve_aliases(units[n], rulebase))
        ),
        "rules": each(lambda n: rules.evaluate(resolved[n])),
        "levels": each(lambda n: standings(rulebase, statuses[n])),
        "build": each(
            lambda n: build_roadmap(
                rulebase, resolved[n], conclusions[n].fired, conclusions[n].matched
            )
        ),
        "convert_out": each(lambda n: roadmap_to_proto(built[n], rulebase)),
    }


def stage_summary(medians: dict[str, float]) -> dict[str, float]:
    """The stages as the breakdown names them, from the medians of ``stage_calls``."""
    return {
        "rules_ms": medians["rules"],
        "levels_ms": medians["levels"],
        "planning_ms": round(medians["build"] - medians["levels"] + medians["validate"], 4),
        "conversion_ms": round(medians["convert_in"] + medians["convert_out"], 4),
        "validation_ms": medians["validate"],
        "build_ms": medians["build"],
        "convert_in_ms": medians["convert_in"],
        "convert_out_ms": medians["convert_out"],
    }


def stages(
    rulebase: RuleBase, rules: RuleEvaluator, messages: list[Any], runs: int
) -> dict[str, float]:
    """Median ms of each stage (``stage_calls``), the stages taking turns."""
    return stage_summary(interleaved(stage_calls(rulebase, rules, messages), runs))


def lock_overhead_us(rounds: int = 200_000) -> float:
    """Median cost of the uncontended lock every evaluation takes, in microseconds."""
    lock = threading.Lock()
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            with lock:
                pass
        samples.append((time.perf_counter() - started) / rounds)
    return round(statistics.median(samples) * 1e6, 4)


def exponent(small: dict[str, Any], large: dict[str, Any], key: str) -> float:
    """Fitted growth exponent k in cost ~ size^k between two rule bases."""
    return round(
        math.log(large[key] / small[key]) / math.log(large["practices"] / small["practices"]), 2
    )


def reference_message() -> pb.Assessment:
    return json_format.Parse(REFERENCE.read_text(encoding="utf-8"), pb.Assessment())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke run)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results-engine.json")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    results = [
        bench_rulebase(
            "bundled", BUNDLED_RULES, lambda _: reference_assessment(), int(2000 * scale)
        )
    ]
    bundled = load_rulebase(BUNDLED_RULES)
    comparison = drivers(bundled, reference_assessment(), int(2000 * scale))
    breakdown = stages(bundled, CompiledRules(bundled), [reference_message()], int(2000 * scale))
    with tempfile.TemporaryDirectory() as tmp:
        for size, runs in ((100, 2000), (1000, 500), (10_000, 60)):
            directory = generate(size, Path(tmp) / f"synthetic-{size}")
            results.append(
                bench_rulebase(
                    f"synthetic-{size}", directory, synthetic_assessment, max(10, int(runs * scale))
                )
            )
    by_name = {r["rule_base"]: r for r in results}
    growth = {
        key: exponent(by_name["synthetic-1000"], by_name["synthetic-10000"], key)
        for key in ("rules_ms", "planning_ms", "total_ms")
    }
    lock_us = lock_overhead_us()
    report = {
        "results": results,
        "drivers": comparison,
        "stages": breakdown,
        "growth_exponent_1000_to_10000": growth,
        "lock_overhead_us": lock_us,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"{'rule base':<17}{'prac':>6}{'load s':>8}{'sets':>6}{'rules ms':>10}{'plan ms':>9}{'total ms':>10}{'p99 ms':>9}"
    )
    for r in results:
        print(
            f"{r['rule_base']:<17}{r['practices']:>6}{r['load_s']:>8.2f}{r['rulesets']:>6}"
            f"{r['rules_ms']:>10.3f}{r['planning_ms']:>9.3f}{r['total_ms']:>10.3f}{r['p99_total_ms']:>9.3f}"
        )
    print(f"growth exponent, 1,000 -> 10,000 practices: {growth}")
    print(
        f"rules, bundled: direct driver {comparison['direct_ms']:.3f} ms, durable's Host "
        f"{comparison['host_ms']:.3f} ms ({comparison['speed_up']}x), interleaved"
    )
    print(
        "stages, bundled reference (ms): "
        + ", ".join(f"{k[:-3]} {v:.3f}" for k, v in breakdown.items())
    )
    bundled_ms = results[0]["total_ms"]
    print(
        f"evaluation lock, uncontended: {lock_us} us ({lock_us / (bundled_ms * 1000):.4%} of a bundled evaluation)"
    )
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
