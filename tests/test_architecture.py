"""The layers, as the code imports them: engine at the bottom (no gRPC, no protobuf),
the contract adapter on it, the server and the clients on both, never each other
(but for the console script's entry point, which adds `roadmap serve`), and no cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import engine

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "contract", "server", "clients", "bench")
#: package -> the project packages it may import
ALLOWED = {
    "engine": set(),
    "contract": {"engine"},
    "server": {"engine", "contract"},
    "clients": {"engine", "contract"},
    # the benchmarks measure the server's own stack too (bench.floor's handler floor)
    "bench": {"engine", "contract", "server", "bench"},
}
#: The one module of clients/ that may import server/: the console script's entry point.
ENTRY_POINT = "clients.launch"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local and type-only included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {
    module_name(path): imports(path)
    for package in PACKAGES
    for path in (REPO / package).rglob("*.py")
}


def project_imports(module: str) -> set[str]:
    return {name for name in MODULES[module] if name in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_the_layers_below_it(module: str) -> None:
    package = module.split(".", maxsplit=1)[0]
    allowed = ALLOWED[package] | {package}
    if module == ENTRY_POINT:
        allowed = allowed | {"server"}
    strays = sorted(name for name in project_imports(module) if name.split(".")[0] not in allowed)
    assert strays == [], f"{module} imports {strays}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("engine")))
def test_the_engine_knows_nothing_of_grpc_or_protobuf(module: str) -> None:
    seen = sorted(n for n in MODULES[module] if n.split(".")[0] in {"grpc", "roadmap"})
    seen += sorted(n for n in MODULES[module] if n.startswith(("google.protobuf", "google.rpc")))
    assert seen == [], f"{module} imports {seen}"


def test_the_project_has_no_import_cycle() -> None:
    graph = {module: project_imports(module) for module in MODULES}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_the_engine_public_surface_resolves_and_importing_it_stays_light() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    light = "import sys, engine.assessment; print(sorted({'durable', 'yaml', 'jsonschema'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", light], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_public_name_says_where_it_lives() -> None:
    assert set(engine._MODULE_OF) == set(engine.__all__)  # ruff (RUF022) keeps it sorted


def test_the_fork_server_started_early_preloads_the_jobs_the_pool_runs() -> None:
    """`roadmap serve` starts the engine processes' fork server before it imports the
    server stack, naming the jobs' module as text: it must be the module the pool uses."""
    from contract import offload  # noqa: PLC0415
    from server import command  # noqa: PLC0415

    assert offload.__name__ == command.OFFLOAD
