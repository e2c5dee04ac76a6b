"""Context and outsourcing rules compiled into durable-rules rulesets and evaluated.

Compiled once per rule base version, evaluated per assessment. The engine's measured
sharp edges (see ``docs/durable-rules.md``) are handled by construction:

- rules are sharded so that no ruleset holds more than ``MAX_TESTS_PER_RULESET``
  tests, well under the 64 tests one fact may satisfy and the 512 distinct tests of
  a node (past which registration or assertion spins forever inside C);
- every ruleset has a sink rule, so no fact is ever unmatched (an unmatched first
  fact of a state corrupts the heap when the state is deleted);
- the ``Host`` runs no background dispatcher threads (they corrupt results);
- actions take one argument (two would make them asynchronous);
- no rule tests ``id`` or ``sid`` (the engine re-asserts the state as a fact);
- every evaluation has its own state, deleted in ``finally``; one lock serialises
  evaluations, since the C engine holds the GIL and is not reentrant anyway;
- the sink rule records every fact it sees: a fact the engine dropped without
  raising (it does, for numbers its JSON parser rejects) is an ``EvaluationError``,
  never a silently wrong answer.

Facts carry only the fields the rules of their shard test, under short property names.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import durable.engine

from engine.conditions import AllOf, AnyOf, Condition, Test, tests
from engine.errors import EvaluationError
from engine.facts import SERVICE_FIELDS, assessment_fields, context_facts, service_facts
from engine.limits import (
    MAX_FACT_PROPERTIES,
    MAX_TESTS_PER_RULE,
    durable_test_count,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from engine.assessment import Assessment, Service
    from engine.conditions import Value
    from engine.model import ContextRule, OutsourcingRule, RuleBase


_SINK = "__sink__"
_KIND = "t"
_INDEX = "i"
_generation = itertools.count(1)


class Encoding(StrEnum):
    """How an assessment becomes facts (the benchmark compares both)."""

    #: one small fact per shard: only the fields its rules test (the default)
    MINIMAL = "minimal"
    #: one fact per shard holding the whole assessment (every practice's status)
    FULL = "full"


class _QuietHost(durable.engine.Host):  # type: ignore[misc]
    """A Host without the dispatcher threads the default one starts."""

    def _run(self) -> None:
        return


@dataclass(frozen=True, slots=True)
class _Shard:
    name: str
    rule_ids: tuple[str, ...]
    fields: tuple[str, ...]  # the fields its facts carry


def _compile(condition: Condition, props: dict[str, str]) -> dict[str, Any]:
    if isinstance(condition, Test):
        prop = props[condition.field]
        if isinstance(condition.operand, tuple):
            alternatives = [{prop: value} for value in condition.operand]
            return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
        return {f"${condition.op}": {prop: condition.operand}}
    key = "$and" if isinstance(condition, AllOf) else "$or"
    assert isinstance(condition, AllOf | AnyOf)
    return {key: [_compile(term, props) for term in condition.terms]}


def _shards(rules: Sequence[ContextRule | OutsourcingRule]) -> list[list[Any]]:
    shards: list[list[Any]] = []
    budget = 0
    for rule in rules:
        cost = durable_test_count(rule.when)
        if not shards or budget + cost > MAX_TESTS_PER_RULE:
            shards.append([])
            budget = 1  # the sink rule's test
        shards[-1].append(rule)
        budget += cost
    return shards


@dataclass(frozen=True, slots=True)
class Facts:
    """What durable-rules is given for one assessment: small, picklable, hashable input."""

    unit_id: str  # not asserted: names the input in logs and for fault injection
    context: dict[str, Value]
    services: tuple[dict[str, Value], ...]


@dataclass(frozen=True, slots=True)
class Conclusions:
    """What the rules concluded: context rules that fired, each service's matching rules."""

    fired: tuple[str, ...]
    matched: tuple[tuple[str, ...], ...]


class RuleEvaluator(Protocol):
    """Turns an assessment into conclusions: in this process, or in worker processes."""

    def evaluate(self, assessment: Assessment, *, deadline: float | None = None) -> Conclusions:
        """``deadline`` is a ``time.monotonic()`` instant; evaluators that can, enforce it."""
        ...

    def close(self) -> None:
        """Release what can be released once the calls in flight are done."""
        ...


