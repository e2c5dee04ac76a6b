"""Roadmaps for people: a terminal table (rich), Markdown, Mermaid and one HTML page.

Every renderer takes the contract's GetRoadmapResponse, whether it came from a server
or from the local engine.
"""

from __future__ import annotations

from html import escape
from itertools import groupby
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from roadmap.v1 import roadmap_pb2 as pb

if TYPE_CHECKING:
    from rich.console import RenderableType

BAR_WIDTH = 20


def _bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def _progress(level: pb.ModelLevel | pb.AxisLevel, max_level: int) -> tuple[float, str]:
    """(what the progress bar fills, the same number in words): they never disagree."""
    if not max_level:
        return level.progress, f"{level.progress:.0%} adopted"
    if level.level >= max_level or level.progress >= 1:
        return 1.0, "complete"
    return level.progress, f"{level.progress:.0%} to level {level.level + 1}"


def levels_table(response: pb.GetRoadmapResponse) -> Table:
    table = Table(title="Where the unit stands", title_justify="left", expand=False)
    table.add_column("model")
    table.add_column("level", justify="right")
    table.add_column("progress")
    for level in response.levels:
        reached = f"{level.level} / {level.max_level}" if level.max_level else "-"
        fraction, label = _progress(level, level.max_level)
        table.add_row(level.model, reached, f"{_bar(fraction)}  {label}")
    return table


def _signed(reason: pb.Reason) -> str:
    return f"{reason.text} ({reason.amount:+g})" if reason.amount else reason.text


def reasons_split(step: pb.Step) -> tuple[list[str], list[str]]:
    """(why and what raised the step, what held it back): each rule once, signed.

    The generic value/effort term is left out: it is in the score, not a reason a
    reader acts on."""
    shown = [r for r in step.reasons if r.rule_id != "plan.value-effort"]
    return (
        [_signed(r) for r in shown if r.amount >= 0],
        [_signed(r) for r in shown if r.amount < 0],
    )


def quarter_label(step: pb.Step) -> str:
    """The quarter a step falls in, or "beyond" the planning horizon."""
    return f"Q{step.quarter}" if step.quarter else "beyond"


def _horizon(response: pb.GetRoadmapResponse) -> str:
    beyond = sum(1 for s in response.steps if not s.quarter)
    effort = sum(s.effort for s in response.steps)
    text = (
        f"{len(response.steps)} steps, {effort} effort points; one wave a quarter at "
        f"{response.quarter_capacity} points, horizon {response.horizon_months} months"
    )
    return text + (
        f"; {beyond} step{'s' if beyond > 1 else ''} beyond the horizon" if beyond else ""
    )


def steps_table(response: pb.GetRoadmapResponse) -> Table:
    table = Table(title="Roadmap", title_justify="left", caption=_horizon(response))
    table.add_column("wave", justify="right")
    table.add_column("step")
    table.add_column("model / axis")
    table.add_column("score", justify="right")
    table.add_column("why / raised by")
    table.add_column("held back by")
    for wave, steps in groupby(response.steps, key=lambda s: s.wave):
        for n, step in enumerate(steps):
            raised, held = reasons_split(step)
            table.add_row(
                f"{wave}\n{quarter_label(step)}" if n == 0 else "",
                f"{step.practice_id}\n[dim]{step.title}[/dim]",
                f"{step.model} / {step.axis}",
                f"{step.score:.2f}",
                Text("\n".join(raised)),
                Text("\n".join(held), style="red"),
                end_section=False,
            )
        table.rows[-1].end_section = True
    return table


def outsourcing_table(response: pb.GetRoadmapResponse) -> Table:
    table = Table(title="Service portfolio", title_justify="left")
    table.add_column("service")
    table.add_column("recommendation")
    table.add_column("saving / year", justify="right")
    table.add_column("net, first year", justify="right")
    table.add_column("payback", justify="right")
    table.add_column("reasons")
    for decision in response.outsourcing:
        name = _recommendation(decision)
        if decision.provisional:
            name += " (provisional)"
        table.add_row(
            decision.service_id,
            name,
            f"{decision.estimated_annual_saving:,.0f}",
            f"{decision.net_first_year_saving:,.0f}",
            _payback(decision),
            Text("\n".join(r.text for r in decision.reasons)),
        )
    return table


