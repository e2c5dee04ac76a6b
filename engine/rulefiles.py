"""Phase 1 of loading a rule base: its files read, parsed and checked against the schema.

YAML is read with the line each mapping starts on and with duplicate keys reported
(YAML itself keeps the last silently); every file is validated against the JSON
Schema in ``rules/schema/`` (a compiled validator first, the full one to explain);
``extends`` chains overlays onto a base. Problems go to the caller's list; nothing
here interprets the content (``engine.rulebase`` does).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from engine.errors import ProblemKind

BUNDLED_RULES = Path(__file__).resolve().parent.parent / "rules"
SCHEMA_DIR = BUNDLED_RULES / "schema"
MANIFEST = "rulebase.yaml"
#: ``extends: "@bundled"`` in a manifest overlays the rule base shipped with the engine.
BUNDLED_ALIAS = "@bundled"
#: Largest rule file read (10,000 synthetic practices take about 4 MB).
MAX_RULE_FILE_BYTES = 32 * 1024 * 1024


# --- YAML with line numbers and duplicate-key detection ---------------------------


class LinedMapping(dict[str, Any]):
    """A YAML mapping that remembers the line it starts on."""

    line: int = 0


class _YamlLoader(yaml.CSafeLoader):  # libyaml: 10x faster than the pure-Python parser
    duplicate_keys: list[tuple[int, str]]


def _construct_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> Iterator[LinedMapping]:
    data = LinedMapping()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            loader.duplicate_keys.append((key_node.start_mark.line + 1, str(key)))
        seen.add(key)
    data.update({str(k): v for k, v in loader.construct_mapping(node).items()})


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# The fast reader: builds the same data straight from libyaml's events (about 4x faster at
# 10,000 practices than composing nodes and constructing them). It reads only the plain
# cases and leaves everything else to the loader above, which reads the file again.

_STR_TAG = yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
#: Tags a plain scalar may resolve to, with their (plain, non-generator) constructors.
_SCALAR_CONSTRUCTORS: dict[str, Callable[[Any, yaml.ScalarNode], Any]] = {
    tag: _YamlLoader.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    )
}
_NO_KEY = object()  # a mapping waiting for its next key
_OPEN = object()  # an anchored collection not yet complete (an alias to it is recursive)


class _Unusual(Exception):  # noqa: N818  (not an error: a case for the full loader)
    """The document needs the full loader: explicit tags, a key that is not a plain
    string (merge keys, numbers, collections), a duplicate key or anchor, a recursive
    or undefined alias, more than one document, or a YAML error to report."""


def _read_events(loader: _YamlLoader) -> Any:  # noqa: PLR0912, PLR0915  (one loop, no calls per event)
    """The document's data, as :meth:`_YamlLoader.get_single_data` builds it (the same
    values, mappings as :class:`LinedMapping` with their lines, aliases as the same
    object), or :class:`_Unusual` for a case this reader leaves to it."""
    if loader.yaml_path_resolvers:
        raise _Unusual
    get: Callable[[], Any] = loader.get_event
    resolve: Callable[..., str] = loader.resolve
    if type(get()) is not StreamStartEvent:
        raise _Unusual
    event = get()
    if type(event) is StreamEndEvent:
        return None
    if type(event) is not DocumentStartEvent:
        raise _Unusual
    plains: dict[str, Any] = {}  # a plain scalar's value, by its text
    anchors: dict[str, Any] = {}
    stack: list[tuple[Any, Any, str | None]] = []
    top: Any = None  # the collection being filled: a LinedMapping, a list or None (root)
    key: Any = None  # in a mapping: the key waiting for its value, or _NO_KEY; else None
    value: Any
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.tag is not None:
                raise _Unusual
            value = event.value
            if event.implicit[0]:  # plain: its text alone decides its tag and value
                plain = plains.get(value, _NO_KEY)
                if plain is _NO_KEY:
                    tag = resolve(yaml.ScalarNode, value, event.implicit)
                    if tag == _STR_TAG:
                        plain = value
                    elif (construct := _SCALAR_CONSTRUCTORS.get(tag)) is not None:
                        node = yaml.ScalarNode(
                            tag, value, event.start_mark, event.end_mark, event.style
                        )
                        plain = construct(loader, node)  # immutable: int, float, bool...
                    else:
                        raise _Unusual  # a merge key, '=', or a tag with no plain value
                    plains[value] = plain
                value = plain
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise _Unusual
                anchors[event.anchor] = value
            if key is _NO_KEY:  # a mapping's key (top is a mapping)
                if type(value) is not str or value in top:
                    raise _Unusual  # not a string (1, true, null), or a duplicate key
                key = value
                continue
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.tag is not None or key is _NO_KEY:
                raise _Unusual
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise _Unusual
                anchors[event.anchor] = _OPEN
            stack.append((top, key, event.anchor))
            if kind is MappingStartEvent:
                top = LinedMapping()
                top.line = event.start_mark.line + 1
                key = _NO_KEY
            else:
                top, key = [], None
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = top
            top, key, anchor = stack.pop()
            if anchor is not None:
                anchors[anchor] = value
        elif kind is AliasEvent:
            value = anchors.get(event.anchor, _OPEN)
            if value is _OPEN or key is _NO_KEY:
                raise _Unusual
        else:
            raise _Unusual
        if top is None:  # the root is complete
            break
        if key is None:
            top.append(value)
        else:
            top[key] = value
            key = _NO_KEY
    if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
        raise _Unusual
    return value


def _load_yaml(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """The document's data and its duplicate keys (line, key), in the order the full
    loader finds them. Raises what the full loader raises (``yaml.YAMLError``...)."""
    loader = _YamlLoader(text)
    try:
        return _read_events(loader), []
    except Exception:  # noqa: S110  (_Unusual, or an error the full loader reports itself)
        pass
    finally:
        loader.dispose()
    return _load_yaml_fully(text)


def _load_yaml_fully(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """The full loader (nodes, then constructors): what ``_load_yaml`` falls back to."""
    loader = _YamlLoader(text)
    loader.duplicate_keys = []
    try:
        return loader.get_single_data(), loader.duplicate_keys
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One parsed rule file: its display path, layer (0 = innermost base) and data."""

    path: str
    name: str
    layer: int
    data: LinedMapping


