"""Assessment files as the command line reads them: proto3 JSON or YAML, one file, a
directory of files, or JSON Lines."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients.assess import YAML_SUFFIXES, assessment_from_yaml

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path


class InputError(Exception):
    """A file the command cannot use; the message says which and why."""


def read_assessment(path: Path) -> pb.Assessment:
    """An assessment file: the proto3 JSON form of roadmap.v1.Assessment, in JSON or YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    if path.suffix.lower() in YAML_SUFFIXES:
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
