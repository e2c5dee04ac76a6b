"""The direct driver of durable-rules' C extension: agreement, return codes, the hazards."""

from __future__ import annotations

import itertools
import json
import math
import random
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import durable_rules_engine
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.host import HostRuleset, QuietHost
from engine import driver
from engine.assessment import (
    Assessment,
    Grade,
    Metrics,
    PracticeStatus,
    Service,
    Sourcing,
    UserBase,
)
from engine.compiled import CompiledRules, Facts
from engine.conditions import evaluate
from engine.conditions import tests as leaves
from engine.errors import EvaluationError
from engine.model import Status
from engine.rulebase import BUNDLED_RULES, load_rulebase
from tests import reference
from tests.conftest import REPO
from tests.states import StateProbe, held

if TYPE_CHECKING:
    from collections.abc import Iterator

RULEBASE = load_rulebase(BUNDLED_RULES)
RULES = CompiledRules(RULEBASE)
_names = itertools.count(1)


def examples(count: int) -> settings:
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


#: What the rules read, and only that.
TESTED = sorted(
    {t.name for r in RULEBASE.context_rules for t in leaves(r.when) if t.subject == "practice"}
)
#: Thresholds the bundled rules use, so conditions are hit on both sides of them.
EDGES = [0.0, 0.2, 0.36, 0.5, 0.57, 0.66, 0.71, 1.0]


def _fraction(rng: random.Random) -> float | None:
    return rng.choice([None, rng.choice(EDGES), rng.random()])


def rule_input(seed: int) -> Assessment:
    """A random assessment of what the rules read: built from one drawn seed, so that
    hundreds of examples take a second (hypothesis draws each value slowly)."""
    rng = random.Random(seed)
    statuses = []
    for pid in TESTED:
        status = rng.choice([None, *Status])
        if status is not None:
            progress = rng.choice(EDGES) if status is Status.PARTIAL else 0.0
            statuses.append(PracticeStatus(pid, status, progress))

    def maybe(values: list[Any]) -> Any:
        return rng.choice([None, *values])

    services = tuple(
        Service(
            f"s{n}",
            "service",
            rng.choice([0.0, rng.uniform(0, 2_000_000), float(rng.randint(1, 900) * 1000)]),
            live_requirement=maybe([True, False]),
            differentiation=maybe(list(Grade)),
            commodity_available=maybe([True, False]),
            criticality=maybe(list(Grade)),
            sourcing=maybe(list(Sourcing)),
        )
        for n in range(rng.randint(0, 8))
    )
    return Assessment(
        unit_id="unit",
        practices=tuple(statuses),
        user_base=rng.choice(list(UserBase)),
        metrics=Metrics(_fraction(rng), _fraction(rng), _fraction(rng)),
        services=services,
    )


rule_inputs = st.integers(0, 2**32 - 1).map(rule_input)


@pytest.fixture(scope="module")
def host_rulesets() -> list[HostRuleset]:
    """The same rulesets as RULES, registered with durable's own Host."""
    host = QuietHost()
    return [HostRuleset(host, ruleset) for ruleset in RULES.rulesets]


def batches(facts: Facts) -> Iterator[tuple[driver.Ruleset, list[str]]]:
    """Each ruleset of RULES with the fact texts CompiledRules.fire gives it."""
    layout = RULES.layout
    contexts = len(layout.context_shards)
    for shard, ruleset in zip(layout.context_shards, RULES.rulesets[:contexts], strict=True):
        yield ruleset, [driver.properties(shard.keys, facts.context)]
    for shard, ruleset in zip(layout.service_shards, RULES.rulesets[contexts:], strict=True):
        yield ruleset, [driver.properties(shard.keys, f) for f in facts.services]


@examples(600)
@given(rule_inputs)
def test_the_direct_driver_agrees_with_the_reference_evaluator(assessment: Assessment) -> None:
    probe = StateProbe(RULES)
    conclusions = RULES.evaluate(assessment)
    assert list(conclusions.fired) == reference.fired_context_rules(RULEBASE, assessment)
    assert [list(m) for m in conclusions.matched] == reference.matched_outsourcing_rules(
        RULEBASE, assessment.services
    )
    assert probe.held() == []


#: Any finite number, including what plain decimal cannot show briefly (1e-07, 1e+16).
numbers = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.2, 0.36, 0.5, 0.57, 0.66, 0.71, 1.0, 1e-07, 1e16, 5e-324]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**6), 10**6),
)


