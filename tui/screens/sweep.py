"""The resolution sweep of one task: what a test set of n' items would have said (computed in a worker)."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from tui.bindings import bindings
from tui.safe_text import clean, literal
from tui.screens.base import AppScreen
from tui.views.contents import metrics_for
from tui.views.sweep import SWEEP_COLUMNS, sweep_plot, sweep_rows, sweep_sentences
from tui.widgets.plot import PlotSpec, PlotWidget
from tui.widgets.status import StatusLine


class SweepScreen(AppScreen):
    """The emergence score against n' on top, the status and verdict per n' below, the sentences last.

    The sweep (8 sizes x 5 seeded subsamples by default) runs in the compute controller's sweep worker when
    the screen opens (or the settings it depends on change); keys keep answering, progress shows per run.
    """

    DEFAULT_CSS = """
    SweepScreen #plot { height: 1fr; min-height: 8; }
    SweepScreen #side { height: auto; max-height: 50%; }
    SweepScreen #table { height: auto; max-height: 10; }
    SweepScreen #summary { height: auto; max-height: 4; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("sweep")

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task_name = task
        self.rows: list[dict[str, str]] = []

    def compose(self) -> ComposeResult:
        yield PlotWidget(id="plot")
        with Vertical(id="side"):
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="summary")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#table", DataTable)
        for label in SWEEP_COLUMNS:
            table.add_column(label, key=label)
        self.refresh_view()

    @property
    def metric_name(self) -> str | None:
        app = self.app
        if app.settings.metric is not None:
            return app.settings.metric
        metrics = metrics_for(app.analysis, self.task_name) if app.analysis is not None else []
        return metrics[0] if metrics else None

    def refresh_view(self) -> None:
        app = self.app
        compute = app.compute
        self.query_one(StatusLine).show(app.settings, app.activity)
        plot = self.query_one(PlotWidget)
        table = self.query_one("#table", DataTable)
        summary = self.query_one("#summary", Static)
        compute.start_sweep(app.settings)  # a no-op when this sweep is running or done
        metric = self.metric_name
        sweep = compute.sweep
        if sweep is None or metric is None:
            done, total = compute.sweep_progress
            message = compute.sweep_error or (
                f"resolution sweep: run {done}/{total}…" if total else "resolution sweep: starting…"
            )
            plot.show(PlotSpec(message=message))
            table.clear()
            summary.update(Text(message, style="dim"))
            return
        plot.show(sweep_plot(sweep, app.settings, self.task_name, metric))
        self.rows = sweep_rows(sweep, app.settings, self.task_name, metric)
        table.clear()
        for row in self.rows:
            table.add_row(*(literal(row[c], max_length=30) for c in SWEEP_COLUMNS))
        text = Text()
        for family, sentence in sweep_sentences(sweep, app.settings, self.task_name, metric):
            if text:
                text.append("\n")
            text.append(clean(family, max_length=16) + " ", style="bold")
            text.append(clean(sentence))
        if not self.rows:
            text.append(
                f"no sweep for {self.task_name} / {metric}: its points have no items to draw", style="dim"
            )
        summary.update(text)

    def metric_choices(self) -> list[str | None]:
        app = self.app
        return list(metrics_for(app.analysis, self.task_name)) if app.analysis is not None else []

    def action_back(self) -> None:
        self.app.pop_screen()

    def export_table(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows) if self.rows else pl.DataFrame()

    def export_plot(self) -> str:
        return self.query_one(PlotWidget).plain_text()
