"""durable-rules' C extension, driven directly: rulesets, batches of facts, firings.

durable's own ``Host``/``Ruleset`` wrapper, for every firing, builds closure objects,
re-serialises the state, re-asserts it (``update_state``) and parses the message with
``json.loads``; that glue cost about 2.5 times the C matching. This module calls the
extension's functions itself (``docs/durable-rules.md``, "Driving the C engine
directly") and keeps the wrapper's safety, plus what the wrapper lacked:

- every return code of ``assert_facts`` is handled: 0 goes on; 1 (a fact no rule
  matched), 2 (a fact already observed) and 3 (deferred to a state store, which we
  never configure) are ``EvaluationError``, as durable raises for 1 and 2; any other
  code comes back from the extension as an exception, re-raised as ``EvaluationError``;
- an action the engine started is abandoned (``abandon_action``) if reading it fails;
- the state is deleted in ``finally``, whatever happened;
- every batch starts with a **sentinel** fact whose text is fixed and known to parse.
  The C parser stops at the first fact it cannot parse (``1e-07``: it accepts an
  exponent only after a decimal point) and drops the rest of the batch while reporting
  success; if that was the whole batch, the state handle it returns is uninitialised
  memory and using it crashes the process. With the sentinel first, a batch always
  has a state, so the hazard cannot happen whatever the facts hold;
- numbers are written in the decimal form the parser accepts (exact, never an
  exponent); NaN and infinities are refused before anything is asserted;
- each ruleset ends with a sink rule that matches every fact of its kind, so no fact
  is ever unmatched, and the sink's firings are checked: every fact of the batch,
  sentinel included, exactly once. A fact the engine dropped without saying so is an
  ``EvaluationError``, never a silently wrong answer;
- rules never test ``id`` or ``sid`` (the engine puts them in its state); facts carry
  ``i`` (their index in the batch), ``sid`` and ``t`` (their kind), then properties;
- one lock for the whole process serialises every call into the extension: the C
  engine holds the GIL and is not reentrant, so the lock costs no parallelism.

Skipping ``update_state`` changes nothing observable: our rules never read the state
(tests compare the firings with the ``Host``'s, in order). Action leases
(``renew_action_lease``) only matter to ``start_action``, the dispatcher's poll across
states, which this driver never calls.

A firing message is ``{"r<rule>":{"m":<the fact as asserted>}}``; it is read with an
anchored regular expression (the fact's text starts with ``{"i": <index>,`` because we
wrote it), falling back to ``json.loads`` for anything else.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import durable_rules_engine  # type: ignore[import-not-found]

from engine.errors import EvaluationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

_engine: Any = durable_rules_engine

#: One lock for every ruleset of this process (the extension has global tables).
LOCK = threading.Lock()

#: The fact index of the sentinel, the first fact of every batch.
SENTINEL = -1

_MESSAGE = re.compile(r'\{"r(\d+)":\{"m":\{"i": (-?\d+),')
_encode_string: Callable[[str], str] = json.encoder.encode_basestring

#: A fired rule: (index of the fact in the batch, index of the rule in its ruleset).
Firing = tuple[int, int]


def number(value: float) -> str:
    """``value`` as JSON the C parser reads back exactly: never an exponent form.

    ``repr`` is the shortest exact form; when it has an exponent (``1e-07``,
    ``1e+16``), the exact decimal expansion is written out instead.
    """
    text = repr(float(value))
    if "e" in text or "n" in text:  # an exponent, or inf / nan
        if not math.isfinite(value):
            raise EvaluationError(f"durable-rules cannot compare {text}: not a finite number")
        text = format(Decimal(value), "f")
        if "." not in text:
            text += ".0"  # a double, not the parser's integer type
    return text


def _json(data: Any) -> str:
    """A ruleset definition as JSON, its numbers in the form the parser accepts."""
    if isinstance(data, dict):
        return "{" + ", ".join(f"{_encode_string(k)}: {_json(v)}" for k, v in data.items()) + "}"
    if isinstance(data, list):
        return "[" + ", ".join(_json(v) for v in data) + "]"
    if isinstance(data, str):
        return _encode_string(data)
    return number(data)


class Ruleset:
    """One registered ruleset: rules over one kind of fact, then the sink rule.

    ``conditions`` are durable-rules condition objects over a fact's properties (never
    ``i``, ``sid`` or ``t``). Rule ``n`` is named ``r<n>``; the sink is the last rule.
    Registration cannot be undone: the ruleset lives as long as the process.
    """

    def __init__(self, name: str, kind: str, conditions: Sequence[Mapping[str, Any]]) -> None:
        if not re.fullmatch(r"[a-z]", kind):
            raise EvaluationError(f"a fact kind is one lower-case letter, not {kind!r}")
        self.name = name
        self.kind = kind
        self.sink = len(conditions)
        rules: dict[str, Any] = {
            f"r{n}": {"all": [{"m": {"$and": [{"t": kind}, dict(condition)]}}]}
            for n, condition in enumerate(conditions)
        }
        rules[f"r{self.sink}"] = {"all": [{"m": {"t": kind}}]}
        self.definition: dict[str, Any] = rules
        with LOCK:
            self.handle: int = _engine.create_ruleset(name, _json(rules))
        self._tail = f', "t": "{kind}"'

    def batch(self, sid: str, facts: Sequence[str]) -> str:
        """The JSON text asserted for ``facts`` (each its properties' text, from
        ``properties``): the sentinel, then the facts, each led by its index."""
        head = f', "sid": "{sid}"{self._tail}'
        parts = [f'{{"i": {SENTINEL}{head}}}']
        parts.extend(f'{{"i": {n}{head}{fact}}}' for n, fact in enumerate(facts))
        return "[" + ", ".join(parts) + "]"

    def _fire(self, sid: str, facts: Sequence[str]) -> list[Firing]:
        """Assert one batch into state ``sid``; every firing, the sink's included."""
        code, state = _engine.assert_facts(self.handle, self.batch(sid, facts))
        if code != 0:
            what = {1: "a fact no rule matched", 2: "a fact it had already seen"}
            raise EvaluationError(
                f"durable-rules refused a batch for ruleset {self.name}: code {code} "
                f"({what.get(code, 'deferred to a state store')})"
            )
        firings: list[Firing] = []
        try:
            started = _engine.start_action_for_state(self.handle, state)
            message = started[1] if started else None
            while message:
                found = _MESSAGE.match(message)
                firings.append((int(found[2]), int(found[1])) if found else _read(message))
                message = _engine.complete_and_start_action(self.handle, state)
        except BaseException:
            with contextlib.suppress(Exception):  # the state is deleted next anyway
                _engine.abandon_action(self.handle, state)
            raise
        return firings

    def fire(self, sid: str, facts: Sequence[str]) -> list[Firing]:
        """Every firing for ``facts`` in the engine's order, the sink's included, once
        the sink is known to have seen each fact (the sentinel too) exactly once.

        ``sid`` must not be in use by this ruleset; its state is deleted before this
        returns, whatever happened. Call it holding ``LOCK``.
        """
        try:
            firings = self._fire(sid, facts)
        except EvaluationError:
            self._delete(sid, quiet=True)
            raise
        except Exception as exc:  # the extension's own error, or a message we cannot read
            self._delete(sid, quiet=True)
            raise EvaluationError(f"durable-rules failed on ruleset {self.name}: {exc}") from exc
        except BaseException:
            self._delete(sid, quiet=True)
            raise
        self._delete(sid, quiet=False)
        sink = self.sink
        seen = sorted(fact for fact, rule in firings if rule == sink)
        if seen != list(range(SENTINEL, len(facts))):
            lost = sorted(set(range(len(facts))) - set(seen))
            raise EvaluationError(f"durable-rules dropped facts {lost} in ruleset {self.name}")
        if any(rule > sink or (fact == SENTINEL and rule != sink) for fact, rule in firings):
            raise EvaluationError(f"durable-rules fired a rule on no fact in {self.name}")
        return firings

    def _delete(self, sid: str, *, quiet: bool) -> None:
        try:
            _engine.delete_state(self.handle, sid)
        except durable_rules_engine.error as exc:
            if not quiet:  # else an error is already on its way out
                raise EvaluationError(
                    f"durable-rules could not delete state {sid} of ruleset {self.name}: {exc}"
                ) from exc


