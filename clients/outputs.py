"""What the command line writes: JSON in one convention for every command, the report
formats, and a console that leaves a closed pipe (``| head``) to the caller."""

from __future__ import annotations

import errno
import json
import os
import re
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from rich.console import Console

from clients import render

if TYPE_CHECKING:
    from pathlib import Path

    from roadmap.v1 import roadmap_pb2 as pb


class StdoutConsole(Console):
    """A rich console on stdout that leaves a closed pipe to :func:`clients.cli.main`.

    rich's own handling exits with status 1; this keeps one convention (141) for every
    command, whether rich or ``print`` met the closed pipe.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def to_json(message: Any, names: str = "snake", *, compact: bool = False) -> str:
    """Proto3 JSON of a contract message, every field present, stable order.

    ``names``: the proto field names (``snake``) or the proto3 JSON names (``camel``);
    ``compact``: one line, for JSON Lines.
    """
    record = json_format.MessageToDict(
        message,
        preserving_proto_field_name=names == "snake",
        always_print_fields_with_no_presence=True,
    )
    return dumps(record, compact=compact)


def dumps(record: Any, *, compact: bool = False) -> str:
    if compact:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(record, ensure_ascii=False, indent=2)


def camel_keys(value: Any) -> Any:
    """``value`` with every dict key in lowerCamelCase, as proto3 JSON spells field names."""
    if isinstance(value, dict):
        return {
            re.sub(r"_([a-z0-9])", lambda m: m[1].upper(), key): camel_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def rendered(
    response: pb.GetRoadmapResponse, output: str, names: str, *, compact: bool = False
) -> str | None:
    """The text for a format; None for `table`, which rich prints itself."""
    if output == "json":
        return to_json(response, names, compact=compact) + "\n"
    if output == "markdown":
        return render.markdown(response)
    if output == "mermaid":
        return render.mermaid(response)
    if output == "html":
        return render.html(response)
    return None


def write_json(path: Path, text: str) -> None:
    path.write_text(text + "\n", encoding="utf-8")
