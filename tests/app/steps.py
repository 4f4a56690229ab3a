"""Pilot steps the app tests share: wait for the app to settle, read the points table, set the resampling."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from tui.app import EmergenceApp
from tui.screens.dialogs import ResamplePanel


async def settle(app: EmergenceApp, pilot) -> None:
    """Every worker done and the screen redrawn."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def shown_intervals(app: EmergenceApp) -> list[str]:
    """The CI column of the task screen's points table, as shown."""
    table = app.screen.query_one("#points", DataTable)
    return [str(table.get_row_at(i)[4]) for i in range(table.row_count)]


async def set_resample_panel(app: EmergenceApp, pilot, bootstrap: str, seed: str) -> None:
    """Open the resampling panel with ``r``, type B and the seed, submit, and wait for the recompute."""
    await pilot.press("r")
    assert isinstance(app.screen, ResamplePanel)
    app.screen.query_one("#bootstrap", Input).value = bootstrap
    app.screen.query_one("#seed", Input).value = seed
    app.screen.query_one("#seed", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)
