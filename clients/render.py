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
    return text + (f"; {beyond} steps beyond the horizon" if beyond else "")


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
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330;max-width:1200px}
h1{margin-bottom:.2rem} .meta{color:#667;margin-top:0}
section.wave{border-left:4px solid #4a7bd0;padding:.2rem 1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border-bottom:1px solid #dde;padding:.35rem .5rem;text-align:left;vertical-align:top}
.score{text-align:right;font-variant-numeric:tabular-nums}
.held{color:#a33}
.warning{background:#fff6dd;border:1px solid #e6c35c;padding:.5rem 1rem;margin:.5rem 0}
svg text{font-size:12px;font-family:system-ui,sans-serif}
"""


def _svg_levels(response: pb.GetRoadmapResponse) -> str:
    width, row = 640, 34
    parts = [
        f'<svg id="levels-chart" role="img" aria-label="levels" width="{width}" height="{row * len(response.levels) + 10}">'
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


def _svg_dependencies(response: pb.GetRoadmapResponse) -> str:
    """Layered picture: one column per wave, an arrow per prerequisite among the steps."""
    box_w, box_h, gap_x, gap_y = 190, 34, 70, 14
    position: dict[str, tuple[float, float]] = {}
    waves = [list(steps) for _, steps in groupby(response.steps, key=lambda s: s.wave)]
    for column, steps in enumerate(waves):
        for row, step in enumerate(steps):
            position[step.practice_id] = (10 + column * (box_w + gap_x), 30 + row * (box_h + gap_y))
    width = 20 + len(waves) * (box_w + gap_x)
    height = 40 + max((len(s) for s in waves), default=0) * (box_h + gap_y)
    parts = [
        f'<svg id="dependency-graph" role="img" aria-label="dependencies" width="{width}" height="{height}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#778"/></marker></defs>',
    ]
    parts.extend(
        f'<text x="{10 + column * (box_w + gap_x)}" y="18" font-weight="bold">Wave {column + 1}</text>'
        for column in range(len(waves))
    )
    for step in response.steps:
        x2, y2 = position[step.practice_id]
        for required in step.requires:
            x1, y1 = position[required]
            parts.append(
                f'<line class="edge" data-from="{required}" data-to="{step.practice_id}" x1="{x1 + box_w}" '
                f'y1="{y1 + box_h / 2}" x2="{x2}" y2="{y2 + box_h / 2}" stroke="#778" marker-end="url(#arrow)"/>'
            )
    for step in response.steps:
        x, y = position[step.practice_id]
        parts += [
            f'<g class="node" data-id="{step.practice_id}"><title>{escape(step.title)}</title>',
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="#f1f4fa" stroke="#4a7bd0"/>',
            f'<text x="{x + 8}" y="{y + 21}">{escape(step.practice_id[:28])}</text></g>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def html(response: pb.GetRoadmapResponse) -> str:
    """One self-contained page (no scripts, no external resources): readable offline."""
    waves = []
    for wave, steps in groupby(response.steps, key=lambda s: s.wave):
        group = list(steps)
        rows = "".join(
            f"<tr><td><b>{escape(s.practice_id)}</b><br>{escape(s.title)}</td><td>{escape(s.model)} / {escape(s.axis)}</td>"
            f'<td class="score">{s.score:.2f}</td><td>{escape(_why(s))}</td><td class="held">{escape(_held_back(s))}</td></tr>'
            for s in group
        )
        waves.append(
            f'<section class="wave" id="wave-{wave}"><h3>Wave {wave} · {quarter_label(group[0])}</h3><table><tr><th>step</th><th>model / axis</th>'
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
    title = f"Roadmap for {escape(response.unit_id)}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f'<p class="meta">rule base {escape(response.rule_base.version)} · {escape(response.rule_base.digest)}</p>'
        f"<h2>Where the unit stands</h2>{_svg_levels(response)}"
        f'<h2>Roadmap</h2><p class="meta">{escape(_horizon(response))}</p><div id="waves">{"".join(waves)}</div>'
        f"<h2>Dependencies</h2>{_svg_dependencies(response)}"
        f"{services}{warnings}</body></html>\n"
    )
