"""The command line as people use it (subprocess), every format checked for content;
the HTML rendered by headless Chromium; the Node.js client against a real server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.rulebase import load_rulebase
from tests.server_process import ServerProcess
from tests.test_cli_rules import REPO, roadmap

if TYPE_CHECKING:
    from collections.abc import Iterator

EXAMPLES = REPO / "clients" / "examples"
CD = EXAMPLES / "cd-without-regression-tests.json"
REFERENCE = EXAMPLES / "reference-mid-maturity.json"
INTERNAL = EXAMPLES / "internal-it-itsm-level2.json"
PORTFOLIO = EXAMPLES / "portfolio-20.jsonl"
NODE_CLIENT = REPO / "clients" / "node" / "client.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("server"))
    process.wait_serving()
    yield process
    assert process.stop() == 0


def plan_json(path: Path) -> dict[str, object]:
    result = roadmap("plan", str(path))
    assert result.returncode == 0, result.stderr
    response: dict[str, object] = json.loads(result.stdout)
    return response


def prerequisite_edges(response: dict[str, object]) -> set[tuple[str, str]]:
    steps = response["steps"]
    assert isinstance(steps, list)
    return {(required, step["practice_id"]) for step in steps for required in step["requires"]}


# --- formats ----------------------------------------------------------------------------


def test_table_shows_levels_waves_and_portfolio() -> None:
    result = roadmap("plan", "--format", "table", str(REFERENCE))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in (
        "Where the unit stands",
        "devsecops",
        "2 / 6",
        "Roadmap",
        "outsourcing-evaluation",
        "Service portfolio",
        "decommission",
    ):
        assert text in out
    assert "█" in out  # the level bars


def test_every_view_shows_signed_reasons_once_quarters_and_the_portfolio_caveats(
    tmp_path: Path,
) -> None:
    held = [
        s["practice_id"]
        for s in plan_json(REFERENCE)["steps"]  # type: ignore[attr-defined]
        if any(r.get("amount", 0) < 0 for r in s["reasons"])
    ]
    assert held, "the internal unit's DevSecOps steps are held back by the user-base rule"
    for name in ("table", "markdown", "html"):
        text = ""
        for example in (REFERENCE, INTERNAL):  # the second has a critical service to outsource
            out = tmp_path / f"{example.stem}.{name}"
            result = roadmap("plan", "--format", name, "-o", str(out), str(example))
            assert result.returncode == 0, result.stderr
            text += out.read_text()
        flat = " ".join(text.replace("│", " ").split())
        assert "held back by" in flat, name
        assert "(-1)" in flat, name  # what held a step back, with its sign
        assert "(+2)" in flat, name  # what raised one
        assert "Q1" in flat, name  # waves are quarters
        assert "business-critical" in flat, name  # the critical-service caveat
        assert "payback" in flat, name
        if name == "markdown":
            for row in (line for line in text.splitlines() if line.startswith("| **")):
                parts = row.split(" | ")[3].split("; ")
                assert len(parts) == len(set(parts)), row  # no reason printed twice


def test_the_level_bar_shows_the_number_its_label_states() -> None:
    out = roadmap("plan", "--format", "table", str(REFERENCE)).stdout
    rows = [line for line in out.splitlines() if "% to level" in line]
    assert rows
    for row in rows:
        bar = re.search(r"([█░]{20})\s+(\d+)% to level", row)
        assert bar is not None, row
        filled = bar.group(1).count("█")
        assert filled == round(int(bar.group(2)) / 100 * 20), row


def test_markdown_is_a_wiki_page() -> None:
    result = roadmap("plan", "--format", "markdown", str(CD))
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert page.startswith("# Roadmap for web-shop\n")
    assert "| model | level | progress |" in page
    assert "### Wave 1" in page
    assert "```mermaid\ngraph LR" in page
    assert "- **continuous-deployment-without-regression-tests**:" in page
    # Every table row has as many cells as its header.
    for block in re.findall(r"(\| step .*?)(?:\n\n)", page, flags=re.DOTALL):
        widths = {line.count(" | ") for line in block.splitlines() if not line.startswith("|---")}
        assert len(widths) == 1, block


MERMAID_LINE = [
    re.compile(r"^graph LR$"),
    re.compile(r'^  subgraph wave(\d+)\["Wave \1"\]$'),
    re.compile(r'^    (p_[a-z0-9_]+)\["([a-z0-9-]+)<br/>[^"]*"\]$'),
    re.compile(r"^  end$"),
    re.compile(r"^  (p_[a-z0-9_]+) --> (p_[a-z0-9_]+)$"),
]


def parse_mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Parse the flowchart subset we emit; fail on any other line."""
    nodes: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    depth = 0
    lines = text.rstrip("\n").splitlines()
    assert MERMAID_LINE[0].match(lines[0])
    for line in lines[1:]:
        matched = [pattern.match(line) for pattern in MERMAID_LINE[1:]]
        assert any(matched), f"not a flowchart line: {line!r}"
        subgraph, node, end, edge = matched
        if subgraph:
            depth += 1
        elif end:
            depth -= 1
        elif node:
            assert depth == 1
            nodes[node.group(1)] = node.group(2)
        elif edge:
            assert edge.group(1) in nodes, f"edge from an undeclared node: {line}"
            assert edge.group(2) in nodes, f"edge to an undeclared node: {line}"
            edges.add((nodes[edge.group(1)], nodes[edge.group(2)]))
        assert depth in (0, 1)
    assert depth == 0
    return nodes, edges


