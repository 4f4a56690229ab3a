"""The app's data table: Textual's DataTable with the keys of VisiData and harlequin, and copying.

Enter opens the row where the table says so (``opens_rows``: the overview's tasks; the footer shows "Open"),
``j``/``k`` move down/up, ``g``/``G`` and Home/End go to the first/last row, ``c`` copies the cell under the
cursor and ``C`` its row (tab-separated) to the clipboard with OSC 52 (``App.copy_to_clipboard``), which
reaches the local clipboard over SSH in terminals that allow it. The keys are in :mod:`tui.bindings`.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType
from textual.widgets import DataTable

from tui.bindings import bindings


def _plain(cell: object) -> str:
    return getattr(cell, "plain", None) or str(cell)


class Table(DataTable):
    """A DataTable with j/k, g/G, Home/End on rows, and copy of the cell or row under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("table")

    def __init__(self, *args: object, opens_rows: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.opens_rows = opens_rows  # Enter opens the row (the overview): shown in the footer as "Open"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "select_cursor" or self.opens_rows  # nothing to open: Enter neither shown nor run

    def current_cell_text(self) -> str | None:
        if not self.row_count:
            return None
        return _plain(self.get_cell_at(self.cursor_coordinate))

    def current_row_text(self) -> str | None:
        if not self.row_count:
            return None
        return "\t".join(_plain(cell) for cell in self.get_row_at(self.cursor_coordinate.row))

    def _copy(self, text: str | None, what: str) -> None:
        if text is None:
            self.notify("nothing to copy", severity="warning", timeout=2)
            return
        self.app.copy_to_clipboard(text)
        shown = text if len(text) <= 40 else text[:39] + "…"
        self.notify(f"copied {what}: {shown.expandtabs(2)}", timeout=2)

    def action_copy_cell(self) -> None:
        self._copy(self.current_cell_text(), "cell")

    def action_copy_row(self) -> None:
        self._copy(self.current_row_text(), "row")
