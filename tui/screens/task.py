"""The task view: the chosen metric against the chosen scale axis, its points and its fitted law."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Vertical
from textual.widgets import DataTable, Footer, Static

from analysis.formatting import interval as fmt_ci
from analysis.formatting import number as fmt
from analysis.stages import fits_pending
from tui.bindings import bindings
from tui.safe_text import clean, elide, elided_widths, literal
from tui.screens.base import AppScreen
from tui.state import HOLDOUTS, cycle
from tui.views.contents import metrics_for
from tui.views.task import fit_summary, forecast_lines, task_plot, task_points, verdicts_for
from tui.widgets.plot import PlotSpec, PlotWidget
from tui.widgets.status import StatusLine
from tui.widgets.table import Table

WIDE = 110  # at this width and above the plot and the tables sit side by side
SHORT = 22  # below this height the fit text gives its rows to the points table


class TaskScreen(AppScreen):
    """One task: plot on top (or left on wide terminals), points and fit below (or right)."""

    DEFAULT_CSS = """
    TaskScreen #body { layout: vertical; height: 1fr; }
    TaskScreen.wide #body { layout: horizontal; }
    TaskScreen #plot { height: 1fr; min-height: 8; }
    TaskScreen #side { height: auto; max-height: 45%; }
    TaskScreen.wide #side { height: 1fr; max-height: 100%; width: 45%; }
    TaskScreen #points { height: auto; max-height: 10; }
    TaskScreen.wide #points { height: 1fr; max-height: 100%; }
    TaskScreen #forecast { height: auto; max-height: 3; padding: 0 1; }
    TaskScreen.wide #forecast { max-height: 6; }
    TaskScreen #fit { height: auto; max-height: 5; padding: 0 1; }
    TaskScreen.wide #fit { max-height: 12; }
    TaskScreen.short #plot { min-height: 6; }
    TaskScreen.short #points { min-height: 4; }
    TaskScreen.short #fit { max-height: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings("task")

    def __init__(self, task: str, metric: str) -> None:
        super().__init__()
        self.task_name = task
        self.metric_name = metric
        self.points: pl.DataFrame = pl.DataFrame()

    def compose(self) -> ComposeResult:
        with Container(id="body"):
            yield PlotWidget(id="plot")
            with Vertical(id="side"):
                yield Table(id="points", cursor_type="cell", zebra_stripes=True)
                yield Static("", id="forecast")
                yield Static("", id="fit")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#points", DataTable)
        for label in ("family", "model", "scale", "value", "CI", "n"):
            table.add_column(label, key=label)
        self.on_resize()
        self.refresh_view()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "wide")
        self.set_class(self.size.height < SHORT, "short")  # the points table keeps 3 rows, the fit 2 lines

    def metric_choices(self) -> list[str | None]:
        app = self.app
        return (
            list(metrics_for(app.analysis, self.task_name))
            if app.analysis is not None
            else [self.metric_name]
        )

    def refresh_view(self) -> None:
        app = self.app
        if app.settings.metric is not None:
            self.metric_name = app.settings.metric
        self.query_one(StatusLine).show(app.settings, app.activity)
        plot = self.query_one(PlotWidget)
        table = self.query_one("#points", DataTable)
        fit = self.query_one("#fit", Static)
        if app.analysis is None:
            plot.show(PlotSpec(message=app.error or "computing…"))
            return
        settings = app.settings
        plot.show(task_plot(app.analysis, settings, self.task_name, self.metric_name))
        self.points = task_points(app.analysis, settings, self.task_name, self.metric_name)
        table.clear()
        names = {
            c: [clean(v) for v in self.points[c].cast(pl.Utf8).fill_null("")] for c in ("family", "model")
        }
        shown = table.size.width or int(self.size.width * (0.45 if self.has_class("wide") else 1)) or 80
        room = shown - 44  # scale, value, CI, n and the cell padding
        widths = elided_widths(names, max(room, 24), least=10)  # cut in the middle, never so far that rows
        # read the same
        for row in self.points.iter_rows(named=True):
            held = " ◇held out" if row["held_out"] else ""
            table.add_row(
                literal(elide(row["family"], widths["family"])),
                literal(elide(row["model"], widths["model"]) + held),
                Text(fmt(row["scale"])),
                Text(fmt(row["value"])),
                Text(fmt_ci(row["lo"], row["hi"])),
                Text(fmt(row["n"])),
            )
        self.query_one("#forecast", Static).update(self.forecast_text())
        lines = Text()
        verdicts = verdicts_for(app.analysis, self.task_name, self.metric_name, settings.family)
        for family, word, verdict in verdicts:
            if lines:
                lines.append("\n")
            if len(verdicts) > 1:
                lines.append(clean(family, max_length=16) + " ", style="bold")
            lines.append(clean(word) + ":", style="bold yellow" if word.startswith("mirage") else "bold")
            lines.append(" " + clean(verdict))
        summary = fit_summary(app.analysis, settings, self.task_name, self.metric_name)
        for family, line in summary:
            if lines:
                lines.append("\n")
            lines.append(clean(family, max_length=16), style="bold")
            lines.append(" " + clean(line))
        if not summary:
            if lines:
                lines.append("\n")
            fitting = fits_pending(app.analysis, self.task_name)
            lines.append("fitting laws…" if fitting else "no fit for this metric", style="dim")
        fit.update(lines)

    def forecast_text(self) -> Text:
        """The forecast rows under the points: one line per family and route (the next decade)."""
        app = self.app
        text = Text()
        rows = forecast_lines(app.analysis, app.settings, self.task_name, self.metric_name)
        for family, sentence in rows:
            if text:
                text.append("\n")
            text.append(f"forecast {clean(self.metric_name, max_length=24)} ", style="bold")
            if len({f for f, _ in rows}) > 1:
                text.append(clean(family, max_length=16) + " ", style="bold")
            text.append(clean(sentence))
        if not rows and not fits_pending(app.analysis, self.task_name):
            text.append("forecast: computing…" if app.activity != "ready" else "", style="dim")
        return text

    def action_back(self) -> None:
        self.app.close_task()

    def action_sweep(self) -> None:
        from tui.screens.sweep import SweepScreen

        self.app.push_screen(SweepScreen(self.task_name))

    def action_mirage(self) -> None:
        self.app.open_mirage(self.task_name)

    def action_cycle_holdout(self) -> None:
        app = self.app
        app.apply_settings(app.settings.with_(holdout=cycle(HOLDOUTS, app.settings.holdout)))

    def export_table(self) -> pl.DataFrame:
        return self.points

    def export_plot(self) -> str:
        return self.query_one(PlotWidget).plain_text()
