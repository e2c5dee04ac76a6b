"""Roadmaps for people: a terminal table (rich). Works on the contract's messages."""

from __future__ import annotations

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


def levels_table(response: pb.GetRoadmapResponse) -> Table:
    table = Table(title="Where the unit stands", title_justify="left", expand=False)
    table.add_column("model")
    table.add_column("level", justify="right")
    table.add_column("progress")
    for level in response.levels:
        if level.max_level:
            reached = f"{level.level} / {level.max_level}"
            progress = f"{_bar(level.level / level.max_level)}  {level.progress:.0%} towards {min(level.level + 1, level.max_level)}"
        else:
            reached = "-"
            progress = f"{_bar(level.progress)}  {level.progress:.0%} adopted"
        table.add_row(level.model, reached, progress)
    return table


def steps_table(response: pb.GetRoadmapResponse) -> Table:
    table = Table(title="Roadmap", title_justify="left")
    table.add_column("wave", justify="right")
    table.add_column("step")
    table.add_column("model / axis")
    table.add_column("score", justify="right")
    table.add_column("why")
    for wave, steps in groupby(response.steps, key=lambda s: s.wave):
        for n, step in enumerate(steps):
            texts = dict.fromkeys(r.text for r in step.reasons if r.rule_id != "plan.value-effort")
            table.add_row(
                str(wave) if n == 0 else "",
                f"{step.practice_id}\n[dim]{step.title}[/dim]",
                f"{step.model} / {step.axis}",
                f"{step.score:.2f}",
                Text("; ".join(texts)),
                end_section=False,
            )
        table.rows[-1].end_section = True
    return table


def outsourcing_table(response: pb.GetRoadmapResponse) -> Table:
    table = Table(title="Service portfolio", title_justify="left")
    table.add_column("service")
    table.add_column("recommendation")
    table.add_column("saving / year", justify="right")
    table.add_column("reason")
    for decision in response.outsourcing:
        name = (
            pb.Recommendation.Name(decision.recommendation).removeprefix("RECOMMENDATION_").lower()
        )
        if decision.provisional:
            name += " (provisional)"
        table.add_row(
            decision.service_id,
            name,
            f"{decision.estimated_annual_saving:,.0f}",
            decision.reasons[0].text if decision.reasons else "",
        )
    return table


def roadmap_view(response: pb.GetRoadmapResponse) -> RenderableType:
    parts: list[RenderableType] = [levels_table(response), steps_table(response)]
    if response.outsourcing:
        total = sum(d.estimated_annual_saving for d in response.outsourcing)
        parts += [outsourcing_table(response), Text(f"Estimated annual saving: {total:,.0f}")]
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
