"""durable-rules' limits, measured (``docs/durable-rules.md`` has the figures),
and how much of them one condition uses. The loader refuses what would not fit; the
compiler shards rules so that nothing comes near them.
"""

from __future__ import annotations

from engine.conditions import Condition, tests

#: Tests (leaves, one per value of an ``in`` list, plus the fact-kind test) per ruleset.
MAX_TESTS_PER_RULESET = 48
#: One ruleset must hold a rule and its shard's sink rule.
MAX_TESTS_PER_RULE = MAX_TESTS_PER_RULESET - 1
#: durable-rules refuses facts with more properties than this (error 302).
MAX_FACT_PROPERTIES = 255


def durable_test_count(condition: Condition) -> int:
    """How many durable-rules tests a condition compiles to, with the fact-kind test."""
    return 1 + sum(len(t.operand) if isinstance(t.operand, tuple) else 1 for t in tests(condition))