@cache
def _schema(schema_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / schema_name).read_text(encoding="utf-8"))
    return schema


@cache
def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """Reports every schema error with its path; slow (about 5 s at 10,000 practices)."""
    return jsonschema.Draft202012Validator(_schema(schema_name))


@cache
def _fast_validator(schema_name: str) -> Callable[[Any], Any]:
    """Compiled to Python and ten times faster, but stops at the first error.

    The code `make` generated from the schema is used when it is of this very schema
    (compiling it here costs a server's start about 0.2 s); else it is compiled now."""
    schema = _schema(schema_name)
    validate = _generated_validator(schema_name) or fastjsonschema.compile(schema)
    return _once_per_object(validate, schema)


#: Where `make` writes the compiled validators (``write_validators``): beside the
#: generated protobuf code, which is on the import path wherever the engine runs.
GENERATED_PACKAGE = "roadmap.schemas"


def _module_name(schema_name: str) -> str:
    return schema_name.removesuffix(".schema.json").replace("-", "_").replace(".", "_")


def _schema_digest(schema_name: str) -> str:
    """The schema file's digest (compiling a schema changes the dict it is given)."""
    return hashlib.sha256((SCHEMA_DIR / schema_name).read_bytes()).hexdigest()


def _generated_validator(schema_name: str) -> Callable[[Any], Any] | None:
    try:
        module = importlib.import_module(f"{GENERATED_PACKAGE}.{_module_name(schema_name)}")
    except ImportError:
        return None
    if getattr(module, "SCHEMA_SHA256", None) != _schema_digest(schema_name):
        return None  # generated from another version of the schema: `make gen` is due
    validate: Callable[[Any], Any] = module.validate
    return validate


