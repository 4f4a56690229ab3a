"""The mirage lab: the paper's simulator as a screen whose curves redraw as its numbers change (see
:mod:`tui.views.lab` for the knobs and the curves)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import ClassVar

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.widgets import Footer, Static

from tui.bindings import bindings
from tui.screens.base import AppScreen
from tui.views.lab import FIELDS, LABELS, LabParams, lab_curves, lab_plots, step_param
from tui.widgets.plot import PlotWidget
from tui.widgets.status import StatusLine


class LabScreen(AppScreen):
    """Up/down pick a knob, left/right (or -/+) change it, s re-draws the n-item sample with a new seed."""

    DEFAULT_CSS = """
    LabScreen #lab-body { layout: horizontal; height: 1fr; }
    LabScreen #knobs { width: 26; height: 1fr; padding: 0 1; border-right: solid $primary; }
    LabScreen #plots { layout: horizontal; height: 1fr; }
    LabScreen.narrow #plots { layout: vertical; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("lab")

    def __init__(self) -> None:
        super().__init__()
        self.params = LabParams()
        self.selected = 0
        self.quantity = 0  # which continuous quantity the right panel shows

    def compose(self) -> ComposeResult:
        with Container(id="lab-body"):
            yield Static("", id="knobs")
            with Container(id="plots"):
                yield PlotWidget(id="lab-left")
                yield PlotWidget(id="lab-right")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.on_resize()
        self.refresh_view()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 120, "narrow")

    def knob_text(self) -> Text:
        text = Text("Mirage lab\n", style="bold")
        text.append("CE(N) = (N/c)^alpha\np = exp(-CE)\n\n", style="dim")
        for i, name in enumerate(FIELDS):
            value = getattr(self.params, name)
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            marker = "▶ " if i == self.selected else "  "
            text.append(f"{marker}{LABELS[name]}: {shown}\n", style="reverse" if i == self.selected else "")
        floor = 1.0 / self.params.items
        text.append(f"\n1/n floor = {floor:.2g}\nseed = {self.params.seed}\n", style="dim")
        if not math.isfinite(floor):
            text.append("n must be positive", style="red")
        return text

    def refresh_view(self) -> None:
        app = self.app
        self.query_one(StatusLine).show(app.settings, app.activity)
        self.query_one("#knobs", Static).update(self.knob_text())
        left, right = lab_plots(self.params)
        if right.series:  # one quantity at a time on its own axis (v: the next one)
            self.quantity %= len(right.series)
            shown = right.series[self.quantity]
            right = replace(
                right,
                series=(shown,),
                title=f"continuous: {shown.label} ({self.quantity + 1}/{len(right.series)}, v: next)",
                y_label=shown.label,
            )
        log_y = app.settings.log_y  # y works here too; a panel with values <= 0 stays linear and says why
        self.query_one("#lab-left", PlotWidget).show(replace(left, log_y=log_y))
        self.query_one("#lab-right", PlotWidget).show(replace(right, log_y=log_y))

    def action_select(self, step: int) -> None:
        self.selected = (self.selected + step) % len(FIELDS)
        self.refresh_view()

    def action_change(self, direction: int) -> None:
        self.params = step_param(self.params, FIELDS[self.selected], direction)
        self.refresh_view()

    def action_resample(self) -> None:
        self.params = replace(self.params, seed=self.params.seed + 1)
        self.refresh_view()

    def action_next_quantity(self) -> None:
        self.quantity += 1
        self.refresh_view()

    def action_back(self) -> None:
        self.app.pop_screen()

    def export_table(self) -> pl.DataFrame:
        try:
            curves = lab_curves(self.params)
        except Exception:
            return pl.DataFrame()
        return pl.DataFrame({"params": self.params.scales(), **curves})

    def export_plot(self) -> str:
        return "\n\n".join(w.plain_text() for w in self.query(PlotWidget))
