"""Context and outsourcing rules compiled into durable-rules rulesets and evaluated.

Compiled once per rule base version, evaluated per assessment, through the direct
driver of durable-rules' C extension (``engine.driver``). The engine's measured sharp
edges (see ``docs/durable-rules.md``) are handled by construction:

- rules are sharded so that no ruleset holds more than ``MAX_TESTS_PER_RULESET``
  tests, well under the 64 tests one fact may satisfy and the 512 distinct tests of
  a node (past which registration or assertion spins forever inside C);
- every ruleset has a sink rule, so no fact is ever unmatched (an unmatched first
  fact of a state corrupts the heap when the state is deleted);
- no background dispatcher threads (they corrupt results) and no actions at all: the
  driver reads each firing's message and completes it;
- no rule tests ``id`` or ``sid`` (the engine re-asserts the state as a fact);
- every evaluation has its own state, deleted in ``finally``; one lock serialises
  evaluations, since the C engine holds the GIL and is not reentrant anyway;
- every batch starts with a sentinel fact that always parses, so a batch whose
  facts all fail to parse cannot leave the driver with a garbage state handle;
- numbers are written in a form the C parser reads exactly; the sink rule sees every
  fact, and a fact the engine dropped without raising is an ``EvaluationError``,
  never a silently wrong answer.

Facts carry only the fields the rules of their shard test, under short property names.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from engine.conditions import AllOf, AnyOf, Condition, Test, tests
from engine.driver import LOCK, Ruleset, properties, property_keys
from engine.facts import SERVICE_FIELDS, context_facts, service_facts
from engine.limits import MAX_TESTS_PER_RULE, durable_test_count

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.assessment import Assessment, Service
    from engine.conditions import Value
    from engine.model import ContextRule, OutsourcingRule, RuleBase


_generation = itertools.count(1)


class FactKind(StrEnum):
    """The kinds of fact (a fact's ``t``): one letter, as the driver requires."""

    CONTEXT = "c"  #: the unit's context: practice statuses, metrics, user base
    SERVICE = "s"  #: one service of its portfolio


@dataclass(frozen=True, slots=True)
class _Shard:
    name: str
    rule_ids: tuple[str, ...]
    fields: tuple[str, ...]  # the fields its facts carry
    #: each rule's position in rule base order (the order conclusions are given in)
    positions: tuple[int, ...]
    keys: tuple[tuple[str, str], ...]  # property_keys of its fields


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
    """How a rule base's rules are sharded and which facts they need (registers nothing).

    A process that only prepares facts (the server, when the engine runs in worker
    processes) needs this and never registers a ruleset.
    """

    def __init__(self, rulebase: RuleBase) -> None:
        context_fields = sorted({t.field for r in rulebase.context_rules for t in tests(r.when)})
        self.props = {field: f"f{n}" for n, field in enumerate([*context_fields, *SERVICE_FIELDS])}
        self.context_rules = tuple(rulebase.context_rules)
        self.service_rules = tuple(rulebase.outsourcing.rules if rulebase.outsourcing else ())
        self.context_shards = self._shards("ctx", self.context_rules, None)
        self.service_shards = self._shards("svc", self.service_rules, SERVICE_FIELDS)
        self._context_fields = {f for shard in self.context_shards for f in shard.fields}

    def _shards(
        self,
        prefix: str,
        rules: Sequence[ContextRule | OutsourcingRule],
        fields: Sequence[str] | None,
    ) -> tuple[_Shard, ...]:
        """``fields`` that every shard's facts carry, or None: those its rules test."""
        position = {rule.id: n for n, rule in enumerate(rules)}
        shards = []
        for n, members in enumerate(_shards(rules)):
            own = fields or sorted({t.field for r in members for t in tests(r.when)})
            shards.append(
                _Shard(
                    name=f"{prefix}{n}",
                    rule_ids=tuple(r.id for r in members),
                    fields=tuple(own),
                    positions=tuple(position[r.id] for r in members),
                    keys=property_keys({f: self.props[f] for f in own}),
                )
            )
        return tuple(shards)

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


class CompiledRules:
    """The rule base's context and outsourcing rules, registered with durable-rules."""

    def __init__(self, rulebase: RuleBase) -> None:
        self.layout = RuleLayout(rulebase)
        prefix = f"g{next(_generation)}-"
        layout = self.layout
        self._context = self._register(
            prefix, FactKind.CONTEXT, layout.context_shards, layout.context_rules
        )
        self._services = self._register(
            prefix, FactKind.SERVICE, layout.service_shards, layout.service_rules
        )
        self._context_ids = tuple(r.id for r in self.layout.context_rules)
        self._service_ids = tuple(r.id for r in self.layout.service_rules)
        self.last_sid = 0  # states are named by a counter, each deleted after its call

    def _register(
        self,
        prefix: str,
        kind: FactKind,
        shards: Sequence[_Shard],
        rules: Sequence[ContextRule | OutsourcingRule],
    ) -> tuple[tuple[_Shard, Ruleset], ...]:
        props = self.layout.props
        by_id = {r.id: r for r in rules}
        return tuple(
            (
                shard,
                Ruleset(
                    prefix + shard.name,
                    kind.value,
                    [_compile(by_id[rule_id].when, props) for rule_id in shard.rule_ids],
                ),
            )
            for shard in shards
        )

    @property
    def shard_count(self) -> int:
        return len(self._context) + len(self._services)

    @property
    def rulesets(self) -> tuple[Ruleset, ...]:
        """Every registered ruleset, context rules first."""
        return tuple(ruleset for _, ruleset in (*self._context, *self._services))

    def fire(self, facts: Facts) -> Conclusions:
        """Assert the facts; the rules that fired, in rule base order."""
        services = facts.services if self._services else ()
        with LOCK:
            self.last_sid += 1
            sid = str(self.last_sid)
            fired: set[int] = set()
            for shard, ruleset in self._context:
                fact = properties(shard.keys, facts.context)
                positions, sink = shard.positions, ruleset.sink
                fired.update(positions[r] for _, r in ruleset.fire(sid, [fact]) if r != sink)
            matched: list[set[int]] = [set() for _ in services]
            if services:
                # Every service shard carries the same fields: one text per service.
                texts = [properties(self._services[0][0].keys, f) for f in services]
                for shard, ruleset in self._services:
                    positions, sink = shard.positions, ruleset.sink
                    for index, rule in ruleset.fire(sid, texts):
                        if rule != sink:
                            matched[index].add(positions[rule])
        context_ids, service_ids = self._context_ids, self._service_ids
        return Conclusions(
            fired=tuple(context_ids[n] for n in sorted(fired)),
            matched=tuple(tuple(service_ids[n] for n in sorted(m)) for m in matched),
        )

    def evaluate(self, assessment: Assessment, *, deadline: float | None = None) -> Conclusions:
        """In this process: the deadline cannot be enforced (the C engine holds the GIL)."""
        del deadline
        return self.fire(self.layout.facts(assessment))

    def close(self) -> None:
        """Nothing to do: durable-rules frees a ruleset only when its process exits."""
