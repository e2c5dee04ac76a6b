"""Phase 1 of loading a rule base: its files read, parsed and checked against the schema.

YAML is read with the line each mapping starts on and with duplicate keys reported
(YAML itself keeps the last silently); every file is validated against the JSON
Schema in ``rules/schema/`` (a compiled validator first, the full one to explain);
``extends`` chains overlays onto a base. Problems go to the caller's list; nothing
here interprets the content (``engine.rulebase`` does).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

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
def _fast_validator(schema_name: str) -> Any:
    """Compiled to Python and ten times faster, but stops at the first error."""
    return fastjsonschema.compile(_schema(schema_name))


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
        loader = _YamlLoader(text)
        loader.duplicate_keys = []
        try:
            data = loader.get_single_data()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            self.problem(
                shown, "", f"not valid YAML: {exc}".splitlines()[0], line, kind=ProblemKind.YAML
            )
            return None
        finally:
            loader.dispose()
        for line, key in loader.duplicate_keys:
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
        return None if errors or loader.duplicate_keys else data
