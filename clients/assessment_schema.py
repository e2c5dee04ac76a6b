"""The JSON Schema of assessment files, generated from the contract (proto/).

An assessment file is the proto3 JSON form of ``roadmap.v1.Assessment``, in JSON or YAML.
The schema is derived from the proto descriptor (compiled here with its comments, which
become the descriptions editors show), so it follows the contract by construction:

- every field under both names protobuf's JSON parser accepts, the proto field name
  (``unit_id``) and the proto3 JSON name (``unitId``), but not both at once;
- no other field (``additionalProperties: false``), as the parser refuses unknown ones;
- enums by name (or by number, as proto3 JSON allows); ``null`` for an unset field
  (what an empty YAML value reads as), never inside a list;
- 32-bit integers and doubles as numbers, or as the strings proto3 JSON allows.

On top of the types, :data:`CONSTRAINTS` states what the engine requires of a field
(``engine/assessment.py`` checks the same; ``tests/test_schema.py`` holds each entry to
the engine): required fields, fractions between 0 and 1, bounds, sizes. A bounded number
is accepted as a number only: a bound cannot be checked on its string form. Practice ids
and model ids are the rule base's, not the contract's, so the schema does not list them.

``make schema`` writes :data:`SCHEMA_PATH`; a test fails when it is stale.
"""

from __future__ import annotations

import importlib.resources
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

from engine.assessment import (
    MAX_ANNUAL_COST,
    MAX_HORIZON_MONTHS,
    MAX_PRACTICE_STATUSES,
    MAX_SERVICES,
    MAX_TARGETS,
    MAX_UNIT_ID_LENGTH,
)

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "proto"
PROTO_FILE = "roadmap/v1/roadmap.proto"
ROOT_MESSAGE = "roadmap.v1.Assessment"
SCHEMA_PATH = PROTO_ROOT / "schema" / "assessment.schema.json"

_FRACTION: dict[str, Any] = {"minimum": 0, "maximum": 1}
_AMOUNT: dict[str, Any] = {"minimum": 0, "maximum": MAX_ANNUAL_COST}

#: What the engine requires of a field beyond its protobuf type, by the field's full
#: name. ``required``: must be present and not null; ``exclude``: enum values refused.
CONSTRAINTS: dict[str, dict[str, Any]] = {
    "roadmap.v1.Assessment.unit_id": {
        "required": True,
        "pattern": r"\S",
        "maxLength": MAX_UNIT_ID_LENGTH,
    },
    "roadmap.v1.Assessment.practices": {"maxItems": MAX_PRACTICE_STATUSES},
    "roadmap.v1.Assessment.targets": {"maxItems": MAX_TARGETS},
    "roadmap.v1.Assessment.services": {"maxItems": MAX_SERVICES},
    "roadmap.v1.Assessment.wave_capacity": {"minimum": 1},
    "roadmap.v1.Assessment.horizon_months": {"minimum": 3, "maximum": MAX_HORIZON_MONTHS},
    "roadmap.v1.PracticeStatus.practice_id": {"required": True, "minLength": 1},
    "roadmap.v1.PracticeStatus.adoption": {
        "required": True,
        "exclude": ["ADOPTION_UNSPECIFIED"],
    },
    "roadmap.v1.PracticeStatus.progress": _FRACTION,
    "roadmap.v1.Metrics.keep_the_lights_on_share": _FRACTION,
    "roadmap.v1.Metrics.staff_turnover_rate": _FRACTION,
    "roadmap.v1.Metrics.self_service_share": _FRACTION,
    "roadmap.v1.Target.model": {"required": True, "minLength": 1},
    "roadmap.v1.Target.level": {"minimum": 0},
    "roadmap.v1.Service.id": {"required": True, "pattern": r"\S"},
    "roadmap.v1.Service.annual_cost": _AMOUNT,
    "roadmap.v1.Service.transition_cost": _AMOUNT,
    "roadmap.v1.Service.contract_end_date": {
        "pattern": r"^([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?$"
    },
}

