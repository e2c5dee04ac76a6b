"""Assessment files as the command line reads them: proto3 JSON or YAML (the same
fields; YAML errors name their line), one file, a directory of files, or JSON Lines."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import yaml
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from engine.errors import parse_path

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterator, Sequence
    from pathlib import Path


YAML_SUFFIXES = (".yaml", ".yml")


class _Loader(yaml.SafeLoader):
    """YAML as data: dates stay text (contract_end_date is "YYYY-MM-DD", a string), and
    a key given twice is an error rather than silently the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:  # noqa: FBT001, FBT002  (PyYAML's signature)
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                line = first.setdefault(key, key_node.start_mark.line)
            except TypeError:
                continue  # an unhashable key: PyYAML's own check reports it
            if line != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first on line {line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line_of(node: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the value at ``path`` (proto or JSON field names), if found."""
    line = None
    for step in path:
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if step < len(node.value) else None
        elif isinstance(node, yaml.MappingNode) and isinstance(step, str):
            camel = re.sub(r"_([a-z0-9])", lambda m: m[1].upper(), step)
            node = next((v for k, v in node.value if k.value in (step, camel)), None)
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def assessment_from_yaml(text: str) -> pb.Assessment:
    """An assessment written in YAML (the proto3 JSON form); ValueError says what and
    on which line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        record = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(record, dict):
        raise ValueError("expected a mapping of fields (unit_id: …), not a single value")
    try:
        return json_format.ParseDict(record, pb.Assessment())
    except json_format.ParseError as exc:
        found = re.findall(r"at (?:Assessment|\"Assessment)([\w.\[\]]*)", str(exc))
        line = _line_of(node, parse_path(found[-1].strip("."))) if found else None
        where = f"line {line}: " if line else ""
        raise ValueError(f"{where}{exc}") from None


class InputError(Exception):
    """A file the command cannot use; the message says which and why."""


def read_assessment(path: Path) -> pb.Assessment:
    """An assessment file: the proto3 JSON form of roadmap.v1.Assessment, in JSON or YAML
    (by its suffix; without one of theirs, as a pipe has none, by its first character)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES or (suffix != ".json" and not text.lstrip().startswith("{")):
        try:
            return assessment_from_yaml(text)
        except ValueError as exc:
            raise InputError(f"{path}: not a roadmap.v1.Assessment in YAML: {exc}") from exc
    return parse_assessment(text, str(path))


def parse_assessment(text: str, where: str) -> pb.Assessment:
    try:
        return json_format.Parse(text, pb.Assessment())
    except json_format.ParseError as exc:
        raise InputError(f"{where}: not a roadmap.v1.Assessment in JSON: {exc}") from exc


def read_or_report(paths: Sequence[Path]) -> list[pb.Assessment] | None:
    """The assessment files, or None after printing why one cannot be used."""
    try:
        return [read_assessment(path) for path in paths]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def read_many(source: Path) -> Iterator[tuple[str, pb.Assessment | InputError]]:
    """Assessments from a directory of *.json files or a JSONL file, lazily, in order."""
    if source.is_dir():
        for path in sorted(source.glob("*.json")):
            try:
                yield str(path), read_assessment(path)
            except InputError as exc:
                yield str(path), exc
        return
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        yield str(source), InputError(f"{source}: cannot read: {exc.strerror}")
        return
    for number, line in enumerate(lines, start=1):
        if line.strip():
            where = f"{source}:{number}"
            try:
                yield where, parse_assessment(line, where)
            except InputError as exc:
                yield where, exc
