"""The HTML report (`roadmap plan --format html`): its summary, the model x axis x level
heatmap, a dependency graph that fits the page, and printing without loss."""

from __future__ import annotations

import re
from html import unescape
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from google.protobuf import json_format
from roadmap.v1 import roadmap_pb2 as pb

from clients import render
from clients.backend import LocalBackend
from tests.test_clients import INTERNAL, REFERENCE, run_chromium

if TYPE_CHECKING:
    from pathlib import Path

    from engine.model import RuleBase


@pytest.fixture(scope="module")
def responses(bundled: RuleBase) -> dict[str, pb.GetRoadmapResponse]:
    backend = LocalBackend(bundled)
    return {
        path.stem: backend.roadmap(json_format.Parse(path.read_text(), pb.Assessment()))
        for path in (INTERNAL, REFERENCE)
    }


def figure(page: str, key: str) -> str:
    found = re.search(
        rf'data-figure="{key}"><span class="value">([^<]*)</span><span class="label">([^<]*)<',
        page,
    )
    assert found is not None, key
    return unescape(f"{found[1]} {found[2]}")


def test_the_summary_gives_steps_quarters_effort_savings_and_warnings(
    responses: dict[str, pb.GetRoadmapResponse],
) -> None:
    response = responses[INTERNAL.stem]
    page = render.html(response)
    waves = len({s.wave for s in response.steps})
    assert figure(page, "steps") == f"{len(response.steps)} steps in {waves} waves"
    quarters = max(s.quarter for s in response.steps)
    beyond = sum(1 for s in response.steps if not s.quarter)
    assert beyond == 1  # the internal unit's plan runs past its 36 months
    assert figure(page, "quarters") == (
        f"{quarters} quarters (Q1\u2013Q{quarters}, 1 step beyond the horizon)"
    )
    effort = sum(s.effort for s in response.steps)
    assert figure(page, "effort") == f"{effort} effort points (10 a quarter)"
    net = sum(d.net_first_year_saving for d in response.outsourcing)
    assert figure(page, "net-saving") == f"{net:,.0f} net saving, first year"
    assert figure(page, "warnings") == f"{len(response.warnings)} warnings"
    assert page.index('id="summary"') < page.index("Where the unit stands")


def heatmap_cells(page: str, model: str) -> dict[tuple[str, int], tuple[str, str]]:
    table = re.search(rf'<table class="heatmap" data-model="{model}".*?</table>', page)
    assert table is not None, model
    return {
        (axis, int(level)): (kind, unescape(text))
        for kind, axis, level, text in re.findall(
            r'<td class="cell (\w+)" data-axis="([a-z-]+)" data-level="(\d+)"[^>]*>([^<]*)</td>',
            table[0],
        )
    }


def test_the_heatmap_shows_each_axis_now_against_the_target(
    responses: dict[str, pb.GetRoadmapResponse],
) -> None:
    response = responses[INTERNAL.stem]
    page = render.html(response)
    itsm = next(level for level in response.levels if level.model == "itsm")
    assert (itsm.level, render.targets(response)["itsm"]) == (2, 3)  # its target: ITSM 3
    assert 'data-model="itsm" data-level="2" data-target="3"' in page
    cells = heatmap_cells(page, "itsm")
    assert len(cells) == len(itsm.axes) * itsm.max_level
    planned = {(s.axis, s.level) for s in response.steps if s.model == "itsm"}
    for axis in itsm.axes:
        for n in range(1, itsm.max_level + 1):
            kind, text = cells[(axis.axis, n)]
            if n <= axis.level:
                assert (kind, text) == ("reached", "✓")
            elif (axis.axis, n) in planned:
                count = sum(1 for s in response.steps if (s.axis, s.level) == (axis.axis, n))
                assert kind == ("planned" if n <= 3 else "included")
                assert text.startswith(f"{count} step")
            else:
                assert kind in ("open", "beyond")
    # progress towards the next level is written in that level's cell
    catalogue = next(a for a in itsm.axes if a.axis == "service-catalogue")
    assert cells[("service-catalogue", 3)][1].endswith(f"{catalogue.progress:.0%}")
    # models without levels: coverage now, and the steps the roadmap has for each axis
    whole = heatmap_cells(page, "high-performing-it")
    assert {level for _, level in whole} == {0}
    assert "high-performing-it · no levels, 0% adopted → target: all of it" in page
    # every model has its table, and the legend says what the colours mean
    assert len(re.findall(r'<table class="heatmap"', page)) == len(response.levels)
    assert "steps beyond the target (brought in by a rule)" in page