_F = descriptor_pb2.FieldDescriptorProto
_INT32 = {_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32}
_UINT32 = {_F.TYPE_UINT32, _F.TYPE_FIXED32}
_FLOATING = {_F.TYPE_DOUBLE, _F.TYPE_FLOAT}
#: proto3 JSON: a number may also be written as a string.
_INTEGER_STRING = r"^-?[0-9]+$"
_NUMBER_STRING = r"^(-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|NaN|Infinity|-Infinity)$"
# Message descriptor paths in a FileDescriptorProto's source info: message_type = 4,
# field = 2, nested enum_type = 4 (of a message), enum_type = 5 (of the file), value = 2.
_MESSAGE, _FIELD, _ENUM, _ENUM_VALUE = 4, 2, 5, 2


def compile_contract(proto_root: Path = PROTO_ROOT) -> descriptor_pb2.FileDescriptorSet:
    """The contract's descriptors with their comments, compiled by protoc."""
    from grpc_tools import protoc  # noqa: PLC0415  (only the generator needs protoc)

    includes = importlib.resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "contract.binpb"
        status = protoc.main(
            [
                "protoc",
                f"-I{proto_root}",
                f"-I{includes}",
                "--include_source_info",
                "--include_imports",
                f"--descriptor_set_out={out}",
                PROTO_FILE,
            ]
        )
        if status != 0:
            raise RuntimeError(f"protoc could not compile {proto_root / PROTO_FILE}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


class _Contract:
    """Messages, enums and comments of the compiled files, by full name."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        for file in files.file:
            located = {
                tuple(location.path): location.leading_comments
                for location in file.source_code_info.location
            }
            for index, enum in enumerate(file.enum_type):
                self._enum(f"{file.package}.{enum.name}", enum, (_ENUM, index), located)
            for index, message in enumerate(file.message_type):
                self._message(file.package, message, (_MESSAGE, index), located)

    def _message(
        self,
        scope: str,
        message: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        name = f"{scope}.{message.name}"
        self.messages[name] = message
        self.comments[name] = located.get(path, "")
        for index, field in enumerate(message.field):
            self.comments[f"{name}.{field.name}"] = located.get((*path, _FIELD, index), "")
        for index, enum in enumerate(message.enum_type):
            self._enum(f"{name}.{enum.name}", enum, (*path, 4, index), located)
        for index, nested in enumerate(message.nested_type):
            self._message(name, nested, (*path, 3, index), located)

    def _enum(
        self,
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.enums[name] = enum
        self.comments[name] = located.get(path, "")
        for index, value in enumerate(enum.value):
            self.comments[f"{name}.{value.name}"] = located.get((*path, _ENUM_VALUE, index), "")


def _text(comment: str) -> str:
    """A proto comment as one paragraph."""
    return " ".join(comment.split())


class _Builder:
    def __init__(self, contract: _Contract) -> None:
        self.contract = contract
        self.definitions: dict[str, dict[str, Any]] = {}

    def reference(self, full_name: str) -> dict[str, Any]:
        if full_name not in self.definitions:
            self.definitions[full_name] = {}  # reserved first: recursive messages end
            if full_name in self.contract.enums:
                self.definitions[full_name] = self.enum(full_name, [])
            else:
                self.definitions[full_name] = self.message(full_name)
        return {"$ref": f"#/$defs/{full_name}"}

    def enum(self, full_name: str, exclude: list[str]) -> dict[str, Any]:
        enum = self.contract.enums[full_name]
        values = [v for v in enum.value if v.name not in exclude]
        meanings = [
            f"{v.name}: {_text(self.contract.comments[f'{full_name}.{v.name}'])}"
            for v in values
            if self.contract.comments[f"{full_name}.{v.name}"]
        ]
        description = " ".join([_text(self.contract.comments[full_name]), *meanings]).strip()
        schema: dict[str, Any] = {
            "description": description,
            "enum": [v.name for v in values] + [v.number for v in values],
        }
        if not description:
            del schema["description"]
        return schema

    def scalar(
        self, field: descriptor_pb2.FieldDescriptorProto, *, bounded: bool
    ) -> dict[str, Any]:
        """The field's JSON value; a number with bounds is a number only."""
        kind = field.type
        if kind in _INT32 | _UINT32:
            low, high = (0, 2**32 - 1) if kind in _UINT32 else (-(2**31), 2**31 - 1)
            if bounded:
                return {"type": ["integer"], "minimum": low, "maximum": high}
            return {
                "type": ["integer", "string"],
                "minimum": low,
                "maximum": high,
                "pattern": _INTEGER_STRING,
            }
        if kind in _FLOATING:
            if bounded:
                return {"type": ["number"]}
            return {"type": ["number", "string"], "pattern": _NUMBER_STRING}
        if kind == _F.TYPE_BOOL:
            return {"type": ["boolean"]}
        if kind == _F.TYPE_STRING:
            return {"type": ["string"]}
        raise NotImplementedError(f"{field.name}: protobuf type {kind} is not in assessments")

    def value(self, owner: str, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        """One element of the field (the whole field unless repeated), with constraints."""
        rules = dict(CONSTRAINTS.get(f"{owner}.{field.name}", {}))
        for key in ("required", "maxItems"):  # of the field or its list, not an element
            rules.pop(key, None)
        exclude = rules.pop("exclude", [])
        if field.type == _F.TYPE_ENUM:
            name = field.type_name.lstrip(".")
            return self.enum(name, exclude) if exclude else self.reference(name)
        if field.type == _F.TYPE_MESSAGE:
            return self.reference(field.type_name.lstrip("."))
        bounded = any(key in rules for key in ("minimum", "maximum"))
        return self.scalar(field, bounded=bounded) | rules

    def field(self, owner: str, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        """The field's schema; null (unset) is allowed unless the field is required."""
        rules = CONSTRAINTS.get(f"{owner}.{field.name}", {})
        nullable = not rules.get("required")
        schema = self.value(owner, field)
        if field.label == _F.LABEL_REPEATED:
            schema = {"type": ["array"], "items": schema}
            if "maxItems" in rules:
                schema["maxItems"] = rules["maxItems"]
        if nullable and "type" in schema:
            schema["type"] = [*schema["type"], "null"]
        elif nullable and "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        elif nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        if "type" in schema and len(schema["type"]) == 1:
            schema["type"] = schema["type"][0]
        if comment := _text(self.contract.comments[f"{owner}.{field.name}"]):
            schema = {"description": comment, **schema}
        return schema

    def message(self, full_name: str) -> dict[str, Any]:
        message = self.contract.messages[full_name]
        if message.options.map_entry or (
            message.oneof_decl
            and not all(f.proto3_optional for f in message.field if f.HasField("oneof_index"))
        ):
            raise NotImplementedError(f"{full_name}: maps and oneofs are not in assessments")
        properties: dict[str, Any] = {}
        exclusive: dict[str, Any] = {}
        required: list[list[str]] = []
        for field in message.field:
            names = [field.name] if field.json_name == field.name else [field.name, field.json_name]
            for name in names:
                properties[name] = self.field(full_name, field)
            if len(names) > 1:  # the proto name and the JSON name
                exclusive[field.name] = {"not": {"required": [field.json_name]}}
            if CONSTRAINTS.get(f"{full_name}.{field.name}", {}).get("required"):
                required.append(names)
        schema: dict[str, Any] = {"type": "object"}
        if comment := _text(self.contract.comments[full_name]):
            schema["description"] = comment
        schema |= {"properties": properties, "additionalProperties": False}
        if exclusive:
            schema["dependentSchemas"] = exclusive
        if single := [names[0] for names in required if len(names) == 1]:
            schema["required"] = single
        if spelled := [names for names in required if len(names) > 1]:
            schema["allOf"] = [{"anyOf": [{"required": [n]} for n in names]} for names in spelled]
        return schema


def assessment_schema(files: descriptor_pb2.FileDescriptorSet | None = None) -> dict[str, Any]:
    """The JSON Schema (2020-12) of an assessment file."""
    builder = _Builder(_Contract(files if files is not None else compile_contract()))
    root = builder.message(ROOT_MESSAGE)  # inline: editors read a root $ref unevenly
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:roadmap-engine:schema:roadmap.v1.Assessment",
        "title": "Roadmap Engine assessment file (roadmap.v1.Assessment as proto3 JSON)",
        "$comment": "Generated from proto/roadmap/v1/roadmap.proto by `make schema` "
        "(clients/assessment_schema.py); do not edit.",
        **root,
        "$defs": dict(sorted(builder.definitions.items())),
    }


def render() -> str:
    return json.dumps(assessment_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m clients.assessment_schema [PATH]``: write the schema (default: stdout)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args:
        path = Path(args[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
