"""The overview: every family x task x metric with its emergence score, CI, trend and mirage verdict."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui.safe_text import literal
from tui.state import cycle
from tui.views_light import SORT_KEYS
from tui.widgets.status import StatusLine

KIND_SHORT = {"discontinuous": "disc", "continuous": "cont"}
VERDICT_STYLES = {"mirage": "yellow", "robust": "green", "emergent": "green"}


class OverviewScreen(Screen):
    """All results: ``/`` then typing filters, ``s`` cycles the sort column, Enter opens a task."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "cycle_sort", "Sort"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort_key = "task"
        self.query_text = ""
        self.rows: Any = None  # the polars frame shown, once an analysis exists

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter: family, task, metric, verdict…", id="filter")
        yield Static("", id="message")
        yield DataTable(id="overview", cursor_type="row", zebra_stripes=True)
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (
            ("family", "family"), ("task", "task"), ("metric", "metric"), ("kind", "kind"),
            ("score", "score"), ("score CI", "ci"), ("trend", "trend"), ("p adj", "p_adjusted"),
            ("mirage", "verdict"),
        ):  # fmt: skip
            table.add_column(label, key=key)
        table.focus()
        self.refresh_view()

    def metric_choices(self) -> list[str | None]:
        from tui import views

        return [None, *views.metrics_for(self.app.analysis)] if self.app.analysis is not None else [None]

    def refresh_view(self) -> None:
        """Redraw from the app's current analysis and settings (no computation)."""
        app: Any = self.app
        self.query_one(StatusLine).show(app.settings, app.activity)
        message = self.query_one("#message", Static)
        if app.error:
            message.update(literal(app.error, style="bold red"))
        elif app.analysis is None:
            message.update(literal(app.activity or "loading…", style="italic"))
        message.display = bool(app.error) or app.analysis is None
        table = self.query_one(DataTable)
        if app.analysis is None:
            table.clear()
            self.rows = None
            return
        from tui import (
            views,  # polars is imported only once there are numbers: the first frame paints at once
        )

        rows = views.overview_frame(app.analysis, app.settings, self.query_text, self.sort_key)
        self.rows = rows
        selected = table.cursor_row
        table.clear()
        for i, row in enumerate(rows.iter_rows(named=True)):
            verdict = row.get("verdict") or ""
            table.add_row(
                literal(row["family"], max_length=14),
                literal(row["task"], max_length=24),
                literal(row["metric"], max_length=16),
                literal(KIND_SHORT.get(row.get("kind") or "", row.get("kind") or ""), max_length=6),
                Text(views.fmt(row.get("score")), justify="right"),
                Text(views.fmt_ci(row.get("lo"), row.get("hi"))),
                literal(row.get("trend") or "", max_length=12),
                Text(views.fmt(row.get("p_adjusted"))),
                literal(verdict, style=VERDICT_STYLES.get(str(verdict).split()[0] if verdict else "", "")),
                key=str(i),
            )
        if rows.height:
            table.move_cursor(row=min(selected, rows.height - 1))
        table.border_subtitle = f"{rows.height} rows · sort: {self.sort_key}"

    def action_cycle_sort(self) -> None:
        self.sort_key = cycle(SORT_KEYS, self.sort_key)
        self.refresh_view()
        self.notify(f"sorted by {self.sort_key}", timeout=1.5)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_text = event.value
            self.refresh_view()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(DataTable).focus()

    def current_row(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if (
            self.rows is None
            or self.rows.is_empty()
            or table.cursor_row < 0
            or table.cursor_row >= self.rows.height
        ):
            return None
        return self.rows.row(table.cursor_row, named=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = self.current_row()
        if row is not None:
            self.app.open_task(row["task"], row["metric"])

    def export_table(self) -> Any:
        import polars as pl

        return self.rows if self.rows is not None else pl.DataFrame()
