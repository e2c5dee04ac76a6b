"""The conventions the server and the command line share: where a local service listens,
and how a flag takes its default from the environment (``ROADMAP_<FLAG>``)."""

from __future__ import annotations

import os
from pathlib import Path

#: Where a local server listens, and where clients look for one, unless told otherwise.
DEFAULT_ADDRESS = "127.0.0.1:50051"


def env(name: str, default: str) -> str:
    """ROADMAP_<name>, or ``default`` when it is unset."""
    return os.environ.get(f"ROADMAP_{name}", default)


def env_path(name: str) -> Path | None:
    """The path in ROADMAP_<name>, or None when it is unset or empty."""
    value = env(name, "")
    return Path(value) if value else None
