"""The overview: every family x task x metric with its verdict, its largest miss and where, and adjusted p."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import DataTable, Footer, Input, Static

from tui.bindings import bindings
from tui.safe_text import clean, literal
from tui.screens.base import AppScreen
from tui.state import cycle
from tui.widgets.status import StatusLine

if TYPE_CHECKING:
    import polars as pl

KIND_SHORT = {"discontinuous": "disc", "continuous": "cont"}
VERDICT_STYLES = {
    "mirage": "bold yellow", "survives": "bold green", "emergent": "bold green", "jump": "green",
    "smooth": "dim", "inconclusive": "italic", "unresolved": "italic",
}  # fmt: skip
# (label, key): the verdict comes early so it stays visible at 80 columns
COLUMNS: tuple[tuple[str, str], ...] = (
    ("task", "task"), ("metric", "metric"), ("kind", "kind"), ("verdict", "word"),
    ("miss", "jump"), ("at", "jump_at"), ("p adj", "p_adjusted"),
)  # fmt: skip
FAMILY_COLUMN = ("family", "family")
SORT_KEYS: tuple[str, ...] = ("task", "jump", "metric", "family", "word", "p_adjusted")


def verdict_text(word: object) -> Text:
    """The short verdict word, coloured: mirage yellow, survives and jumps green, smooth dim."""
    shown = str(word or "")
    return literal(shown, style=VERDICT_STYLES.get(shown.split(" ")[0], ""), max_length=14)


def miss_text(miss: object) -> str:
    """A miss on the link scale (natural-log units) as a factor: 0.69 -> 2x."""
    import math

    if miss is None or (isinstance(miss, float) and math.isnan(miss)):
        return "–"
    return f"{math.exp(miss):.3g}x" if miss < 40 else ">1e17x"


class OverviewScreen(AppScreen):
    """All results: ``/`` then typing filters, ``s`` cycles the sort column, Enter opens a task.

    The line under the table spells out the highlighted row: family, score with its CI, adjusted p and the
    mirage check's verdict in words.
    """

    DEFAULT_CSS = """
    OverviewScreen #detail { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("overview")

    def __init__(self) -> None:
        super().__init__()
        self.sort_key = "task"
        self.query_text = ""
        self.rows: pl.DataFrame | None = None  # the frame shown, once an analysis exists
        self.columns: tuple[tuple[str, str], ...] = ()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter: family, task, metric, verdict…", id="filter")
        yield Static("", id="message")
        yield DataTable(id="overview", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_columns(COLUMNS)
        self.query_one(DataTable).focus()
        self.refresh_view()

    def set_columns(self, columns: tuple[tuple[str, str], ...]) -> None:
        """Use ``columns`` (the family column only appears when the data has several families)."""
        if columns == self.columns:
            return
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for label, key in columns:
            table.add_column(label, key=key)
        self.columns = columns

    def metric_choices(self) -> list[str | None]:
        from tui.views.contents import metrics_for

        return [None, *metrics_for(self.app.analysis)] if self.app.analysis is not None else [None]

    def refresh_view(self) -> None:
        """Redraw from the app's current analysis and settings (no computation)."""
        app = self.app
        self.query_one(StatusLine).show(app.settings, app.activity)
        message = self.query_one("#message", Static)
        if app.error:
            shown = Text()  # wraps: a long message stays readable at 80 columns
            shown.append_text(literal(app.error, style="bold red"))
            shown.append("\npress o to open another file or folder, q to quit", style="italic")
            message.update(shown)
        elif app.analysis is None:
            progress = app.compute.progress_text()
            message.update(progress if progress else literal(app.activity or "loading…", style="italic"))
        message.display = bool(app.error) or app.analysis is None
        table = self.query_one(DataTable)
        if app.analysis is None:
            table.clear()
            self.rows = None
            return
        # polars is imported only once there are numbers: the first frame paints at once
        from analysis.formatting import number as fmt
        from tui.views.contents import families
        from tui.views.overview import overview_frame

        rows = overview_frame(app.analysis, app.settings, self.query_text, self.sort_key)
        self.rows = rows
        several = len(families(app.analysis)) > 1
        self.set_columns((FAMILY_COLUMN, *COLUMNS) if several else COLUMNS)
        selected = table.cursor_row
        table.clear()
        for i, row in enumerate(rows.iter_rows(named=True)):
            cells = {
                "family": literal(row["family"], max_length=12),
                "task": literal(row["task"], max_length=20),
                "metric": literal(row["metric"], max_length=14),
                "kind": literal(KIND_SHORT.get(row.get("kind") or "", row.get("kind") or ""), max_length=4),
                "word": verdict_text(row.get("word")),
                "jump": Text(miss_text(row.get("jump")), justify="right"),
                "jump_at": literal(row.get("jump_at") or "", max_length=12),
                "p_adjusted": Text(fmt(row.get("p_adjusted"))),
            }
            table.add_row(*(cells[key] for _, key in self.columns), key=str(i))
        if rows.height:
            table.move_cursor(row=min(max(selected, 0), rows.height - 1))
        table.border_subtitle = f"{rows.height} rows · sort: {self.sort_key}"
        self.show_detail()

    def show_detail(self) -> None:
        """Spell out the highlighted row under the table (what does not fit in the columns)."""
        detail = self.query_one("#detail", Static)
        row = self.current_row()
        detail.display = row is not None
        if row is None:
            return
        from analysis.formatting import number as fmt

        text = Text()
        text.append(clean(row["task"], max_length=40), style="bold")
        text.append(" · ")
        text.append(clean(row["metric"], max_length=30), style="bold")
        text.append(f" · {clean(row['family'], max_length=20)} · {clean(row.get('status') or '–')}")
        if row.get("jump") is not None:
            text.append(f" · largest miss {miss_text(row.get('jump'))} at {clean(row.get('jump_at') or '–')}")
        text.append(f" · p adj {fmt(row.get('p_adjusted'))}")
        verdict = row.get("verdict")
        if verdict:
            text.append("\n")
            text.append(
                clean(verdict), style=VERDICT_STYLES.get(str(row.get("word") or "").split(" ")[0], "")
            )
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

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

    def export_table(self) -> pl.DataFrame:
        import polars as pl

        return self.rows if self.rows is not None else pl.DataFrame()