class RuleLayout:
    """How a rule base's rules are sharded and which facts they need (no durable-rules).

    A process that only prepares facts and orders conclusions (the server, when the
    engine runs in worker processes) needs this and never registers a ruleset.
    """

    def __init__(self, rulebase: RuleBase, encoding: Encoding = Encoding.MINIMAL) -> None:
        self.encoding = encoding
        context_fields = sorted({t.field for r in rulebase.context_rules for t in tests(r.when)})
        if encoding is Encoding.FULL:
            context_fields = assessment_fields(rulebase.practices)
            if len(context_fields) + 3 > MAX_FACT_PROPERTIES:
                raise EvaluationError(
                    f"full encoding needs {len(context_fields)} fact properties; "
                    f"durable-rules allows {MAX_FACT_PROPERTIES}"
                )
        self.props = {field: f"f{n}" for n, field in enumerate([*context_fields, *SERVICE_FIELDS])}
        self.context_rules = tuple(rulebase.context_rules)
        self.service_rules = tuple(rulebase.outsourcing.rules if rulebase.outsourcing else ())
        self.context_shards = [
            self._shard(f"ctx{n}", members, context_fields)
            for n, members in enumerate(_shards(self.context_rules))
        ]
        self.service_shards = [
            _Shard(f"svc{n}", tuple(r.id for r in members), SERVICE_FIELDS)
            for n, members in enumerate(_shards(self.service_rules))
        ]
        self._context_fields = {f for shard in self.context_shards for f in shard.fields}
        self._context_order = {r.id: n for n, r in enumerate(self.context_rules)}
        self._service_order = {r.id: n for n, r in enumerate(self.service_rules)}

    def _shard(
        self, name: str, members: Sequence[ContextRule], all_fields: Sequence[str]
    ) -> _Shard:
        fields = (
            all_fields
            if self.encoding is Encoding.FULL
            else sorted({t.field for r in members for t in tests(r.when)})
        )
        return _Shard(name, tuple(r.id for r in members), tuple(fields))

    def facts(self, assessment: Assessment) -> Facts:
        return Facts(
            unit_id=assessment.unit_id,
            context=self.context_fact(assessment),
            services=self.service_facts(assessment.services) if self.service_shards else (),
        )

    def context_fact(self, assessment: Assessment) -> dict[str, Value]:
        """The one context fact: the fields the context rules test."""
        return context_facts(assessment, self._context_fields) if self.context_shards else {}

    @staticmethod
    def service_facts(services: Sequence[Service]) -> tuple[dict[str, Value], ...]:
        """One fact per service; cost shares are of the whole portfolio's cost."""
        total = sum(s.annual_cost for s in services)
        return tuple(service_facts(service, total) for service in services)

    def conclusions(
        self, fired: Sequence[tuple[int, str]], matched: Sequence[tuple[int, str]], services: int
    ) -> Conclusions:
        """Fired (index, rule id) pairs in rule base order, one tuple per service."""
        per_service: list[set[str]] = [set() for _ in range(services)]
        for index, rule_id in matched:
            per_service[index].add(rule_id)
        return Conclusions(
            fired=tuple(sorted({r for _, r in fired}, key=self._context_order.__getitem__)),
            matched=tuple(
                tuple(sorted(ids, key=self._service_order.__getitem__)) for ids in per_service
            ),
        )


