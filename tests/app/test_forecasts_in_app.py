"""The forecasts and the resolution sweep in the app: the forecast row and band of the task view, and the
sweep screen computed in its worker (through the child process too) while keys keep answering."""

from __future__ import annotations

import threading
import time

from textual.widgets import DataTable, Static

from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings, SweepSettings
from analysis.stages import APP_FORECASTS
from tests.app.conftest import make_app
from tests.app.steps import settle
from tui.backend.process import ProcessBackend
from tui.inputs import SAMPLE_DATA
from tui.screens.dialogs import HelpScreen
from tui.screens.sweep import SweepScreen
from tui.screens.task import TaskScreen
from tui.widgets.plot import PlotWidget

SIZE = (80, 24)


async def open_task(app, pilot, keys: tuple[str, ...] = ("down", "enter")) -> TaskScreen:
    await settle(app, pilot)
    await pilot.press(*keys)
    await settle(app, pilot)
    assert isinstance(app.screen, TaskScreen)
    return app.screen


async def test_the_task_view_shows_the_forecast_row_and_its_band() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        task = await open_task(app, pilot)
        assert (task.task_name, task.metric_name) == ("arith", "exact_match")
        row = str(task.query_one("#forecast", Static).render())
        assert row.startswith("forecast exact_match at params 1.00e11 (next decade): 0.997 [0.947, 1]")
        (band,) = [s for s in task.query_one(PlotWidget).spec.series if s.style == "band"]
        assert band.label == "pythia forecast" and band.x == (1e10, 1e11)
        assert band.lo[1] < band.y[1] <= band.hi[1]
        assert "◆ pythia forecast" in task.query_one(PlotWidget).plain_text()
        await pilot.press("n")  # edit_distance: its fit is refused in the fake, so the forecast is words only
        row = str(task.query_one("#forecast", Static).render())
        assert "no forecast: the logistic fit was refused" in row
        assert not [s for s in task.query_one(PlotWidget).spec.series if s.style == "band"]


async def test_the_sweep_screen_computes_in_its_worker_with_progress_and_keys_answer() -> None:
    gate = threading.Event()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_task(app, pilot)
        app.backend.pipelines[0].sweep_gate = gate
        await pilot.press("s")
        assert isinstance(app.screen, SweepScreen)
        await pilot.pause()
        assert str(app.screen.query_one("#summary", Static).render()) == "resolution sweep: starting…"
        assert app.screen.query_one(PlotWidget).spec.message == "resolution sweep: starting…"
        await pilot.press("question_mark")  # keys answer while the sweep runs
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        gate.set()
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SweepScreen) and app.compute.sweep is not None
        table = screen.query_one("#table", DataTable)
        assert table.row_count == 3
        assert [r["status"] for r in screen.rows] == ["unresolved 4/5", "jump 4/5", "jump 4/5"]
        assert [r["smallest resolved"] for r in screen.rows] == ["0/5", "1/5", "2/5"]
        spec = screen.query_one(PlotWidget).spec
        assert (
            spec.series[0].x == (50.0, 100.0, 200.0)
            and spec.series[0].label == "pythia (jump at n' = 100, 200)"
        )
        summary = str(screen.query_one("#summary", Static).render())
        assert "exact_match: unresolved at 50, jump at 100-200" in summary
        await pilot.press("escape")
        assert isinstance(app.screen, TaskScreen)
        await pilot.press("s")  # the same settings: the sweep is shown again, not recomputed
        await settle(app, pilot)
        assert len(app.backend.pipelines[0].sweeps) == 1 and app.screen.rows


def test_the_child_process_answers_forecasts_and_a_sweep_with_its_progress() -> None:
    backend = ProcessBackend()
    try:
        backend.load([str(SAMPLE_DATA)], LoadOptions())
        pipeline = backend.pipeline(None)
        options, resample = MetricOptions(), ResampleSettings(bootstrap=50)
        forecasts = pipeline.forecasts(options, resample, FitSettings(bootstrap=20), APP_FORECASTS)
        frame = forecasts.frame
        assert (
            frame.height and set(frame["asked"]) == {"next"} and set(frame["route"]) == {"direct", "two-step"}
        )
        progress: list[tuple[int, int]] = []
        started = time.perf_counter()
        sweep = pipeline.resolution_sweep(
            options, resample, "params", SweepSettings(count=2, repeats=2, bootstrap=20),
            lambda done, total: progress.append((done, total)),
        )  # fmt: skip
        assert progress == [(1, 3), (2, 3), (3, 3)], time.perf_counter() - started
        assert sweep.runs.is_empty() and not sweep.curves.is_empty()  # slimmed in the child
        assert set(sweep.curves["n_items"]) == {50, sweep.full_n}
    finally:
        backend.close()