@examples(300)
@given(st.data())
def test_unrounded_numbers_reach_the_engine_exactly(data: st.DataObject) -> None:
    """fire() takes any finite number, not only facts.py's rounded ones."""
    context = RULES.layout.context_fact(data.draw(rule_inputs))
    for field in context:
        if field.startswith("metric:"):
            context[field] = data.draw(numbers, label=field)
    fired = RULES.fire(Facts("raw", context, ())).fired
    assert list(fired) == [r.id for r in RULEBASE.context_rules if evaluate(r.when, context)]


@examples(200)
@given(rule_inputs)
def test_the_direct_driver_fires_what_the_host_fires_in_the_same_order(
    host_rulesets: list[HostRuleset], assessment: Assessment
) -> None:
    facts = RULES.layout.facts(assessment)
    sid = f"host-{next(_names)}"
    for (ruleset, texts), host in zip(batches(facts), host_rulesets, strict=True):
        with driver.LOCK:
            direct = ruleset.fire(sid, texts)
            through_host = host.fire(sid, texts)
        assert direct == through_host, ruleset.name
        assert sorted(f for f, r in direct if r == ruleset.sink) == list(range(-1, len(texts)))
    assert held(RULES, [sid]) == []


def test_firing_messages_are_read_without_json_and_with_it() -> None:
    fast = '{"r3":{"m":{"i": 12, "sid": "7", "t": "s", "f20": "yes"}}}'
    found = driver._MESSAGE.match(fast)
    assert found is not None
    assert (int(found[2]), int(found[1])) == (12, 3)
    assert driver._read(fast) == (12, 3)
    # Another layout of the same message is read by the fallback.
    assert driver._read('{"r3": {"m": {"sid": "7", "i": 12}}}') == (12, 3)
    assert driver._MESSAGE.match('{"r3": {"m": {"sid": "7", "i": 12}}}') is None
    with pytest.raises(ValueError, match="unexpected firing message"):
        driver._read('{"x": {"m": {"i": 1}}}')


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.25, "0.25"),
        (1e-07, "0.0000000999999999999999954748"),  # the double's exact value
        (1e16, "10000000000000000.0"),
        (-2.5e-10, None),
        (3, "3.0"),
    ],
)
def test_numbers_are_written_exactly_without_exponents(value: float, text: str | None) -> None:
    written = driver.number(value)
    assert "e" not in written
    assert "." in written
    assert float(written) == value
    if text is not None:
        assert written.startswith(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_numbers_that_are_not_finite_are_refused(value: float) -> None:
    with pytest.raises(EvaluationError, match="not a finite number"):
        driver.number(value)


@pytest.fixture(scope="module")
def small() -> driver.Ruleset:
    """One rule (f0 below 0.5) and the sink."""
    return driver.Ruleset(f"test-small-{next(_names)}", "c", [{"$lt": {"f0": 0.5}}])


def fire(ruleset: driver.Ruleset, sid: str, facts: list[str]) -> list[driver.Firing]:
    with driver.LOCK:
        return ruleset.fire(sid, facts)


def test_a_ruleset_fires_its_rules_and_the_sink_for_every_fact(small: driver.Ruleset) -> None:
    firings = fire(small, "one", [', "f0": 0.25', ', "f0": 0.75', ""])
    assert sorted(firings) == [(-1, 1), (0, 0), (0, 1), (1, 1), (2, 1)]
    with pytest.raises(durable_rules_engine.error, match="309"):  # deleted
        durable_rules_engine.get_state(small.handle, "one")


@pytest.mark.parametrize(
    ("batch", "code"),
    [
        # The same fact twice: 2, observed.
        ('[{"i": -1, "sid": "S", "t": "c"}, {"i": 0, "sid": "S", "t": "c"}, '
         '{"i": 0, "sid": "S", "t": "c"}]', 2),
        # A fact of another kind, which no rule matches: 1, not handled.
        ('[{"i": -1, "sid": "S", "t": "c"}, {"i": 0, "sid": "S", "t": "x"}]', 1),
    ],
)  # fmt: skip
def test_every_code_but_success_is_an_error_and_leaves_no_state(
    small: driver.Ruleset, monkeypatch: pytest.MonkeyPatch, batch: str, code: int
) -> None:
    sid = f"code-{code}"
    monkeypatch.setattr(small, "batch", lambda _sid, _facts: batch.replace('"S"', f'"{sid}"'))
    with pytest.raises(EvaluationError, match=f"code {code}"):
        fire(small, sid, [""])
    with pytest.raises(durable_rules_engine.error, match="309"):
        durable_rules_engine.get_state(small.handle, sid)


def test_a_fact_past_the_property_limit_is_caught_though_the_engine_drops_it_silently(
    small: driver.Ruleset,
) -> None:
    # Alone it would be error 302; in a batch the engine stops there and says nothing.
    too_many = "".join(f', "p{n}": {n}' for n in range(300))
    with pytest.raises(EvaluationError, match=r"dropped facts \[0, 1\]"):
        fire(small, "wide", [too_many, ', "f0": 0.25'])
    with pytest.raises(durable_rules_engine.error, match="309"):
        durable_rules_engine.get_state(small.handle, "wide")


class _Failing:
    """The extension, except that asserting fails after the facts went in (as on 303)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(durable_rules_engine, name)

    @staticmethod
    def assert_facts(handle: int, batch: str) -> tuple[int, int]:
        durable_rules_engine.assert_facts(handle, batch)
        raise durable_rules_engine.error("Could not assert facts, error code: 303")


def test_an_error_from_the_extension_is_an_evaluation_error_and_leaves_no_state(
    small: driver.Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver, "_engine", _Failing())
    with pytest.raises(EvaluationError, match="error code: 303"):
        fire(small, "failed", [', "f0": 0.25'])
    with pytest.raises(durable_rules_engine.error, match="309"):
        durable_rules_engine.get_state(small.handle, "failed")


class _Garbling:
    """The extension, except that the second firing message is unreadable."""

    def __init__(self) -> None:
        self.abandoned: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(durable_rules_engine, name)

    def complete_and_start_action(self, handle: int, state: int) -> str | None:
        durable_rules_engine.complete_and_start_action(handle, state)
        return '{"not": "a firing"}'

    def abandon_action(self, handle: int, state: int) -> None:
        self.abandoned.append(state)
        durable_rules_engine.abandon_action(handle, state)


def test_an_unreadable_firing_abandons_the_action_and_deletes_the_state(
    small: driver.Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbling = _Garbling()
    monkeypatch.setattr(driver, "_engine", garbling)
    with pytest.raises(EvaluationError, match="unexpected firing message"):
        fire(small, "garbled", [', "f0": 0.25'])
    assert len(garbling.abandoned) == 1
    with pytest.raises(durable_rules_engine.error, match="309"):
        durable_rules_engine.get_state(small.handle, "garbled")
    monkeypatch.undo()
    assert sorted(fire(small, "after", [', "f0": 0.25'])) == [(-1, 1), (0, 0), (0, 1)]


HAZARD = textwrap.dedent(
    """
    import json
    from engine import driver
    from engine.assessment import Assessment
    from engine.compiled import CompiledRules, Facts
    from engine.errors import EvaluationError
    from engine.rulebase import load_rulebase

    rules = CompiledRules(load_rulebase())
    context = rules.layout.context_fact(Assessment(unit_id="u"))
    context = {f: 1e-07 if f.startswith("metric:") else v for f, v in context.items()}
    print(json.dumps({"context": context, "fired": rules.fire(Facts("u", context, ())).fired}))
    # Past the driver's number writing: a lone fact the parser drops, in every ruleset,
    # many times over. Without the sentinel fact, the state handle would be garbage.
    for round in range(50):
        for n, ruleset in enumerate(rules.rulesets):
            try:
                with driver.LOCK:
                    ruleset.fire(f"lone-{round}-{n}", [', "f0": 1e-07'])
            except EvaluationError as exc:
                error = str(exc)
            else:
                raise SystemExit("a dropped fact went unnoticed")
    print(json.dumps({"error": error}))
    """
)


def test_a_batch_whose_every_fact_is_dropped_cannot_crash_the_process() -> None:
    run = subprocess.run(
        [sys.executable, "-c", HAZARD],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    first, second = (json.loads(line) for line in run.stdout.splitlines())
    context = first["context"]
    assert first["fired"] == [r.id for r in RULEBASE.context_rules if evaluate(r.when, context)]
    assert "dropped facts [0]" in second["error"]
