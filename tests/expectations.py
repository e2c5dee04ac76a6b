"""What must hold of a roadmap, written as data: the vocabulary of scenario and persona
files. One small function per key (as jsonschema does per keyword); ``check_roadmap``
runs every key an expectation names and refuses keys it does not know, so a typo in a
scenario cannot pass silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.results import Roadmap, Step


def _steps(roadmap: Roadmap) -> dict[str, Step]:
    return {s.practice_id: s for s in roadmap.steps}


def _order(roadmap: Roadmap) -> list[str]:
    return [s.practice_id for s in roadmap.steps]


def _step(roadmap: Roadmap, pid: str) -> Step:
    step = roadmap.step(pid)
    assert step is not None, f"{pid} missing from {_order(roadmap)}"
    return step


def _waves(roadmap: Roadmap) -> str:
    """The roadmap wave by wave, for failure messages a reader can act on."""
    lines: dict[int, list[str]] = {}
    for s in roadmap.steps:
        lines.setdefault(s.wave, []).append(s.practice_id)
    return "; ".join(f"wave {w}: {', '.join(ids)}" for w, ids in sorted(lines.items()))


def steps_include(roadmap: Roadmap, pids: list[str]) -> None:
    for pid in pids:
        _step(roadmap, pid)


def steps_exclude(roadmap: Roadmap, pids: list[str]) -> None:
    for pid in pids:
        assert pid not in _steps(roadmap), f"{pid} should not be in {_order(roadmap)}"


def order(roadmap: Roadmap, pairs: list[list[str]]) -> None:
    listed = _order(roadmap)
    for earlier, later in pairs:
        _step(roadmap, earlier)
        _step(roadmap, later)
        assert listed.index(earlier) < listed.index(later), (
            f"{earlier} should come before {later}: {_waves(roadmap)}"
        )


def waves_before(roadmap: Roadmap, pairs: list[list[str]]) -> None:
    for earlier, later in pairs:
        assert _step(roadmap, earlier).wave < _step(roadmap, later).wave, (
            f"{earlier} should be in an earlier wave than {later}: {_waves(roadmap)}"
        )


def same_wave(roadmap: Roadmap, pairs: list[list[str]]) -> None:
    for a, b in pairs:
        assert _step(roadmap, a).wave == _step(roadmap, b).wave, _waves(roadmap)


def within_wave(roadmap: Roadmap, bounds: dict[str, int]) -> None:
    for pid, wave in bounds.items():
        assert _step(roadmap, pid).wave <= wave, (
            f"{pid} should be in wave {wave} or earlier: {_waves(roadmap)}"
        )


def after_wave(roadmap: Roadmap, bounds: dict[str, int]) -> None:
    for pid, wave in bounds.items():
        assert _step(roadmap, pid).wave > wave, (
            f"{pid} should come after wave {wave}: {_waves(roadmap)}"
        )


def first_wave_excludes(roadmap: Roadmap, pids: list[str]) -> None:
    for pid in pids:
        step = roadmap.step(pid)
        assert step is None or step.wave > 1, f"{pid} should not be in wave 1: {_waves(roadmap)}"


def first(roadmap: Roadmap, pids: list[str]) -> None:
    assert set(_order(roadmap)[: len(pids)]) == set(pids), _waves(roadmap)


def unlocks(roadmap: Roadmap, expected: dict[str, list[str]]) -> None:
    for pid, unlocked in expected.items():
        assert list(_step(roadmap, pid).unlocks) == unlocked


def reasons(roadmap: Roadmap, expected: dict[str, list[str]]) -> None:
    for pid, rule_ids in expected.items():
        found = [r.rule_id for r in _step(roadmap, pid).reasons]
        for rule_id in rule_ids:
            assert rule_id in found, f"{pid}: {rule_id} not in {found}"


def _signed(roadmap: Roadmap, expected: dict[str, list[str]], sign: int) -> None:
    for pid, rule_ids in expected.items():
        found = {r.rule_id for r in _step(roadmap, pid).reasons if r.amount * sign > 0}
        for rule_id in rule_ids:
            assert rule_id in found, f"{pid}: no reason from {rule_id} with sign {sign:+d}: {found}"


def raised_by(roadmap: Roadmap, expected: dict[str, list[str]]) -> None:
    _signed(roadmap, expected, +1)


def held_back_by(roadmap: Roadmap, expected: dict[str, list[str]]) -> None:
    _signed(roadmap, expected, -1)


def reason_amounts(roadmap: Roadmap, expected: dict[str, dict[str, float]]) -> None:
    for pid, amounts in expected.items():
        for rule_id, amount in amounts.items():
            got = sum(r.amount for r in _step(roadmap, pid).reasons if r.rule_id == rule_id)
            assert got == amount, f"{pid}: {rule_id} contributes {got}, expected {amount}"


def levels(roadmap: Roadmap, expected: dict[str, int]) -> None:
    for model, level in expected.items():
        got = next(m.level for m in roadmap.levels if m.model == model)
        assert got == level, f"{model} is at level {got}, expected {level}"


def axis_levels(roadmap: Roadmap, expected: dict[str, dict[str, int]]) -> None:
    for model, axes in expected.items():
        standing = next(m for m in roadmap.levels if m.model == model)
        got = {a.axis: a.level for a in standing.axes}
        for axis, level in axes.items():
            assert got[axis] == level, f"{model}/{axis} is at level {got[axis]}, expected {level}"


def warnings(roadmap: Roadmap, expected: list[dict[str, Any]]) -> None:
    for want in expected:
        matches = [w for w in roadmap.warnings if w.code == want["code"]]
        assert matches, f"no warning {want['code']} in {[w.code for w in roadmap.warnings]}"
        if "practices" in want:
            assert any(list(w.practice_ids) == want["practices"] for w in matches), matches
        if "rule" in want:
            assert any(w.rule_id == want["rule"] for w in matches)


def no_warnings(roadmap: Roadmap, codes: list[str]) -> None:
    found = {w.code for w in roadmap.warnings}
    for code in codes:
        assert code not in found, f"unexpected warning {code}"


def outsourcing(roadmap: Roadmap, expected: list[dict[str, Any]]) -> None:
    for want in expected:
        decision = next(d for d in roadmap.outsourcing if d.service_id == want["service"])
        rule_ids = [r.rule_id for r in decision.reasons if r.rule_id != "outsourcing.provisional"]
        where = f"service {want['service']}"
        if "recommendation" in want:
            assert decision.recommendation.value == want["recommendation"], (
                f"{where}: {decision.recommendation.value} ({rule_ids})"
            )
        if "saving" in want:
            assert decision.estimated_annual_saving == want["saving"], where
        if "net_saving" in want:
            assert decision.net_first_year_saving == want["net_saving"], where
        if "payback_months" in want:
            assert decision.payback_months == want["payback_months"], where
        if "provisional" in want:
            assert decision.provisional == want["provisional"], where
        if "rules" in want:
            assert rule_ids == want["rules"], where
        for rule_id in want.get("reasons_include", []):
            assert rule_id in rule_ids, f"{where}: {rule_id} not in {rule_ids}"
        for rule_id in want.get("reasons_exclude", []):
            assert rule_id not in rule_ids, f"{where}: {rule_id} in {rule_ids}"


def max_wave_effort(roadmap: Roadmap, limit: int) -> None:
    for wave in {s.wave for s in roadmap.steps}:
        members = [s for s in roadmap.steps if s.wave == wave]
        if len(members) > 1:
            assert sum(s.effort for s in members) <= limit


def alone_in_wave(roadmap: Roadmap, pids: list[str]) -> None:
    for pid in pids:
        wave = _step(roadmap, pid).wave
        assert [s.practice_id for s in roadmap.steps if s.wave == wave] == [pid]


def beyond_horizon(roadmap: Roadmap, pids: list[str]) -> None:
    for pid in pids:
        assert _step(roadmap, pid).quarter == 0, f"{pid} should lie beyond the horizon"


def within_quarter(roadmap: Roadmap, bounds: dict[str, int]) -> None:
    for pid, quarter in bounds.items():
        got = _step(roadmap, pid).quarter
        assert 0 < got <= quarter, f"{pid} is in quarter {got}, expected 1..{quarter}"


CHECKS: dict[str, Callable[[Roadmap, Any], None]] = {
    check.__name__: check
    for check in (
        steps_include,
        steps_exclude,
        order,
        waves_before,
        same_wave,
        within_wave,
        after_wave,
        first_wave_excludes,
        first,
        unlocks,
        reasons,
        raised_by,
        held_back_by,
        reason_amounts,
        levels,
        axis_levels,
        warnings,
        no_warnings,
        outsourcing,
        max_wave_effort,
        alone_in_wave,
        beyond_horizon,
        within_quarter,
    )
}


def check_roadmap(roadmap: Roadmap, expect: dict[str, Any]) -> None:
    """Every expectation holds; keys other than ``explain`` must be known checks."""
    unknown = set(expect) - set(CHECKS) - {"explain"}
    assert not unknown, f"unknown expectation keys: {sorted(unknown)}"
    for key, value in expect.items():
        if key in CHECKS:
            CHECKS[key](roadmap, value)
