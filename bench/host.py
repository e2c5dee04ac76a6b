"""durable-rules' own ``Host`` driving the same rulesets as ``engine.driver``: a yardstick.

The product has one driver (``engine.driver``, the C extension called directly). This
one goes through durable's ``Host``/``Ruleset`` wrapper, as the engine once did, so that
the benchmark can show what the direct driver saves and the tests can check that both
fire the same rules in the same order.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

import durable.engine

from engine.compiled import CompiledRules
from engine.driver import Firing, Ruleset
from engine.model import RuleBase


class QuietHost(durable.engine.Host):
    """A Host without the dispatcher threads the default one starts (they corrupt results)."""

    def _run(self) -> None:
        return


class HostRuleset:
    """A ``driver.Ruleset``'s rules registered with a Host; fires like ``Ruleset.fire``."""

    def __init__(self, host: durable.engine.Host, ruleset: Ruleset) -> None:
        self._host = host
        self._ruleset = ruleset
        self.name = "host-" + ruleset.name
        self.sink = ruleset.sink
        self._fired: list[Firing] = []
        definition = copy.deepcopy(ruleset.definition)
        for rule_name, rule in definition.items():
            rule["run"] = self._action(int(rule_name[1:]))
        host.register_rulesets({self.name: definition})

    def _action(self, rule: int) -> Callable[[Any], None]:
        def record(c: Any) -> None:  # one parameter: a synchronous action
            self._fired.append((c.m["i"], rule))

        return record

    def fire(self, sid: str, facts: Sequence[str]) -> list[Firing]:
        """Every firing, the sink's included, in the order the Host ran the actions."""
        self._fired = []
        try:
            self._host.assert_facts(self.name, json.loads(self._ruleset.batch(sid, facts)))
        finally:
            self._host.delete_state(self.name, sid)
        fired, self._fired = self._fired, []
        return fired


class HostRules(CompiledRules):
    """``CompiledRules`` whose rulesets are driven through a Host instead."""

    def __init__(self, rulebase: RuleBase) -> None:
        super().__init__(rulebase)
        host = QuietHost()
        self._context = tuple((s, HostRuleset(host, r)) for s, r in self._context)
        self._services = tuple((s, HostRuleset(host, r)) for s, r in self._services)
