"""The gRPC contract: `buf lint` (STANDARD) passes and nothing breaks the released one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUF = str(Path(sys.executable).parent / "buf")
RELEASED = REPO / "proto" / "released" / "roadmap-v1.binpb"


def buf(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUF, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_buf_lint_passes() -> None:
    result = buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_breaking_change_against_the_released_contract() -> None:
    result = buf("breaking", "--against", str(RELEASED))
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_would_catch_a_renamed_field(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    (copy / "proto" / "roadmap" / "v1").mkdir(parents=True)
    (copy / "buf.yaml").write_text((REPO / "buf.yaml").read_text())
    original = (REPO / "proto" / "roadmap" / "v1" / "roadmap.proto").read_text()
    renamed = original.replace(
        "string unit_id = 1;\n  // Status of each practice",
        "string unit = 1;\n  // Status of each practice",
    )
    if renamed == original:
        pytest.fail("the field to rename was not found")
    (copy / "proto" / "roadmap" / "v1" / "roadmap.proto").write_text(renamed)
    result = buf("breaking", "--against", str(RELEASED), cwd=copy)
    assert result.returncode != 0
    assert "unit_id" in result.stdout
