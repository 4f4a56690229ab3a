"""Pilot tests: every binding of the app and the resampling panel, driven like a user at 80x24."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from analysis.stages import STAGES
from tests.app.conftest import make_app
from tests.app.steps import set_resample_panel, settle, shown_intervals
from tui.app import EmergenceApp
from tui.screens.dialogs import (
    ConfirmScreen,
    ExportDialog,
    HelpScreen,
    OpenDialog,
    PickerScreen,
    TooSmallScreen,
)
from tui.screens.lab import LabScreen
from tui.screens.mirage import MirageScreen
from tui.screens.overview import OverviewScreen
from tui.screens.task import TaskScreen
from tui.widgets.plot import PlotWidget

SIZE = (80, 24)


async def open_task(app: EmergenceApp, pilot) -> TaskScreen:
    await settle(app, pilot)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, TaskScreen)
    return app.screen


async def test_overview_filter_sort_and_enter(app: EmergenceApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        await pilot.press("slash", "m", "c")
        assert screen.query_one("#filter", Input).has_focus
        assert table.row_count == 2 and set(screen.rows["task"]) == {"mc"}
        await pilot.press("escape")
        assert table.row_count == 4 and table.has_focus
        await pilot.press("right", "right", "right", "right", "s")  # the miss column: sort by it
        assert screen.sort_key == "jump"
        misses = screen.rows["jump"].to_list()
        assert misses == sorted(misses, reverse=True)  # the biggest miss against the smaller models first
        await pilot.press("enter")
        assert isinstance(app.screen, TaskScreen)
        assert app.screen.metric_name == screen.rows["metric"][0]
        await pilot.press("escape")
        assert app.screen is screen and app.settings.metric is None


async def test_metric_keys_cycle_and_redraw_without_recomputing(app: EmergenceApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        task = await open_task(app, pilot)
        runs = len(app.backend.pipelines[0].runs)
        first = task.metric_name
        await pilot.press("n")
        assert task.metric_name != first and app.settings.metric == task.metric_name
        assert task.query_one(PlotWidget).spec.title.endswith(task.metric_name)
        await pilot.press("p")
        assert task.metric_name == first
        assert len(app.backend.pipelines[0].runs) == runs, "a metric toggle must not recompute"
        await pilot.press("M")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("down", "enter")
        assert app.screen is task and task.metric_name != first


async def test_axis_law_logy_family_and_holdout(app: EmergenceApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        task = await open_task(app, pilot)
        pipeline = app.backend.pipelines[0]
        await pilot.press("x")
        await settle(app, pilot)
        assert app.settings.axis == "tokens" and pipeline.runs[-1][1].x == "tokens"
        assert app.backend.pipelines == [pipeline], "an axis change keeps the loaded table and its pipeline"
        assert task.query_one(PlotWidget).spec.x_label == "tokens"
        await pilot.press("l")
        await settle(app, pilot)
        assert app.settings.law == "power" and pipeline.runs[-1][1].law == "power"
        runs = len(pipeline.runs)
        await pilot.press("y")
        assert app.settings.log_y and task.query_one(PlotWidget).spec.log_y
        assert len(pipeline.runs) == runs, "log-y is a view setting: no recompute"
        await pilot.press("f")
        assert app.settings.family == "pythia"
        await pilot.press("f")
        assert app.settings.family is None
        await pilot.press("F")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("escape")
        await pilot.press("b")
        await settle(app, pilot)
        assert app.settings.holdout == 1 and pipeline.runs[-1][1].holdout == 1
        assert task.points.filter(task.points["held_out"])["model"].to_list() == ["m6"]


async def test_resample_panel_changes_intervals_and_seed_reproduces(app: EmergenceApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_task(app, pilot)
        before = shown_intervals(app)

        async def set_panel(bootstrap: str, seed: str) -> None:
            await set_resample_panel(app, pilot, bootstrap, seed)

        await set_panel("50", "0")
        assert app.settings.resample.bootstrap == 50
        after_b = shown_intervals(app)
        assert after_b != before
        await set_panel("50", "7")
        after_seed = shown_intervals(app)
        assert after_seed != after_b and "seed=7" in str(app.screen.query_one("#status", Static).render())
        await set_panel("50", "0")
        assert shown_intervals(app) == after_b, "the same seed must give the same numbers"
        await pilot.press("R")
        await settle(app, pilot)
        assert app.settings.resample.seed == 1 and shown_intervals(app) != after_b


async def test_resample_panel_rejects_bad_values(app: EmergenceApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        panel = app.screen
        panel.query_one("#ci", Input).value = "95"
        panel.query_one("#ci", Input).focus()
        await pilot.press("enter")
        assert app.screen is panel and "between 0 and 1" in str(panel.query_one("#error", Static).render())
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen) and app.settings.resample.ci == 0.95


async def test_help_palette_mirage_and_lab(app: EmergenceApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_task(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.rows)
        assert {"n", "x", "y", "l", "f", "r", "e", "m"} <= set(keys)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"toggle log-y")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.settings.log_y
        await pilot.press("m")
        assert isinstance(app.screen, MirageScreen)
        scores = str(app.screen.query_one("#scores", Static).render())
        verdict = str(app.screen.query_one("#verdict", Static).render())
        assert "→" in scores and verdict.startswith(("mirage: exact_match", "survives: exact_match"))
        await pilot.press("escape")
        await pilot.press("L")
        lab = app.screen
        assert isinstance(lab, LabScreen)
        before = lab.query_one("#lab-left", PlotWidget).spec
        await pilot.press("right")
        assert lab.params.c == 1e7
        assert lab.query_one("#lab-left", PlotWidget).spec != before
        await pilot.press("down", "down", "down", "down", "left")
        assert lab.params.items == 250
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_export_asks_before_overwrite_and_survives_bad_path(app: EmergenceApp, tmp_path: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_task(app, pilot)
        table_path, plot_path = tmp_path / "points.csv", tmp_path / "plot.txt"

        async def export(table: Path, plot: Path | str) -> None:
            await pilot.press("e")
            assert isinstance(app.screen, ExportDialog)
            app.screen.query_one("#table_path", Input).value = str(table)
            app.screen.query_one("#plot_path", Input).value = str(plot)
            app.screen.query_one("#plot_path", Input).focus()
            await pilot.press("enter")
            await pilot.pause()

        await export(table_path, plot_path)
        assert table_path.read_text().splitlines()[0] == (
            "task,metric,family,model,scale,value,lo,hi,n,held_out,"
            "x,law,holdout,bootstrap,ci,seed,subsample,paired,unit"
        )
        assert "params" in plot_path.read_text()
        table_path.write_text("keep me")
        await export(table_path, plot_path)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep the table
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")  # overwrite the plot
        await pilot.pause()
        assert table_path.read_text() == "keep me"
        await export(tmp_path / "missing" / "x.csv", "")
        assert isinstance(app.screen, TaskScreen)
        assert not (tmp_path / "missing").exists()
        assert not list(tmp_path.glob(".*.tmp"))


async def test_terminal_too_small_then_quit() -> None:
    app = make_app()
    async with app.run_test(size=(50, 12)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("q")
    assert app.return_code == 0


async def test_bad_file_shows_error_and_app_stays_usable() -> None:
    app = make_app(("data/bad.csv",))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        message = app.screen.query_one("#message", Static)
        shown = str(message.render())
        assert message.display and "data/bad.csv" in shown and "--map" in shown
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "L")
        assert isinstance(app.screen, LabScreen)
        await pilot.press("escape", "q")
    assert app.return_code == 0


MARKUP = "[red]x[/red]"
ESCAPE = "\x1b[31mevil\x1b[0m"


@pytest.mark.parametrize("size", [SIZE])
async def test_markup_and_escape_codes_are_shown_literally(size: tuple[int, int]) -> None:
    models = (MARKUP, ESCAPE, "m2", "m3", "m4", "m5", "m6")
    app = make_app(models=models, families=("[bold]fam",))
    async with app.run_test(size=size) as pilot:
        await open_task(app, pilot)
        table = app.screen.query_one("#points", DataTable)
        cells = [table.get_row_at(i)[1] for i in range(2)]
        assert cells[0].plain == MARKUP and cells[0].spans == []
        assert cells[1].plain == "evil"
        screen_text = app.export_screenshot()
        assert "[red]x[/red]" in screen_text.replace("&#160;", " ")
        assert "[bold]fam" in screen_text.replace("&#160;", " ")
        assert "\x1b" not in screen_text


async def test_open_another_path_after_a_bad_file(tmp_path: Path) -> None:
    app = make_app(("data/bad.csv",))
    good = tmp_path / "good results.csv"
    good.write_text("model,task\n")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "press o" in str(app.screen.query_one("#message", Static).render())
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, OpenDialog)
        field = dialog.query_one("#open_path", Input)
        field.value = str(tmp_path / "missing.csv")
        await pilot.press("enter")
        assert app.screen is dialog and "no such file" in str(dialog.query_one("#error", Static).render())
        field.value = f"'{good}'"  # quoted: the name has a space
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.paths == [str(good)] and app.error == ""
        assert app.screen.query_one(DataTable).row_count == 4
        assert not app.screen.query_one("#message", Static).display


async def test_progress_per_stage_and_keys_answered_while_loading() -> None:
    gate = threading.Event()
    app = make_app(gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        progress = str(app.screen.query_one("#message", Static).render())
        assert progress.splitlines() == [
            "▶ reading files…",
            "  scoring metrics",
            "  bootstrap intervals",
            "  emergence scores",
        ]  # fmt: skip  (laws are fitted for a task when it is opened)
        assert "reading 1/4" in str(app.screen.query_one("#status", Static).render())
        await pilot.press("question_mark")  # the interface answers while the worker is busy
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "y")
        assert app.settings.log_y
        gate.set()
        await settle(app, pilot)
        assert list(app.compute.stage_seconds) == list(STAGES[:4])
        assert app.activity == "ready" and app.screen.query_one(DataTable).row_count == 4
        await pilot.press("r")  # a resampling change re-runs every stage but the load
        app.screen.query_one("#bootstrap", Input).value = "60"
        app.screen.query_one("#bootstrap", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert list(app.compute.stage_seconds) == list(STAGES[1:4])
        assert app.computed_for.resample.bootstrap == 60
        assert app.analysis.fits is None and app.analysis.fitted_tasks == frozenset()
        task = await open_task(app, pilot)  # the task on screen gets its fits and forecasts
        await settle(app, pilot)
        assert list(app.compute.stage_seconds) == list(STAGES[1:])
        assert app.analysis.fitted_tasks == {task.task_name}
        assert {key[1] for key in app.analysis.fits.results} == {task.task_name}
        assert "logistic" in str(task.query_one("#fit", Static).render())
        assert app.activity == "ready"


async def test_setting_changed_while_loading_applies_when_loading_ends() -> None:
    gate = threading.Event()
    app = make_app(gate=gate)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("R")  # re-seed while the files are still being read
        assert app.settings.resample.seed == 1
        gate.set()
        await settle(app, pilot)
        await settle(app, pilot)
        assert app.computed_for is not None and app.computed_for.resample.seed == 1
        assert len(app.backend.pipelines) == 1, "the files are read once"


async def test_a_table_of_thousands_of_rows_is_filled_a_turn_at_a_time() -> None:
    """5,400 rows (a folder of checkpoints): a redraw adds the first screens at once and the rest a turn of
    the event loop at a time, so keys are answered meanwhile; a newer redraw drops the older one's rows."""
    from tui.screens.overview import FIRST_ROWS

    app = make_app(families=tuple(f"fam{i:04d}" for i in range(1350)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen, table = app.screen, app.screen.query_one(DataTable)
        assert isinstance(screen, OverviewScreen) and table.row_count == 5400
        table.move_cursor(row=4000, column=0)
        screen.sort_by("family")  # the first redraw's later rows are never added
        screen.sort_by("family")  # reversed: the last family first
        assert table.row_count == FIRST_ROWS
        await settle(app, pilot)
        assert table.row_count == 5400 and screen.rows.height == 5400
        shown = [str(table.get_row_at(i)[0]) for i in (0, 3, 4, 5399)]
        assert shown == ["fam1349", "fam1349", "fam1348", "fam0000"]
        assert table.cursor_row == 4000  # back on its row once that row arrived