def _payback(decision: pb.ServiceRecommendation) -> str:
    return f"{decision.payback_months:g} months" if decision.payback_months else "-"


def roadmap_view(response: pb.GetRoadmapResponse) -> RenderableType:
    parts: list[RenderableType] = [levels_table(response), steps_table(response)]
    if response.outsourcing:
        total = sum(d.estimated_annual_saving for d in response.outsourcing)
        net = sum(d.net_first_year_saving for d in response.outsourcing)
        parts += [
            outsourcing_table(response),
            Text(
                f"Estimated annual saving: {total:,.0f} (first year, net of transition: {net:,.0f})"
            ),
        ]
    for warning in response.warnings:
        parts.append(
            Panel(
                warning.message,
                title=f"warning: {warning.code}",
                title_align="left",
                border_style="yellow",
            )
        )
    version = f"rule base {response.rule_base.version} ({response.rule_base.digest[:19]}…)"
    return Panel(Group(*parts), title=f"unit {response.unit_id}", subtitle=version)


def print_table(response: pb.GetRoadmapResponse, console: Console | None = None) -> None:
    (console or Console()).print(roadmap_view(response))


# --- Markdown -------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _recommendation(decision: pb.ServiceRecommendation) -> str:
    return pb.Recommendation.Name(decision.recommendation).removeprefix("RECOMMENDATION_").lower()


def _why(step: pb.Step) -> str:
    return "; ".join(reasons_split(step)[0])


def _held_back(step: pb.Step) -> str:
    return "; ".join(reasons_split(step)[1])


def markdown(response: pb.GetRoadmapResponse) -> str:
    """A page ready to paste into a wiki (GitHub/GitLab render the Mermaid block)."""
    out = [
        f"# Roadmap for {response.unit_id}",
        "",
        f"Rule base {response.rule_base.version} (`{response.rule_base.digest}`)",
        "",
        "## Where the unit stands",
        "",
        "| model | level | progress |",
        "|---|---|---|",
    ]
    for level in response.levels:
        reached = f"{level.level} of {level.max_level}" if level.max_level else "no levels"
        out.append(f"| {level.model} | {reached} | {_progress(level, level.max_level)[1]} |")
    out += ["", "## Roadmap", "", _horizon(response) + ".", ""]
    for wave, steps in groupby(response.steps, key=lambda s: s.wave):
        group = list(steps)
        out += [
            f"### Wave {wave} ({quarter_label(group[0])})",
            "",
            "| step | model / axis | score | why / raised by | held back by |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| **{s.practice_id}**: {_cell(s.title)} | {s.model} / {s.axis} | {s.score:.2f} "
            f"| {_cell(_why(s))} | {_cell(_held_back(s))} |"
            for s in group
        ]
        out.append("")
    out += ["### Dependencies", "", "```mermaid", mermaid(response).rstrip(), "```", ""]
    if response.outsourcing:
        out += [
            "## Service portfolio",
            "",
            "| service | recommendation | saving / year | net, first year | payback "
            "| provisional | reasons |",
            "|---|---|---|---|---|---|---|",
        ]
        for d in response.outsourcing:
            reasons = "; ".join(r.text for r in d.reasons)
            out.append(
                f"| {d.service_id} | {_recommendation(d)} | {d.estimated_annual_saving:,.0f} | "
                f"{d.net_first_year_saving:,.0f} | {_payback(d)} | "
                f"{'yes' if d.provisional else 'no'} | {_cell(reasons)} |"
            )
        out.append("")
    if response.warnings:
        out += ["## Warnings", ""]
        out += [f"- **{w.code}**: {w.message}" for w in response.warnings]
        out.append("")
    return "\n".join(out)


# --- Mermaid ---------------------------------------------------------------------------


def mermaid_id(practice_id: str) -> str:
    return "p_" + practice_id.replace("-", "_")