@pytest.mark.parametrize("example", [CD, REFERENCE, INTERNAL], ids=lambda p: p.stem)
def test_mermaid_edges_are_the_prerequisites_among_the_steps(example: Path) -> None:
    result = roadmap("plan", "--format", "mermaid", str(example))
    assert result.returncode == 0, result.stderr
    nodes, edges = parse_mermaid(result.stdout)
    response = plan_json(example)
    steps = response["steps"]
    assert isinstance(steps, list)
    assert sorted(nodes.values()) == sorted(s["practice_id"] for s in steps)
    assert edges == prerequisite_edges(response)
    if example == INTERNAL:
        assert edges  # this one has prerequisite chains to draw


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"
        )
    return path


def run_chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [chromium(), *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "roadmap.html"
    result = roadmap("plan", "--format", "html", "--output", str(page), str(INTERNAL))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html  # nothing to fetch or run: readable offline

    dom = run_chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr
    rendered = dom.stdout
    response = plan_json(INTERNAL)
    steps = response["steps"]
    assert isinstance(steps, list)
    waves = sorted({s["wave"] for s in steps})
    assert len(re.findall(r'<section class="wave" id="wave-\d+">', rendered)) == len(waves)
    assert 'id="levels-chart"' in rendered
    assert len(re.findall(r'class="level-bar" data-model="', rendered)) == 4
    assert 'id="dependency-graph"' in rendered
    drawn = set(
        re.findall(r'class="edge" data-from="([a-z0-9-]+)" data-to="([a-z0-9-]+)"', rendered)
    )
    assert drawn == prerequisite_edges(response)
    assert len(re.findall(r'<g class="node" data-id="', rendered)) == len(steps)

    shot = tmp_path / "roadmap.png"
    capture = run_chromium(
        f"--screenshot={shot}",
        "--window-size=1280,1600",
        page.as_uri(),
        profile=tmp_path / "profile2",
    )
    assert capture.returncode == 0, capture.stderr
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 20_000  # a page with text and charts, not a blank one


def test_several_files_to_a_directory(tmp_path: Path) -> None:
    result = roadmap(
        "plan", "--format", "markdown", "--output", str(tmp_path), str(CD), str(REFERENCE)
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "reference-mid-maturity.md",
        "web-shop.md",
    ]


# --- batch, compare, explain, practices ---------------------------------------------------


def test_batch_streams_the_portfolio_with_progress_and_summary(
    server: ServerProcess, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "roadmaps"  # created, with its parents
    result = roadmap(
        "batch", str(PORTFOLIO), "--target", server.target, "--out", str(out), "--top", "5"
    )
    assert result.returncode == 0, result.stderr
    assert "roadmaps" in result.stderr
    assert "100%" in result.stderr  # the progress bar ran to the end
    assert "20 roadmaps written" in result.stderr
    assert "Portfolio of 20 units" in result.stdout
    assert "Shared blockers" in result.stdout
    written = sorted(p.name for p in out.glob("unit-*.json"))
    assert len(written) == 20
    first = json.loads((out / "unit-01.json").read_text())
    assert first["unit_id"] == "unit-01"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["units"] == 20
    assert len(summary["blockers"]) <= 5


def test_batch_without_out_prints_the_summary_and_writes_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    result = roadmap("batch", str(PORTFOLIO), "--target", server.target, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "20 roadmaps computed (--out DIR keeps them); 0 item(s) failed" in result.stderr
    assert "Portfolio of 20 units" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_batch_reports_bad_items_and_goes_on(server: ServerProcess, tmp_path: Path) -> None:
    source = tmp_path / "mixed.jsonl"
    lines = PORTFOLIO.read_text().splitlines()[:3]
    lines.insert(
        1,
        json.dumps(
            {
                "unit_id": "broken",
                "practices": [{"practice_id": "nope", "adoption": "ADOPTION_ADOPTED"}],
            }
        ),
    )
    lines.insert(3, "{not json")
    source.write_text("\n".join(lines) + "\n")
    result = roadmap(
        "batch", str(source), "--target", server.target, "--out", str(tmp_path / "out")
    )
    assert result.returncode == 1
    assert (
        f"{source}:2: assessment.practices[0].practice_id: unknown practice 'nope'" in result.stderr
    )
    assert f"{source}:4: not a roadmap.v1.Assessment in JSON" in result.stderr
    assert "3 roadmaps written" in result.stderr
    assert "2 item(s) failed" in result.stderr
    assert len(list((tmp_path / "out").glob("unit-*.json"))) == 3


def test_compare_explain_practices_local_and_remote(server: ServerProcess, tmp_path: Path) -> None:
    before = json.loads(CD.read_text())
    after = json.loads(CD.read_text())
    after["practices"][-1] = {
        "practice_id": "automated-regression-testing",
        "adoption": "ADOPTION_ADOPTED",
    }
    (tmp_path / "before.json").write_text(json.dumps(before))
    (tmp_path / "after.json").write_text(json.dumps(after))
    for where in ([], ["--target", server.target]):
        compared = roadmap(
            "compare",
            str(tmp_path / "before.json"),
            str(tmp_path / "after.json"),
            "--format",
            "json",
            *where,
        )
        assert compared.returncode == 0, compared.stderr
        comparison = json.loads(compared.stdout)
        assert "automated-regression-testing" in comparison["steps_completed"]
        assert [w["code"] for w in comparison["warnings_resolved"]] == [
            "continuous-deployment-without-regression-tests"
        ]

        explained = roadmap("explain", "peer-to-peer-support", str(INTERNAL), *where)
        assert explained.returncode == 0, explained.stderr
        assert "unmet prerequisites: knowledge-base, self-service-portal" in explained.stdout
        assert (
            "[self-service-at-typical-level; 001_960a3614b46154cc.txt § Attribute #6: Empower end-users]"
            in explained.stdout
        )

        mistyped = roadmap("explain", "peer-to-peer-suport", str(INTERNAL), *where)
        assert mistyped.returncode == 1
        assert "error: PRACTICE: unknown practice 'peer-to-peer-suport'" in mistyped.stderr
        assert str(INTERNAL) not in mistyped.stderr

        listed = roadmap("practices", "--model", "agile-itil", "--format", "json", *where)
        assert listed.returncode == 0, listed.stderr
        practices = json.loads(listed.stdout)["practices"]
        assert len(practices) == len(load_rulebase().practices_of("agile-itil"))
        assert {p["model"] for p in practices} == {"agile-itil"}


def test_exit_codes() -> None:
    assert roadmap("plan", "--target", "127.0.0.1:1", "--timeout", "2", str(CD)).returncode == 3
    assert roadmap("plan", "--format", "pdf", str(CD)).returncode == 2
    unknown = roadmap("practices", "--model", "itil")
    assert unknown.returncode == 1
    assert "model: unknown model 'itil'" in unknown.stderr
    assert roadmap("explain", "knowledge-bas", str(CD)).returncode == 1


# --- the Node.js client -------------------------------------------------------------------


def node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(NODE_CLIENT), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_node_client_get_roadmap(server: ServerProcess) -> None:
    result = node("get", server.target, str(REFERENCE))
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    python = plan_json(REFERENCE)
    assert response["unit_id"] == "reference-mid-maturity"
    assert [s["practice_id"] for s in response["steps"]] == [
        s["practice_id"] for s in python["steps"]
    ]  # type: ignore[attr-defined]
    assert len(response["outsourcing"]) == 20
    assert response["outsourcing"][0]["recommendation"].startswith("RECOMMENDATION_")


def test_node_client_stream_and_errors(server: ServerProcess, tmp_path: Path) -> None:
    result = node("stream", server.target, str(PORTFOLIO))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["index"] for a in answers] == [str(n) for n in range(20)]  # int64 as a string in JS
    assert [a["unit_id"] for a in answers] == [f"unit-{n:02d}" for n in range(1, 21)]
    assert all(a["result"] == "roadmap" for a in answers)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"unit_id": "", "practices": [{"practice_id": "nope", "adoption": "ADOPTION_ADOPTED"}]}
        )
    )
    refused = node("get", server.target, str(bad))
    assert refused.returncode == 1
    assert "INVALID_ARGUMENT" in refused.stderr
    assert "assessment.practices[0].practice_id: unknown practice 'nope'" in refused.stderr


def test_the_html_example_linked_from_the_readme_is_current() -> None:
    committed = EXAMPLES / "reference-mid-maturity.html"
    result = roadmap("plan", "--format", "html", str(REFERENCE))
    assert result.returncode == 0, result.stderr
    assert result.stdout == committed.read_text(), "regenerate it: make examples"
