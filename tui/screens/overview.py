"""The overview: every family x task x metric with its verdict, its largest miss and where, and adjusted p."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Footer, Input, Static

from tui.bindings import bindings
from tui.safe_text import clean, literal
from tui.screens.base import AppScreen
from tui.views.kinds import KIND_SHORT
from tui.widgets.status import StatusLine
from tui.widgets.table import Table

if TYPE_CHECKING:
    import polars as pl

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
FIRST_ROWS = 200  # rows a redraw adds at once; the rest follow ROWS_PER_TURN a turn of the event loop
ROWS_PER_TURN = 300  # about 0.1 s of DataTable.add_row here
NAME_COLUMNS = ("family", "task", "metric", "jump_at")  # widened, or cut in the middle, to fit the terminal


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
    """All results: ``/`` then typing filters, ``s`` sorts by the column under the cursor (again: reversed;
    the header marks it ▲ or ▼), Enter opens a task.

    Names (family, task, metric, the model where the largest miss is) are as wide as the terminal allows and
    cut in the middle, never so far that two rows read the same. The lines under the table spell out the
    highlighted row in full: names, status, the largest miss and adjusted p, and the verdict in words.
    """

    DEFAULT_CSS = """
    OverviewScreen #detail { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("overview")

    def __init__(self) -> None:
        super().__init__()
        self.sort_key = "task"
        self.descending = False
        self.query_text = ""
        self.rows: pl.DataFrame | None = None  # the frame shown, once an analysis exists
        self._filling = 0  # the redraw whose rows are being added
        self._cursor_to_come: Coordinate | None = None  # where its cursor goes once that row is added
        self.columns: tuple[tuple[str, str], ...] = ()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter: family, task, metric, verdict…", id="filter")
        yield Static("", id="message")
        yield Table(id="overview", cursor_type="cell", zebra_stripes=True, opens_rows=True)
        yield Static("", id="detail")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_columns(COLUMNS)
        self.query_one(DataTable).focus()
        self.refresh_view()

    def set_columns(self, columns: tuple[tuple[str, str], ...]) -> None:
        """Use ``columns`` (the family column only appears when the data has several families); the sorted
        column's header carries ▲ (ascending) or ▼."""
        table = self.query_one(DataTable)
        labels = tuple((self.header(label, key), key) for label, key in columns)
        if labels == self.columns:
            return
        if tuple(key for _, key in self.columns) == tuple(key for _, key in columns):
            for (label, key), (old, _) in zip(labels, self.columns, strict=True):
                if label != old:  # only a sort mark moved: relabel in place, the cursor stays
                    table.columns[key].label = Text(label)  # type: ignore[index]
            table.refresh()
        else:
            table.clear(columns=True)
            for label, key in labels:
                table.add_column(label, key=key)
        self.columns = labels

    def header(self, label: str, key: str) -> str:
        if key != self.sort_key:
            return label
        ascending = self.descending if key == "jump" else not self.descending  # misses sort biggest first
        return f"{label} {'▲' if ascending else '▼'}"

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
            self.query_one("#detail", Static).display = False  # no row: no empty line above the status
            return
        # polars is imported only once there are numbers: the first frame paints at once
        from tui.views.contents import families
        from tui.views.overview import overview_frame

        rows = overview_frame(app.analysis, app.settings, self.query_text, self.sort_key, self.descending)
        self.rows = rows
        several = len(families(app.analysis)) > 1
        columns = (FAMILY_COLUMN, *COLUMNS) if several else COLUMNS
        self.set_columns(columns)
        widths = self.name_widths(rows, [key for _, key in columns])
        selected = self._cursor_to_come or table.cursor_coordinate  # a row of the last redraw still to come
        table.clear()
        self._filling += 1  # rows of an older redraw still to come are dropped
        row, column = (
            min(max(selected.row, 0), rows.height - 1),
            min(max(selected.column, 0), len(self.columns) - 1),
        )
        cursor = (row, column)
        self._cursor_to_come = Coordinate(row, column) if rows.height else None
        self._add_rows(rows, widths, cursor, self._filling, 0)
        table.border_subtitle = f"{rows.height} rows"
        self.show_detail()

    def _add_rows(
        self, rows: pl.DataFrame, widths: dict[str, int], cursor: tuple[int, int], filling: int, start: int
    ) -> None:
        """Add ``rows`` from ``start`` on: ``FIRST_ROWS`` at once (more than a screen), then ``ROWS_PER_TURN``
        a turn of the event loop, so a key on a table of thousands of rows (a folder of checkpoints) is
        answered at once while the rest keep coming; the cursor returns to its row when that row arrives."""
        if filling != self._filling:
            return
        from analysis.formatting import number as fmt

        table = self.query_one(DataTable)
        stop = min(rows.height, start + (FIRST_ROWS if start == 0 else ROWS_PER_TURN))
        for i, row in enumerate(rows.slice(start, stop - start).iter_rows(named=True), start=start):
            cells = {
                "family": literal(row["family"], max_length=widths.get("family"), middle=True),
                "task": literal(row["task"], max_length=widths.get("task"), middle=True),
                "metric": literal(row["metric"], max_length=widths.get("metric"), middle=True),
                "kind": literal(KIND_SHORT.get(row.get("kind") or "", row.get("kind") or ""), max_length=4),
                "word": verdict_text(row.get("word")),
                "jump": Text(miss_text(row.get("jump")), justify="right"),
                "jump_at": literal(row.get("jump_at") or "", max_length=widths.get("jump_at"), middle=True),
                "p_adjusted": Text(fmt(row.get("p_adjusted"))),
            }
            table.add_row(*(cells[key] for _, key in self.columns), key=str(i))
        if start <= cursor[0] < stop:
            table.move_cursor(row=cursor[0], column=cursor[1])
            self._cursor_to_come = None
        if stop < rows.height:
            self.call_later(self._add_rows, rows, widths, cursor, filling, stop)

    def name_widths(self, rows: pl.DataFrame, keys: list[str]) -> dict[str, int]:
        """How wide each name column may be at this terminal width (:func:`elided_widths`)."""
        from tui.safe_text import clean, elided_widths

        names = {  # the distinct names decide the widths: each once (a task repeats in every family)
            key: [clean(v) for v in rows[key].fill_null("").unique().to_list()]
            for key in NAME_COLUMNS
            if key in keys and key in rows.columns
        }
        from analysis.formatting import number as fmt

        shown = {  # the widths the other columns take with these rows
            "kind": 4,
            "word": max((min(len(str(w or "")), 14) for w in rows["word"].unique()), default=0),
            "jump": max((len(miss_text(v)) for v in rows["jump"].unique()), default=0),
            "p_adjusted": max((len(fmt(v)) for v in rows["p_adjusted"].unique()), default=0),
        }
        headers = {key: len(label) + 2 for label, key in self.columns}  # a sort mark may follow
        fixed = sum(max(shown[key], headers.get(key, 0)) for key in keys if key in shown)
        fixed += 2 * len(keys) + 3  # cell padding, the scrollbar
        return elided_widths(names, max(self.size.width or 80, 40) - fixed)

    def on_resize(self) -> None:
        if self.rows is not None:
            self.refresh_view()

    def show_detail(self) -> None:
        """Spell out the highlighted row under the table (what does not fit in the columns)."""
        detail = self.query_one("#detail", Static)
        row = self.current_row()
        detail.display = row is not None
        if row is None:
            return
        from analysis.formatting import number as fmt

        text = Text()  # the names in full, whatever the columns had room for
        text.append(clean(row["task"]), style="bold")
        text.append(" · ")
        text.append(clean(row["metric"]), style="bold")
        text.append(f" · {clean(row['family'])} · {clean(row.get('status') or '–')}")
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

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self.show_detail()

    def sort_by(self, key: str) -> None:
        """Sort by column ``key``; the column already sorted by is reversed."""
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, False
        self.refresh_view()

    def action_sort_column(self) -> None:
        table = self.query_one(DataTable)
        if self.columns:
            self.sort_by(self.columns[min(table.cursor_column, len(self.columns) - 1)][1])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

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

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        row = self.current_row()
        if row is not None:
            self.app.open_task(row["task"], row["metric"])

    def export_table(self) -> pl.DataFrame:
        import polars as pl

        return self.rows if self.rows is not None else pl.DataFrame()
