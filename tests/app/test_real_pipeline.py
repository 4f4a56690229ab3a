"""Pilot tests through the REAL analysis (``analysis.loading`` + ``analysis.pipeline``) on real files.

The bundled sample data (the mirage model's per-sample rows) and, when present, the real lm-eval output of
``../shared/data/lm_eval_04_tinygpt``. Loads and pipelines are shared between tests (the pipeline caches
each stage by its settings), and the bootstrap is small, so each test takes a second or two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from analysis.fits import FitSet
from analysis.loading import load
from analysis.options import LoadOptions, ResampleSettings
from analysis.pipeline import Pipeline
from tests.app.steps import set_resample_panel, settle, shown_intervals
from tui.app import EmergenceApp
from tui.backend.process import ProcessBackend
from tui.inputs import SAMPLE_DATA
from tui.screens.mirage import MirageScreen
from tui.screens.task import TaskScreen
from tui.state import ViewSettings
from tui.widgets.plot import PlotWidget

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TINYGPT = DATA / "lm_eval_04_tinygpt"
SMALL_B = ViewSettings(resample=ResampleSettings(bootstrap=100, seed=0))
pytestmark = pytest.mark.xdist_group("real_pipeline")  # one worker keeps SHARED's loads and pipelines


@dataclass
class SharedBackend:
    """The real backend, loading each path set once per test session and keeping one pipeline per table."""

    tables: dict[tuple[str, ...], Any] = field(default_factory=dict)
    pipelines: dict[int, Any] = field(default_factory=dict)

    def load(self, paths: Sequence[str], options: LoadOptions) -> Any:
        key = tuple(paths)
        if key not in self.tables:
            self.tables[key] = load(list(paths), options)
        return self.tables[key]

    def pipeline(self, table: Any) -> Any:
        if id(table) not in self.pipelines:
            self.pipelines[id(table)] = SmallBootstrapPipeline(Pipeline(table))
        return self.pipelines[id(table)]


@dataclass(frozen=True)
class SmallBootstrapPipeline:
    """The real pipeline with 50 fit-bootstrap replicates (the app's defaults are 1000
    and 200): the same stages and caching, a few times faster."""

    real: Any

    def scored(self, options: Any) -> Any:
        return self.real.scored(options)

    def points(self, options: Any, resample: Any) -> Any:
        return self.real.points(options, resample)

    def emergence(self, options: Any, resample: Any, x: str) -> Any:
        return self.real.emergence(options, resample, x)

    def fits(self, options: Any, resample: Any, fit: Any) -> Any:
        return self.real.fits(options, resample, replace(fit, bootstrap=50))

    def forecasts(self, options: Any, resample: Any, fit: Any, forecasts: Any) -> Any:
        return self.real.forecasts(options, resample, replace(fit, bootstrap=50), forecasts)

    def task_fits(self, options: Any, resample: Any, fit: Any, tasks: tuple[str, ...]) -> Any:
        return self.real.task_fits(options, resample, replace(fit, bootstrap=50), tasks)

    def task_forecasts(
        self, options: Any, resample: Any, fit: Any, forecasts: Any, tasks: tuple[str, ...]
    ) -> Any:
        return self.real.task_forecasts(options, resample, replace(fit, bootstrap=50), forecasts, tasks)

    def resolution_sweep(
        self, options: Any, resample: Any, x: str, sweep: Any = None, on_run: Any = None
    ) -> Any:
        return self.real.resolution_sweep(options, resample, x, sweep, on_run)

    def run(self, options: Any, resample: Any, fit: Any) -> Any:
        return self.real.run(options, resample, replace(fit, bootstrap=50))


SHARED = SharedBackend()


def real_app(paths: Sequence[Path] = (SAMPLE_DATA,)) -> EmergenceApp:
    return EmergenceApp(list(paths), backend=SHARED, settings=SMALL_B)


async def open_generation_exact_match(app: EmergenceApp, pilot) -> TaskScreen:
    await settle(app, pilot)
    await pilot.press("slash", *"long_answer exact", "enter", "enter")  # long_answer · exact_match
    await settle(app, pilot)
    assert isinstance(app.screen, TaskScreen)
    assert (app.screen.task_name, app.screen.metric_name) == ("long_answer", "exact_match")
    return app.screen


async def test_resample_panel_changes_real_intervals_and_the_same_seed_reproduces() -> None:
    app = real_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_generation_exact_match(app, pilot)
        exact = shown_intervals(app)
        assert (
            len(exact) == 9 and exact[0] == "[0, 0.00368]"
        )  # 0 of 1000 right: the exact interval, not [0, 0]
        await pilot.press("n")  # the next metric, a continuous one: its intervals come from the bootstrap
        await settle(app, pilot)
        before = shown_intervals(app)
        assert app.screen.metric_name != "exact_match" and len(before) == 9

        async def set_panel(bootstrap: str, seed: str) -> list[str]:
            await set_resample_panel(app, pilot, bootstrap, seed)
            assert app.computed_for is not None and app.computed_for.resample == app.settings.resample
            return shown_intervals(app)

        b50_seed0 = await set_panel("50", "0")
        assert app.settings.resample.bootstrap == 50
        assert b50_seed0 != before
        b50_seed7 = await set_panel("50", "7")
        assert b50_seed7 != b50_seed0
        assert "seed=7" in str(app.screen.query_one("#status", Static).render())
        assert await set_panel("50", "0") == b50_seed0, "the same seed must give the same numbers"


async def test_mirage_screen_cycles_the_pairs_of_a_task() -> None:
    app = real_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_generation_exact_match(app, pilot)
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, MirageScreen)
        partners = [pair.continuous for pair in screen.pairs]
        assert partners == ["token_edit_distance", "token_loss", "token_prob", "seq_prob"]  # best first
        right = screen.query_one("#right", PlotWidget)
        titles = []
        for _ in partners:
            titles.append(right.spec.title)
            assert screen.query_one("#left", PlotWidget).spec.title.startswith("exact_match")
            await pilot.press("c")
        assert titles == [f"{p} (continuous)" for p in partners]
        assert screen.pair_index == 0  # wrapped around
        await pilot.press("C")
        assert right.spec.title == f"{partners[-1]} (continuous)"
        verdict = str(screen.query_one("#verdict", Static).render())
        assert "exact_match" in verdict and partners[-1] in verdict


async def test_backtest_marks_the_held_out_points_from_the_fit_stage() -> None:
    app = real_app()
    async with app.run_test(size=(120, 40)) as pilot:
        task = await open_generation_exact_match(app, pilot)
        await pilot.press("b", "b")  # hold out the 2 largest scales
        await settle(app, pilot)
        assert app.settings.holdout == 2
        backtest = app.analysis.fits.backtests[("toy-lm", "long_answer", "exact_match")]
        held = task.points.filter(task.points["held_out"])
        assert sorted(held["scale"].to_list()) == sorted(backtest.x) == [pytest.approx(10**10.5), 1e11]
        series = task.query_one(PlotWidget).spec.series
        points = next(s for s in series if s.style == "points")
        assert sum(points.held_out) == 2 and points.held_out[-2:] == (True, True)
        assert any("w/o held-out" in s.label for s in series)
        fit_text = str(task.query_one("#fit", Static).render())
        assert "backtest (top 2 held out): MAE" in fit_text
        assert "◇held out" in str(task.query_one("#points", DataTable).get_row_at(8)[1])


@pytest.mark.skipif(not TINYGPT.exists(), reason=f"real lm-eval data not found at {TINYGPT}")
async def test_real_lm_eval_folder_opens_with_both_tasks() -> None:
    app = real_app((TINYGPT,))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.error == ""
        rows = app.screen.rows
        assert set(rows["task"]) == {"add3b", "add3b_mc"}
        assert {"exact_match", "mc_grade"} <= set(rows["metric"])
        await pilot.press("slash", *"add3b_mc mc_grade", "enter", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskScreen)
        assert app.screen.points.height == 5  # five tinygpt sizes
        assert app.screen.query_one(PlotWidget).spec.hlines == ((0.25, "chance"),)


async def test_the_default_backend_computes_in_a_child_process_and_reports_bad_files(tmp_path: Path) -> None:
    backend = ProcessBackend()
    app = EmergenceApp([SAMPLE_DATA], backend=backend, settings=SMALL_B)
    bad = tmp_path / "bad.csv"
    bad.write_text("size,score\n1,2\n")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            assert app.error == "" and app.screen.rows.height == 18
            child = backend._process
            assert child is not None and child.pid != os.getpid() and child.poll() is None
            assert app.analysis.fits is None  # laws are fitted for the task opened
            assert app.analysis.points.replicates == {}
            await pilot.press("slash", *"long_answer exact", "enter", "enter")
            await settle(app, pilot)
            await settle(app, pilot)
            fits = app.analysis.fits
            assert isinstance(fits, FitSet) and fits.results  # slimmed in the child: no residuals travel
            assert {key[1] for key in fits.results} == {"long_answer"}
            assert all(fit.residuals.size == 0 for fit in fits.results.values())
            assert "logistic vs params" in str(app.screen.query_one("#fit", Static).render())
            app.open_paths([str(bad)])  # what o + Enter does
            await settle(app, pilot)
            assert str(bad) in app.error  # InputError crossed the process boundary
            assert app.analysis is not None and app.paths == [str(SAMPLE_DATA)]  # the data before stays
    finally:
        backend.close()
    assert child.poll() is not None, "the analysis process ends with the app"
