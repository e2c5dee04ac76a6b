"""The fast YAML reader (libyaml events straight to data) reads exactly what the full
loader (nodes, then constructors) reads: the same values and types, the same lines,
aliases as the same object, and the same duplicate keys and errors (for those it hands
the document to the full loader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.synthetic import generate
from engine.rulefiles import (
    BUNDLED_RULES,
    LinedMapping,
    _load_yaml,
    _load_yaml_fully,
    _read_events,
    _schema_errors,
    _YamlLoader,
)


def _fast(text: str) -> Any:
    loader = _YamlLoader(text)
    try:
        return _read_events(loader)
    finally:
        loader.dispose()


def _same(a: Any, b: Any, pairs: dict[int, int]) -> None:
    """Equal values of the same types, lines and sharing (an alias is the same object)."""
    assert type(a) is type(b)
    if isinstance(a, dict | list):
        if id(a) in pairs:
            assert pairs[id(a)] == id(b)
            return
        assert id(b) not in pairs.values()
        pairs[id(a)] = id(b)
    if isinstance(a, LinedMapping):
        assert a.line == b.line
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key], pairs)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y, pairs)
    else:
        assert a == b


DOCUMENTS = [
    "",
    "---\n",
    "# only a comment\n",
    "plain",
    "- 1\n- two\n",
    "a: 1\nb: 1.5\nc: true\nd: ~\ne: null\nf: 2024-01-02\ng: 2024-01-02 10:00:00\n",
    "a: '1'\nb: \"true\"\nc: |\n  literal\n  text\nd: >\n  folded\n  text\n",
    "a: yes\nb: No\nc: on\nd: 0x1F\ne: 0o17\nf: 1_000\ng: .inf\nh: -.NaN\ni: 1e3\n",
    "a: {b: [1, 2, {c: d}], e: []}\nf: {}\n",
    "a:\n  - b: 1\n    c:\n      - d\n      -\n      - e: f\n",
    "src: &s {x: 1}\nuse: *s\nuse2: *s\n",
    "s: &a text\nt: *a\n",
    "l: &l [1, 2]\nm: [*l, *l]\n",
    "a: 1\na: 2\n",
    "outer:\n  a: 1\n  a: 2\nb: 1\nb: 3\nlist:\n  - x: 1\n    x: 2\n",
    "base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n",
    "1: one\n",
    "true: yes\n",
    "~: none\n",
    "? [a, b]\n: complex\n",
    "? {a: b}\n: complex\n",
    "=: value\n",
    "a: =\n",
    "a: !!str 1\n",
    "a: !!int '1'\n",
    "a: !custom x\n",
    "a: ! 1\n",
    "a: !!set {x, y}\n",
    "a: !!omap [x: 1]\n",
    "a: !!binary aGVsbG8=\n",
    "a: *nowhere\n",
    "a: &x 1\nb: &x 2\n",
    "a: &r [*r]\n",
    "a: 1\n---\nb: 2\n",
    "a: [1, 2\n",
    "a: b: c\n",
    "\ta: 1\n",
    "a: 1\n  b: 2\n",
    "a: 2024-13-45\n",
    "&k key: value\nother: *k\n",
    "*k : value\n",
]


def _outcome(read: Any, text: str) -> tuple[Any, ...]:
    try:
        return ("read", *read(text))
    except Exception as error:  # the error is the outcome compared
        return ("error", type(error), str(error))


@pytest.mark.parametrize("text", DOCUMENTS)
def test_the_fast_reader_reads_what_the_full_loader_reads(text: str) -> None:
    expected, got = _outcome(_load_yaml_fully, text), _outcome(_load_yaml, text)
    if expected[0] == "error":
        assert got == expected
    else:
        assert got[0] == "read"
        _same(expected[1], got[1], {})
        assert got[2] == expected[2]


def _rule_files(tmp_path: Path) -> list[Path]:
    synthetic = generate(300, tmp_path / "synthetic")
    return sorted(BUNDLED_RULES.glob("*.yaml")) + sorted(synthetic.glob("*.yaml"))


def test_rule_files_take_the_fast_path_and_read_the_same(tmp_path: Path) -> None:
    for path in _rule_files(tmp_path):
        text = path.read_text(encoding="utf-8")
        expected, duplicates = _load_yaml_fully(text)
        assert duplicates == []
        _same(expected, _fast(text), {})  # no _Unusual: the fast path reads it


def test_a_shared_source_stays_one_object(tmp_path: Path) -> None:
    # yaml.safe_dump writes a repeated mapping once, with an anchor, and aliases it.
    text = (generate(100, tmp_path / "synthetic") / "syn-agile.yaml").read_text()
    practices = _fast(text)["practices"]
    assert practices[0]["source"] is practices[1]["source"]
    assert yaml.safe_load(text)["practices"][0]["source"] == practices[0]["source"]


_SHARED_SOURCE = """\
practices:
- id: a
  title: A
  description: The first.
  model: m
  axis: x
  effort: 1
  value: 1
  source: &s {addition: SOURCE}
- id: b
  title: B
  description: The second.
  model: m
  axis: x
  effort: 1
  value: 1
  source: *s
"""


def test_a_shared_source_is_checked_once_and_reported_wherever_it_is_wrong() -> None:
    good = _fast(_SHARED_SOURCE.replace("SOURCE", "ours"))
    assert good["practices"][0]["source"] is good["practices"][1]["source"]
    assert _schema_errors(good, "rulefile.schema.json") == []
    bad = _fast(_SHARED_SOURCE.replace("SOURCE", "' '"))  # no text: breaks the schema
    errors = _schema_errors(bad, "rulefile.schema.json")
    assert [list(e.absolute_path) for e in errors] == [
        ["practices", 0, "source"],
        ["practices", 1, "source"],
    ]
    assert _schema_errors(good, "rulefile.schema.json") == []  # nothing kept from before