class CompiledRules:
    """The rule base's context and outsourcing rules, registered with durable-rules."""

    def __init__(self, rulebase: RuleBase, encoding: Encoding = Encoding.MINIMAL) -> None:
        self.layout = RuleLayout(rulebase, encoding)
        self.encoding = encoding
        self._lock = threading.Lock()
        self._fired: list[tuple[int, str]] = []
        self._last_sid = 0
        self._prefix = f"g{next(_generation)}-"
        self._host = _QuietHost()
        self._props = self.layout.props
        self._register("c", self.layout.context_shards, self.layout.context_rules)
        self._register("s", self.layout.service_shards, self.layout.service_rules)

    @property
    def shard_count(self) -> int:
        return len(self.layout.context_shards) + len(self.layout.service_shards)

    def _action(self, rule_id: str) -> Callable[[Any], None]:
        def record(c: Any) -> None:  # one parameter: a synchronous action
            self._fired.append((c.m[_INDEX], rule_id))

        return record

    def _register(
        self,
        kind: str,
        shards: Sequence[_Shard],
        rules: Sequence[ContextRule | OutsourcingRule],
    ) -> None:
        by_id = {rule.id: rule for rule in rules}
        definitions: dict[str, Any] = {}
        for shard in shards:
            ruleset: dict[str, Any] = {}
            for rule_id in shard.rule_ids:
                condition = {"$and": [{_KIND: kind}, _compile(by_id[rule_id].when, self._props)]}
                ruleset[rule_id] = {"all": [{"m": condition}], "run": self._action(rule_id)}
            ruleset[_SINK] = {"all": [{"m": {_KIND: kind}}], "run": self._action(_SINK)}
            definitions[self._prefix + shard.name] = ruleset
        if definitions:
            self._host.register_rulesets(definitions)

    def _assert(
        self, shards: Sequence[_Shard], kind: str, facts: Sequence[dict[str, Value]]
    ) -> list[tuple[int, str]]:
        if not facts or not shards:
            return []
        with self._lock:
            self._last_sid += 1
            sid = str(self._last_sid)
            self._fired = []
            fired: list[tuple[int, str]] = []
            asserted: list[str] = []
            try:
                for shard in shards:
                    name = self._prefix + shard.name
                    payload = [
                        {"sid": sid, _KIND: kind, _INDEX: index}
                        | {self._props[f]: fact[f] for f in shard.fields if fact[f] is not None}
                        for index, fact in enumerate(facts)
                    ]
                    asserted.append(name)
                    self._host.assert_facts(name, payload)
                    seen = [index for index, rule_id in self._fired if rule_id == _SINK]
                    if sorted(seen) != list(range(len(facts))):
                        lost = sorted(set(range(len(facts))) - set(seen))
                        raise EvaluationError(
                            f"durable-rules dropped facts {lost} in ruleset {name}"
                        )
                    self._fired = [entry for entry in self._fired if entry[1] != _SINK]
                    fired.extend(self._fired)
                    self._fired = []
                return fired
            except EvaluationError:
                raise
            except Exception as exc:
                where = asserted[-1] if asserted else "(before any ruleset)"
                raise EvaluationError(f"durable-rules failed on ruleset {where}: {exc}") from exc
            finally:
                self._fired = []
                for name in asserted:
                    self._host.delete_state(name, sid)

    def fire(self, facts: Facts) -> Conclusions:
        """Assert the facts; the rules that fired, in rule base order."""
        fired = self._assert(self.layout.context_shards, "c", [facts.context])
        matched = self._assert(self.layout.service_shards, "s", facts.services)
        return self.layout.conclusions(fired, matched, len(facts.services))

    def evaluate(self, assessment: Assessment, *, deadline: float | None = None) -> Conclusions:
        """In this process: the deadline cannot be enforced (the C engine holds the GIL)."""
        del deadline
        return self.fire(self.layout.facts(assessment))

    def close(self) -> None:
        """Nothing to do: durable-rules frees a ruleset only when its process exits."""

    def context(self, assessment: Assessment) -> list[str]:
        """Ids of the context rules whose conditions hold, in rule base order."""
        fired = self._assert(
            self.layout.context_shards, "c", [self.layout.context_fact(assessment)]
        )
        return list(self.layout.conclusions(fired, [], 0).fired)

    def services(self, services: Sequence[Service]) -> list[list[str]]:
        """Per service, ids of the outsourcing rules that match it, in precedence order."""
        matched = self._assert(self.layout.service_shards, "s", self.layout.service_facts(services))
        return [list(m) for m in self.layout.conclusions([], matched, len(services)).matched]

    def live_states(self) -> int:
        """States still held by the engine (always 0 between evaluations)."""
        count = 0
        for shard in (*self.layout.context_shards, *self.layout.service_shards):
            for sid in range(1, self._last_sid + 1):
                try:
                    self._host.get_state(self._prefix + shard.name, str(sid))
                except Exception:  # noqa: S112  (durable raises a bare Exception: the state is gone)
                    continue
                count += 1
        return count
