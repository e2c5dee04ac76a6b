"""What durable-rules still holds: states an evaluation left behind (there must be none).

The engine names each evaluation's state by a counter (``CompiledRules.last_sid``) and
deletes it before the call returns. A probe asks the C engine, ruleset by ruleset, for
the states created since the probe was taken, so its cost is that of the evaluations it
watches, not of the whole session's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import durable_rules_engine

from engine.compiled import CompiledRules

if TYPE_CHECKING:
    from collections.abc import Iterable


def held(rules: CompiledRules, sids: Iterable[str]) -> list[tuple[str, str]]:
    """(ruleset, sid) for each of ``sids`` the engine still holds, in any ruleset."""
    wanted = list(sids)
    found = []
    for ruleset in rules.rulesets:
        for sid in wanted:
            try:
                durable_rules_engine.get_state(ruleset.handle, sid)
            except durable_rules_engine.error:  # 309: no such state, as it should be
                continue
            found.append((ruleset.name, sid))
    return found


class StateProbe:
    """The states ``rules`` creates from now on that it still holds."""

    def __init__(self, rules: object) -> None:
        """``rules``: an engine's evaluator, which must be the in-process one."""
        assert isinstance(rules, CompiledRules), rules
        self.rules = rules
        self.since = rules.last_sid

    def evaluations(self) -> int:
        return self.rules.last_sid - self.since

    def held(self) -> list[tuple[str, str]]:
        return held(self.rules, map(str, range(self.since + 1, self.rules.last_sid + 1)))