def _read(message: str) -> Firing:
    """The slow path: a message the regular expression did not recognise."""
    ((name, body),) = json.loads(message).items()
    if not name.startswith("r") or "m" not in body:
        raise ValueError(f"unexpected firing message {message[:200]!r}")
    return int(body["m"]["i"]), int(name[1:])


def property_keys(props: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(field, the text that leads its value in a fact) for each field -> key pair."""
    return tuple((field, f", {_encode_string(key)}: ") for field, key in props.items())


def properties(keys: Sequence[tuple[str, str]], fact: Mapping[str, str | float | None]) -> str:
    """A fact's properties as the text ``Ruleset.batch`` takes, for each pair of
    ``property_keys`` whose value is known (``None`` is left out)."""
    parts = []
    for field, lead in keys:
        value = fact[field]
        if value is None:
            continue
        if isinstance(value, str):
            text = _strings.get(value) or _string(value)
        else:
            text = repr(value)  # exact and short; an exponent or inf/nan is rewritten
            if type(value) is not float or "e" in text or "n" in text:
                text = number(value)
        parts.append(lead)
        parts.append(text)
    return "".join(parts)


#: Encoded strings: fact values come from small vocabularies (statuses, grades, ...).
_strings: dict[str, str] = {}
_MAX_STRINGS = 4096


def _string(value: str) -> str:
    text = _encode_string(value)
    if type(value) is str and len(_strings) < _MAX_STRINGS:
        _strings[value] = text
    return text