def mermaid(response: pb.GetRoadmapResponse) -> str:
    """The roadmap's dependency graph: waves as subgraphs, an edge per prerequisite."""
    lines = ["graph LR"]
    for wave, steps in groupby(response.steps, key=lambda s: s.wave):
        lines.append(f'  subgraph wave{wave}["Wave {wave}"]')
        for step in steps:
            label = step.title.replace('"', "'")
            lines.append(f'    {mermaid_id(step.practice_id)}["{step.practice_id}<br/>{label}"]')
        lines.append("  end")
    lines.extend(
        f"  {mermaid_id(required)} --> {mermaid_id(step.practice_id)}"
        for step in response.steps
        for required in step.requires
    )
    return "\n".join(lines) + "\n"


# --- HTML ------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;padding:0 1.5rem;color:#1d2330;max-width:1200px}
h1{margin-bottom:.2rem} .meta{color:#667;margin-top:0}
section.wave{border-left:4px solid #4a7bd0;padding:.2rem 1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border-bottom:1px solid #dde;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
.score{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.steps th:nth-child(1){width:24%} table.steps th:nth-child(2){width:17%} table.steps th:nth-child(4){width:34%}
.held{color:#a33}
.warning{background:#fff6dd;border:1px solid #e6c35c;padding:.5rem 1rem;margin:.5rem 0}
svg{display:block;max-width:100%;height:auto}
svg text{font-size:12px;font-family:system-ui,sans-serif}
#summary{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.figure{border:1px solid #cdd5e4;border-radius:6px;padding:.5rem .9rem;min-width:8.5rem}
.figure .value{display:block;font-size:1.5rem;font-weight:600;font-variant-numeric:tabular-nums}
.figure .label{color:#556;font-size:.85rem}
.heatmaps{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:0 1.5rem}
table.heatmap{table-layout:fixed;font-size:.85rem}
table.heatmap caption{text-align:left;font-weight:600;padding:.4rem 0}
table.heatmap th,table.heatmap td{border:1px solid #fff;padding:.3rem .35rem}
table.heatmap th:first-child{width:11rem}
table.heatmap td{text-align:center;background:#f3f5f9;color:#889}
table.heatmap th.target{box-shadow:inset 0 -3px 0 #d48a00}
table.heatmap td.reached{background:#4a7bd0;color:#fff}
table.heatmap td.planned{background:#f2b84b;color:#1d2330;font-weight:600}
table.heatmap td.included{background:#fbe3b0;color:#1d2330;outline:1px dashed #d48a00;outline-offset:-3px}
table.heatmap td.open{background:#e3e8f2;color:#1d2330}
table.heatmap td.coverage{color:#1d2330}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1rem;font-size:.8rem;color:#445;margin:.3rem 0 1rem}
.legend span::before{content:"";display:inline-block;width:.9rem;height:.9rem;margin-right:.3rem;vertical-align:-.15rem;border-radius:2px}
.legend .reached::before{background:#4a7bd0}
.legend .planned::before{background:#f2b84b}
.legend .included::before{background:#fbe3b0;outline:1px dashed #d48a00;outline-offset:-2px}
.legend .open::before{background:#e3e8f2}
.legend .beyond::before{background:#f3f5f9;border:1px solid #dde}
@page{size:A4;margin:12mm}
@media print{
  body{margin:0;padding:0;max-width:none;font-size:9.5pt}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  h2{break-after:avoid}
  section.wave h3{break-after:avoid}
  tr,.figure,.warning,table.heatmap,.legend{break-inside:avoid}
  .heatmaps{display:block}
  #summary{gap:.4rem}
  .figure{min-width:0;padding:.3rem .6rem}
  .figure .value{font-size:1.2rem}
  table.heatmap{font-size:8.5pt}
  #dependencies{break-before:page}
  #dependency-graph{width:100%;max-height:255mm}
  td,th{padding:.2rem .35rem}
}
"""

_DASH = "\u2013"  # an en dash: a range (Q1-Q4) or nothing in a cell
#: One colour per model in the dependency graph, in the order of the response's levels.
_MODEL_COLOURS = ("#4a7bd0", "#2e9a6a", "#d07a2e", "#8a5bc4", "#c4455b", "#3a9bb0")
#: Why a step is in the roadmap: one of the unit's targets (or a model's next level).
_TARGET_RULES = ("plan.target", "plan.next-level")


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def _summary(response: pb.GetRoadmapResponse) -> str:
    """The figures a reader looks for first: steps, quarters, effort, savings, warnings."""
    steps = response.steps
    quarters = max((s.quarter for s in steps), default=0)
    beyond = sum(1 for s in steps if not s.quarter)
    quarter_note = f"Q1{_DASH}Q{quarters}" if quarters > 1 else ("Q1" if quarters else "none")
    if beyond:
        quarter_note += f", {beyond} step{'s' if beyond > 1 else ''} beyond the horizon"
    effort = sum(s.effort for s in steps)
    figures = [
        ("steps", str(len(steps)), f"steps in {len({s.wave for s in steps})} waves"),
        ("quarters", str(quarters), f"quarters ({quarter_note})"),
        ("effort", str(effort), f"effort points ({response.quarter_capacity} a quarter)"),
    ]
    if response.outsourcing:
        annual = sum(d.estimated_annual_saving for d in response.outsourcing)
        net = sum(d.net_first_year_saving for d in response.outsourcing)
        figures += [
            ("net-saving", _money(net), "net saving, first year"),
            (
                "annual-saving",
                _money(annual),
                f"saving a year ({len(response.outsourcing)} services)",
            ),
        ]
    else:
        figures.append(("net-saving", _DASH, "net saving (no services assessed)"))
    figures.append(("warnings", str(len(response.warnings)), "warnings"))
    cells = "".join(
        f'<div class="figure" data-figure="{key}"><span class="value">{escape(value)}</span>'
        f'<span class="label">{escape(label)}</span></div>'
        for key, value, label in figures
    )
    return f'<section id="summary" aria-label="summary">{cells}</section>'


def targets(response: pb.GetRoadmapResponse) -> dict[str, int]:
    """The level each levelled model's roadmap aims at: the highest level among the steps
    there for a target (or the next level); the current level when none is. Steps that
    rules or prerequisites bring in beyond it do not raise it."""
    aimed: dict[str, int] = {level.model: level.level for level in response.levels}
    for step in response.steps:
        if any(r.rule_id in _TARGET_RULES for r in step.reasons) and step.model in aimed:
            aimed[step.model] = max(aimed[step.model], step.level)
    return aimed


TARGET_MARK = ' class="target"'


def _levelled_heatmap(level: pb.ModelLevel, target: int, counts: dict[tuple[str, int], int]) -> str:
    head = "".join(
        f'<th scope="col"{TARGET_MARK if n == target else ""}>L{n}</th>'
        for n in range(1, level.max_level + 1)
    )
    rows = []
    for axis in level.axes:
        cells = []
        for n in range(1, level.max_level + 1):
            planned = counts.get((axis.axis, n), 0)
            if n <= axis.level:
                kind, text = "reached", "✓"
            elif planned:
                kind = "planned" if n <= target else "included"
                text = f"{planned} step{'s' if planned > 1 else ''}"
            elif n <= target:
                kind, text = "open", _DASH
            else:
                kind, text = "beyond", ""
            if n == axis.level + 1 and axis.progress > 0 and kind != "reached":
                text = (
                    f"{text} · {axis.progress:.0%}"
                    if text not in ("", _DASH)
                    else f"{axis.progress:.0%}"
                )
            cells.append(
                f'<td class="cell {kind}" data-axis="{escape(axis.axis)}" data-level="{n}">{text}</td>'
            )
        rows.append(f'<tr><th scope="row">{escape(axis.axis)}</th>{"".join(cells)}</tr>')
    aim = f"target {target}" if target > level.level else "no higher target"
    caption = f"{escape(level.model)} · level {level.level} of {level.max_level} → {aim}"
    return (
        f'<table class="heatmap" data-model="{escape(level.model)}" data-level="{level.level}" '
        f'data-target="{target}"><caption>{caption}</caption>'
        f'<tr><th scope="col">axis</th>{head}</tr>{"".join(rows)}</table>'
    )


def _coverage_heatmap(
    level: pb.ModelLevel, counts: dict[tuple[str, int], int], *, targeted: bool
) -> str:
    rows = []
    for axis in level.axes:
        planned = sum(n for (name, _), n in counts.items() if name == axis.axis)
        shade = 0.12 + 0.88 * max(0.0, min(1.0, axis.progress))
        ink = "#fff" if shade > 0.55 else "#1d2330"
        steps = f"{planned} step{'s' if planned != 1 else ''}" if planned else _DASH
        rows.append(
            f'<tr><th scope="row">{escape(axis.axis)}</th>'
            f'<td class="cell coverage" data-axis="{escape(axis.axis)}" data-level="0" '
            f'style="background:rgba(74,123,208,{shade:.2f});color:{ink}">{axis.progress:.0%}</td>'
            f'<td class="cell {"planned" if planned else "beyond"}">{steps}</td></tr>'
        )
    aim = " → target: all of it" if targeted else ""
    caption = f"{escape(level.model)} · no levels, {level.progress:.0%} adopted{aim}"
    return (
        f'<table class="heatmap" data-model="{escape(level.model)}" data-level="0">'
        f"<caption>{caption}</caption>"
        f'<tr><th scope="col">axis</th><th scope="col">adopted now</th>'
        f'<th scope="col">in the roadmap</th></tr>{"".join(rows)}</table>'
    )


def _heatmap(response: pb.GetRoadmapResponse) -> str:
    """Model x axis x level, where the unit stands against where the roadmap takes it."""
    counts: dict[str, dict[tuple[str, int], int]] = {}
    for step in response.steps:
        per_model = counts.setdefault(step.model, {})
        per_model[(step.axis, step.level)] = per_model.get((step.axis, step.level), 0) + 1
    aimed = targets(response)
    whole = {s.model for s in response.steps if any(r.rule_id == "plan.target" for r in s.reasons)}
    tables = [
        _levelled_heatmap(level, aimed[level.model], counts.get(level.model, {}))
        if level.max_level
        else _coverage_heatmap(level, counts.get(level.model, {}), targeted=level.model in whole)
        for level in response.levels
    ]
    legend = (
        '<div class="legend" aria-label="legend"><span class="reached">reached (✓)</span>'
        '<span class="planned">steps towards the target (count; % = progress to the next level)</span>'
        '<span class="included">steps beyond the target (brought in by a rule)</span>'
        '<span class="open">up to the target, no step of this axis</span>'
        '<span class="beyond">beyond the target</span></div>'
    )
    return f'<section id="heatmap"><div class="heatmaps">{"".join(tables)}</div>{legend}</section>'


def _svg_levels(response: pb.GetRoadmapResponse) -> str:
    width, row = 640, 34
    height = row * len(response.levels) + 10
    parts = [
        f'<svg id="levels-chart" role="img" aria-label="levels" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    for n, level in enumerate(response.levels):
        y = 5 + n * row
        share = level.level / level.max_level if level.max_level else level.progress
        label = (
            f"level {level.level} of {level.max_level}"
            if level.max_level
            else f"{level.progress:.0%} adopted"
        )
        parts += [
            f'<text x="0" y="{y + 17}">{escape(level.model)}</text>',
            f'<rect x="170" y="{y}" width="360" height="22" fill="#e8ecf4"/>',
            f'<rect class="level-bar" data-model="{escape(level.model)}" x="170" y="{y}" width="{360 * share:.1f}" height="22" fill="#4a7bd0"/>',
            f'<text x="540" y="{y + 17}">{escape(label)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


#: The dependency picture's geometry: one band per wave, top to bottom, its steps in rows
#: of GRAPH_COLUMNS boxes; the whole fits GRAPH_WIDTH and scales down with the page.
GRAPH_WIDTH, GRAPH_COLUMNS = 960, 4
_LABEL_W, _BOX_W, _BOX_H, _GAP_X, _GAP_Y, _BAND_PAD = 84, 206, 42, 12, 22, 14


def _fitted(text: str, x: float, y: float, comfortable: int, style: str) -> str:
    """A line of a box: past ``comfortable`` characters it is squeezed into the box
    (textLength), and past a third more it is cut with an ellipsis (the full text is
    the box's tooltip and in the waves' tables)."""
    limit = comfortable * 4 // 3
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    squeeze = (
        f' textLength="{_BOX_W - 16}" lengthAdjust="spacingAndGlyphs"'
        if len(shown) > comfortable
        else ""
    )
    return f'<text x="{x}" y="{y:.0f}" {style}{squeeze}>{escape(shown)}</text>'


def _graph_layout(
    waves: list[list[pb.Step]],
) -> tuple[dict[str, tuple[float, float]], list[tuple[int, float, float]], float]:
    """Box positions by practice id, each band's (wave, top, bottom), and the height.

    Within a wave, steps sit under the mean position of what they require, so that
    edges run down rather than across."""
    position: dict[str, tuple[float, float]] = {}
    bands: list[tuple[int, float, float]] = []
    top = 0.0
    for steps in waves:

        def anchor(step: pb.Step) -> float:
            xs = [position[r][0] for r in step.requires if r in position]
            return sum(xs) / len(xs) if xs else -1.0

        ordered = sorted(steps, key=anchor)
        rows = (len(ordered) + GRAPH_COLUMNS - 1) // GRAPH_COLUMNS
        for n, step in enumerate(ordered):
            row, column = divmod(n, GRAPH_COLUMNS)
            x = _LABEL_W + column * (_BOX_W + _GAP_X)
            position[step.practice_id] = (x, top + _BAND_PAD + row * (_BOX_H + _GAP_Y))
        bottom = top + 2 * _BAND_PAD + rows * _BOX_H + (rows - 1) * _GAP_Y
        bands.append((steps[0].wave, top, bottom))
        top = bottom + _GAP_Y
    return position, bands, max(top - _GAP_Y, 0.0)


def _svg_dependencies(response: pb.GetRoadmapResponse) -> str:
    """The roadmap's prerequisites: one band per wave, top to bottom, an arrow per edge;
    the viewBox lets it scale to the page, on screen and on paper."""
    waves = [list(steps) for _, steps in groupby(response.steps, key=lambda s: s.wave)]
    position, bands, height = _graph_layout(waves)
    colour = {
        level.model: _MODEL_COLOURS[n % len(_MODEL_COLOURS)]
        for n, level in enumerate(response.levels)
    }
    parts = [
        f'<svg id="dependency-graph" role="img" aria-label="dependencies between the steps, '
        f'one band per wave" viewBox="0 0 {GRAPH_WIDTH} {height:.0f}" width="{GRAPH_WIDTH}" '
        f'height="{height:.0f}" preserveAspectRatio="xMidYMin meet">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#778"/></marker></defs>',
    ]
    for n, (wave, top, bottom) in enumerate(bands):
        quarter = next(quarter_label(s) for s in response.steps if s.wave == wave)
        fill = "#f6f8fc" if n % 2 == 0 else "#ffffff"
        parts += [
            f'<rect class="band" data-wave="{wave}" x="0" y="{top:.0f}" width="{GRAPH_WIDTH}" '
            f'height="{bottom - top:.0f}" fill="{fill}"/>',
            f'<text x="8" y="{top + _BAND_PAD + 16:.0f}" font-weight="bold">Wave {wave}</text>',
            f'<text x="8" y="{top + _BAND_PAD + 32:.0f}" fill="#667">{quarter}</text>',
        ]
    for step in response.steps:
        x2, y2 = position[step.practice_id]
        for required in step.requires:
            if required not in position:
                continue
            x1, y1 = position[required]
            sx, sy, ex, ey = x1 + _BOX_W / 2, y1 + _BOX_H, x2 + _BOX_W / 2, y2
            bend = max(18.0, (ey - sy) / 2)
            parts.append(
                f'<path class="edge" data-from="{required}" data-to="{step.practice_id}" '
                f'd="M{sx:.0f},{sy:.0f} C{sx:.0f},{sy + bend:.0f} {ex:.0f},{ey - bend:.0f} {ex:.0f},{ey:.0f}" '
                'fill="none" stroke="#778" stroke-opacity=".8" marker-end="url(#arrow)"/>'
            )
    for step in response.steps:
        x, y = position[step.practice_id]
        parts += [
            f'<g class="node" data-id="{step.practice_id}" data-wave="{step.wave}">'
            f"<title>{escape(step.practice_id)}: {escape(step.title)} ({escape(step.model)} / "
            f"{escape(step.axis)})</title>",
            f'<rect x="{x}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="#fff" '
            f'stroke="{colour.get(step.model, "#4a7bd0")}" stroke-width="2"/>',
            _fitted(step.practice_id, x + 8, y + 17, 26, 'font-weight="600"'),
            _fitted(step.title, x + 8, y + 33, 33, 'fill="#556" style="font-size:10.5px"'),
            "</g>",
        ]
    key = "".join(f'<span style="color:{colour[m]}">■</span> {escape(m)} ' for m in colour)
    parts.append("</svg>")
    return "".join(parts) + f'<p class="meta">box outline: {key}</p>'


def html(response: pb.GetRoadmapResponse) -> str:
    """One self-contained page (no scripts, no external resources): readable offline,
    and printable: every part fits the page width, the graph scales to one page."""
    waves = []
    for wave, steps in groupby(response.steps, key=lambda s: s.wave):
        group = list(steps)
        rows = "".join(
            f"<tr><td><b>{escape(s.practice_id)}</b><br>{escape(s.title)}</td><td>{escape(s.model)} / {escape(s.axis)}</td>"
            f'<td class="score">{s.score:.2f}</td><td>{escape(_why(s))}</td><td class="held">{escape(_held_back(s))}</td></tr>'
            for s in group
        )
        waves.append(
            f'<section class="wave" id="wave-{wave}"><h3>Wave {wave} · {quarter_label(group[0])}</h3><table class="steps"><tr><th>step</th><th>model / axis</th>'
            f"<th>score</th><th>why / raised by</th><th>held back by</th></tr>{rows}</table></section>"
        )
    services = ""
    if response.outsourcing:
        rows = "".join(
            f"<tr><td>{escape(d.service_id)}</td><td>{_recommendation(d)}{' (provisional)' if d.provisional else ''}</td>"
            f'<td class="score">{d.estimated_annual_saving:,.0f}</td><td class="score">{d.net_first_year_saving:,.0f}</td>'
            f'<td class="score">{_payback(d)}</td><td>{"<br>".join(escape(r.text) for r in d.reasons)}</td></tr>'
            for d in response.outsourcing
        )
        services = (
            '<h2>Service portfolio</h2><table id="outsourcing"><tr><th>service</th><th>recommendation</th>'
            f"<th>saving / year</th><th>net, first year</th><th>payback</th><th>reasons</th></tr>{rows}</table>"
        )
    warnings = "".join(
        f'<div class="warning"><b>{escape(w.code)}</b>: {escape(w.message)}</div>'
        for w in response.warnings
    )
    warnings = f'<h2>Warnings</h2><div id="warnings">{warnings}</div>' if warnings else ""
    title = f"Roadmap for {escape(response.unit_id)}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f'<p class="meta">rule base {escape(response.rule_base.version)} · {escape(response.rule_base.digest)}</p>'
        f"{_summary(response)}"
        f"<h2>Where the unit stands</h2>{_svg_levels(response)}"
        f"<h3>Per axis: now against the target</h3>{_heatmap(response)}"
        f'<h2>Roadmap</h2><p class="meta">{escape(_horizon(response))}</p><div id="waves">{"".join(waves)}</div>'
        f'<section id="dependencies"><h2>Dependencies</h2>{_svg_dependencies(response)}</section>'
        f"{services}{warnings}</body></html>\n"
    )