def write_validators(directory: Path) -> list[Path]:
    """Write each schema's compiled validator into ``directory`` (a package): `make gen`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "__init__.py").write_text('"""Generated by `make gen`: do not edit."""\n')
    written = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        code = fastjsonschema.compile_to_code(json.loads(path.read_text(encoding="utf-8")))
        entry = re.search(r"^def (validate_\w+)\(", code, re.MULTILINE)
        if entry is None:
            raise ValueError(f"no validate function in the code compiled from {path.name}")
        target = directory / f"{_module_name(path.name)}.py"
        target.write_text(
            f'"""Generated by `make gen` from rules/schema/{path.name}: do not edit."""\n'
            f"SCHEMA_SHA256 = {_schema_digest(path.name)!r}\n{code}\nvalidate = {entry[1]}\n",
            encoding="utf-8",
        )
        written.append(target)
    return written


_passed = threading.local()  # the (definition, object) pairs that passed, per validation
_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean", "null"})


def _once_per_object(
    validate: Callable[[Any], Any], schema: Mapping[str, Any]
) -> Callable[[Any], Any]:
    """``validate``, checking a mapping or list against a ``$defs`` entry once per
    validation, however often it occurs: YAML aliases share one object (a ``source``
    written once and aliased by every practice: checking it again took a third of the
    validation of 10,000 synthetic practices). Only passes are remembered, so every
    failure is raised where it was before. The compiled code calls each ``$defs`` entry
    through its module namespace by name (fastjsonschema's ``validate_<uri>___defs_<name>``);
    if it did not, nothing is remembered and nothing changes. Entries of a scalar type
    are not wrapped (nothing to share, and the wrapper would cost more than the check)."""
    scalar = {
        re.sub(r"[^a-zA-Z0-9]", "_", name)
        for name, definition in schema.get("$defs", {}).items()
        if isinstance(definition, Mapping) and definition.get("type") in _SCALAR_TYPES
    }
    namespace = getattr(validate, "__globals__", {})
    for name, function in list(namespace.items()):
        if (
            name.startswith("validate_")
            and "___defs_" in name
            and name.rpartition("___defs_")[2] not in scalar
            and callable(function)
        ):
            namespace[name] = _remembering(name, function)

    def validate_once(data: Any) -> Any:
        _passed.pairs = set()
        try:
            return validate(data)
        finally:
            del _passed.pairs

    return validate_once


def _remembering(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def check(data: Any, *args: Any, **kwargs: Any) -> Any:
        pairs: set[tuple[str, int]] | None = getattr(_passed, "pairs", None)
        if pairs is None or not isinstance(data, dict | list):
            return function(data, *args, **kwargs)
        pair = (name, id(data))  # the object is alive (in data) until the validation ends
        if pair in pairs:
            return data
        result = function(data, *args, **kwargs)
        pairs.add(pair)
        return result

    return check


def _schema_errors(data: Any, schema_name: str) -> list[ValidationError]:
    """Every schema error of ``data``; the fast validator answers when there is none."""
    try:
        _fast_validator(schema_name)(data)
    except fastjsonschema.JsonSchemaValueException as fast_error:
        errors = _validator(schema_name).iter_errors(data)
        # The two must agree (a test checks); if only the fast one objects, it stands.
        return sorted(errors, key=lambda e: list(map(str, e.absolute_path))) or [
            ValidationError(fast_error.message)
        ]
    return []


def _entry_name(data: Any, path: Iterable[Any]) -> tuple[str, int | None, str]:
    """Name the entry a JSON path points into: (entry, line, rest of the path)."""
    parts = list(path)
    node = data
    line = data.line if isinstance(data, LinedMapping) else None
    entry = ""
    for depth, part in enumerate(parts):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, LinedMapping):
            line = node.line
        if depth == 1 and isinstance(node, Mapping) and "id" in node:
            entry = f"{parts[0]} '{node['id']}'"
    if not entry and parts:
        entry = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[:2])
        entry = entry.lstrip(".")
    rest = parts[2:] if len(parts) > 2 else []
    rest_text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return entry, line, rest_text


def _deepest(error: ValidationError) -> ValidationError:
    # oneOf/anyOf failures say little; the best sub-error says what is wrong.
    while error.context:
        error = best_match(error.context)
    return error


def digest(manifest: Mapping[str, Any], files: list[RuleFile]) -> str:
    """Content digest: independent of where the directory is and of YAML layout."""
    content = {
        "manifest": manifest,
        "files": [[f.layer, f.name, f.data] for f in files],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Reader:
    """Reads a rule base directory (and the bases it extends), collecting problems."""

    def __init__(self, problem: Callable[..., None]) -> None:
        self.problem = problem

    def read(
        self, directory: Path, chain: tuple[Path, ...] = ()
    ) -> tuple[LinedMapping, list[RuleFile]]:
        manifest_path = directory / MANIFEST
        if not directory.is_dir():
            self.problem(str(directory), "", "not a directory", kind=ProblemKind.FILE)
            return LinedMapping(), []
        manifest = self.parse(manifest_path, "manifest.schema.json")
        if manifest is None:
            return LinedMapping(), []
        base_files: list[RuleFile] = []
        extends = manifest.get("extends")
        if extends is not None:
            base = BUNDLED_RULES if extends == BUNDLED_ALIAS else (directory / extends)
            resolved = base.resolve()
            if resolved in chain or resolved == directory.resolve():
                cycle = " -> ".join(str(p) for p in (*chain, directory.resolve(), resolved))
                self.problem(
                    str(manifest_path),
                    "extends",
                    f"rule bases extend in a loop: {cycle}",
                    kind=ProblemKind.EXTENDS,
                    path=("extends",),
                )
            else:
                _, base_files = self.read(base, (*chain, directory.resolve()))
        layer = 1 + max((f.layer for f in base_files), default=-1)
        own = []
        for path in sorted(directory.glob("*.yaml")):
            if path.name == MANIFEST:
                continue
            data = self.parse(path, "rulefile.schema.json")
            if data is not None:
                own.append(RuleFile(path=str(path), name=path.name, layer=layer, data=data))
        if not own and not base_files:
            self.problem(
                str(directory),
                "",
                "no rule files (*.yaml besides rulebase.yaml)",
                kind=ProblemKind.FILE,
            )
        return manifest, base_files + own

    def parse(self, path: Path, schema_name: str) -> LinedMapping | None:
        shown = str(path)
        try:
            size = path.stat().st_size
            if size > MAX_RULE_FILE_BYTES:
                self.problem(
                    shown,
                    "",
                    f"too large: {size:,} bytes (at most {MAX_RULE_FILE_BYTES:,})",
                    kind=ProblemKind.FILE,
                )
                return None
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problem(shown, "", "file not found", kind=ProblemKind.FILE)
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(shown, "", f"cannot read: {exc}", kind=ProblemKind.FILE)
            return None
        try:
            data, duplicate_keys = _load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            self.problem(
                shown, "", f"not valid YAML: {exc}".splitlines()[0], line, kind=ProblemKind.YAML
            )
            return None
        for line, key in duplicate_keys:
            self.problem(
                shown,
                f"key '{key}'",
                "duplicate key (YAML keeps only the last)",
                line,
                kind=ProblemKind.YAML,
                id=key,
            )
        if not isinstance(data, LinedMapping):
            self.problem(shown, "", "must be a mapping at the top level", kind=ProblemKind.YAML)
            return None
        errors = _schema_errors(data, schema_name)
        for error in errors:
            deepest = _deepest(error)
            entry, line, rest = _entry_name(data, deepest.absolute_path)
            where = f"at {rest}: " if rest else ""
            self.problem(
                shown,
                entry,
                f"{where}{deepest.message}",
                line,
                kind=ProblemKind.SCHEMA,
                path=tuple(deepest.absolute_path),
            )
        return None if errors or duplicate_keys else data


if __name__ == "__main__":  # `make gen`: python -m engine.rulefiles gen/roadmap/schemas
    import sys

    for written in write_validators(Path(sys.argv[1])):
        print(written)