def test_the_dependency_graph_is_laid_out_by_wave_within_the_page_width(
    responses: dict[str, pb.GetRoadmapResponse],
) -> None:
    response = responses[INTERNAL.stem]
    page = render.html(response)
    svg = re.search(r'<svg id="dependency-graph"[^>]*>', page)
    assert svg is not None
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg[0])
    assert view is not None
    width, height = int(view[1]), int(view[2])
    assert width == render.GRAPH_WIDTH <= 1000  # it was 20 + 260 px per wave: 3,400 here
    boxes = re.findall(
        r'<g class="node" data-id="([a-z0-9-]+)" data-wave="(\d+)">.*?'
        r'<rect x="([\d.]+)" y="([\d.]+)" width="(\d+)" height="(\d+)"',
        page,
    )
    assert len(boxes) == len(response.steps)
    tops: dict[int, list[float]] = {}
    for _, wave, x, y, w, h in boxes:
        assert float(x) >= 0
        assert float(x) + int(w) <= width
        assert float(y) >= 0
        assert float(y) + int(h) <= height
        tops.setdefault(int(wave), []).append(float(y))
    # waves run top to bottom: every box of a wave is below every box of the one before
    waves = sorted(tops)
    for earlier, later in pairwise(waves):
        assert max(tops[earlier]) < min(tops[later])


#: Measures the page as laid out (inserted into a copy of the report; the report itself
#: has no script): the widest element against the window, and the graph's drawn width.
MEASURE = """<script>
addEventListener("load", () => {
  const limit = document.documentElement.clientWidth;
  let widest = 0;
  for (const element of document.body.querySelectorAll("*")) {
    widest = Math.max(widest, element.getBoundingClientRect().right);
  }
  const graph = document.getElementById("dependency-graph").getBoundingClientRect();
  document.body.setAttribute("data-measured", `${limit} ${widest} ${graph.width}`);
});
</script>"""


@pytest.mark.parametrize("window", [1280, 760])  # a desktop, and about an A4 page's width
def test_nothing_runs_past_the_page_width_in_chromium(tmp_path: Path, window: int) -> None:
    page = tmp_path / "measured.html"
    report = render.html(render_internal())
    page.write_text(report.replace("</body>", MEASURE + "</body>"))
    dom = run_chromium(
        f"--window-size={window},1000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
        profile=tmp_path / "profile",
    )
    assert dom.returncode == 0, dom.stderr
    measured = re.search(r'data-measured="(\d+) ([\d.]+) ([\d.]+)"', dom.stdout)
    assert measured is not None, dom.stdout[:500]
    limit, widest, graph = int(measured[1]), float(measured[2]), float(measured[3])
    assert widest <= limit + 0.5, (window, widest)
    assert 0 < graph <= limit


def render_internal() -> pb.GetRoadmapResponse:
    from tests.test_clients import plan_json  # noqa: PLC0415

    return json_format.ParseDict(plan_json(INTERNAL), pb.GetRoadmapResponse())


def test_the_report_prints_to_pdf_with_a_print_stylesheet(tmp_path: Path) -> None:
    report = render.html(render_internal())
    assert "@media print" in report
    assert "print-color-adjust:exact" in report  # the heatmap's colours print
    assert "#dependencies{break-before:page}" in report
    assert "#dependency-graph{width:100%;max-height:255mm}" in report  # one page at most
    page = tmp_path / "report.html"
    page.write_text(report)
    pdf = tmp_path / "report.pdf"
    printed = run_chromium(
        "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri(), profile=tmp_path / "p"
    )
    assert printed.returncode == 0, printed.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= 4, pages  # summary and heatmap, waves, graph, portfolio
