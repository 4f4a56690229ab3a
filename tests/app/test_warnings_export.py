"""Pilot tests: the warnings screen (`w`), and exports that say what they hold (task, metric, family and
settings), named per task, with the plot as an SVG figure."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from analysis.loading import load
from tests.app.conftest import FAST, make_app
from tests.app.fakes import FakeBackend
from tests.app.steps import settle
from tests.conftest import SHARED_DATA, needs_shared_data
from tui.app import EmergenceApp
from tui.backend.process import TableSummary
from tui.export import SETTINGS_COLUMNS
from tui.safe_text import clean
from tui.screens.dialogs import ExportDialog
from tui.screens.overview import OverviewScreen
from tui.screens.task import TaskScreen
from tui.screens.warnings import WarningsScreen, warnings_text
from tui.widgets.plot import PlotWidget

WARNINGS = (
    *(f"model 'm{i}' has no params: it cannot be placed on a scale axis" for i in range(17)),
    "family [bold]x[/bold] \x1b[31mred\x1b[0m kept literally",
)


@dataclass
class WarningBackend(FakeBackend):
    """The fake backend, whose load warns 18 times (UKP's count) about two files."""

    def load(self, paths: Any, options: Any) -> Any:
        super().load(paths, options)
        return TableSummary(WARNINGS, ("ukp/evaluation_scores.csv", "ukp/tidy.csv"))


def warned_app() -> EmergenceApp:
    return EmergenceApp(["results.csv"], backend=WarningBackend(), settings=FAST)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_w_lists_every_warning_in_full_and_literally(size: tuple[int, int]) -> None:
    app = warned_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(app, pilot)
        titles = [n.title for n in app._notifications]
        assert titles[:3] == [f"warning {i} of 18 (w: read them all)" for i in (1, 2, 3)]
        await pilot.press("w")
        screen = app.screen
        assert isinstance(screen, WarningsScreen)
        title = str(screen.query_one("#warnings-title", Static).render())
        assert title.startswith("Warnings: 18 while loading")
        body = str(screen.query_one("#warnings-body", Static).render())
        assert "read 2 file(s): ukp/evaluation_scores.csv, ukp/tidy.csv" in body
        assert " 1. model 'm0' has no params" in body and "17. model 'm16'" in body
        assert "18. family [bold]x[/bold] " in body and "\x1b" not in body  # markup shown, escapes dropped
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("w", "w")  # w closes it too
        assert isinstance(app.screen, OverviewScreen)


async def test_warnings_screen_with_none_says_so_and_names_a_load_error() -> None:
    app = make_app(("bad.csv",))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        body = str(app.screen.query_one("#warnings-body", Static).render())
        assert body.startswith("error: bad.csv: column 'model' is missing")
        assert "no warnings" in body
    text = warnings_text([f"w{i}" for i in range(10)], [f"f{i}.json" for i in range(7)]).plain
    assert "read 7 file(s): f0.json, f1.json, f2.json, f3.json, f4.json and 2 more" in text
    assert text.splitlines()[2] == " 1. w0" and text.splitlines()[-1] == "10. w9"


async def export_from(app: EmergenceApp, pilot: Any, table: Path, svg: Path | None) -> ExportDialog:
    await pilot.press("e")
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    defaults = (dialog.table_path, dialog.plot_path, dialog.svg_path)
    dialog.query_one("#table_path", Input).value = str(table)
    if dialog.plot_path is not None:
        dialog.query_one("#plot_path", Input).value = ""
    if svg is not None:
        dialog.query_one("#svg_path", Input).value = str(svg)
    dialog.query_one("#table_path", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    for _ in range(50):  # the figure is drawn when it is written
        if svg is None or svg.exists():
            break
        await pilot.pause(0.1)
    return defaults


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_export_names_each_task_and_says_what_its_rows_are(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        task = app.screen
        assert isinstance(task, TaskScreen)
        first = (task.task_name, task.metric_name)
        defaults = await export_from(app, pilot, tmp_path / "a.csv", tmp_path / "a.svg")
        stem = f"emergence-task-{first[0]}-{first[1]}"
        assert defaults == (f"{stem}.csv", f"{stem}-plot.txt", f"{stem}.svg")
        rows = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text())))
        assert rows and list(rows[0])[:3] == ["task", "metric", "family"]
        assert {(r["task"], r["metric"]) for r in rows} == {first}
        assert rows[0]["x"] == "params" and rows[0]["bootstrap"] == "200" and rows[0]["ci"] == "0.95"
        assert rows[0]["law"] == "default" and rows[0]["paired"] == "true" and rows[0]["unit"] == "item"
        svg = (tmp_path / "a.svg").read_text()
        spec = task.query_one(PlotWidget).spec
        for series in spec.series:  # every family and fit the screen draws is in the figure's legend
            assert f">{series.label}<" in svg
        assert f">{first[0]} · {first[1]}<" in svg and ">params (log scale)<" in svg
        assert all(f">{label}<" in svg for _, label in spec.hlines)
        await pilot.press("escape")
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        for _ in range(overview.rows.height):  # down to the first row of another task
            await pilot.press("down")
            row = overview.query_one("DataTable").cursor_row
            if overview.rows["task"][row] != first[0]:
                break
        await pilot.press("enter")
        other = app.screen
        assert isinstance(other, TaskScreen) and other.task_name != first[0]
        defaults = await export_from(app, pilot, tmp_path / "b.csv", None)
        assert defaults[0] == f"emergence-task-{other.task_name}-{other.metric_name}.csv"
        assert not list(tmp_path.glob("*.svg"))[1:]  # an empty figure path writes no figure
        await pilot.press("escape")
        overview = await export_from(app, pilot, tmp_path / "overview.csv", None)
        assert overview[0] == "emergence-overview.csv" and overview[2] is None  # no plot, no figure
        header = (tmp_path / "overview.csv").read_text().splitlines()[0].split(",")
        assert "family" in header and "task" in header
        assert tuple(header[-9:]) == SETTINGS_COLUMNS


def test_file_name_parts_are_safe() -> None:
    from tui.export import default_names, slug

    assert slug("hendrycksTest-abstract_algebra 5-shot") == "hendrycksTest-abstract_algebra_5-shot"
    assert slug("../../etc/passwd") == "etc_passwd" and slug("???") == "x"
    assert re.fullmatch(r"[\w.-]+", default_names({"screen": "mirage", "task": "a/b [c]", "metric": None})[0])


@needs_shared_data
async def test_real_ukp_table_opens_with_the_readme_options_and_w_shows_all_its_warnings() -> None:
    from tui.backend.in_process import AnalysisBackend
    from tui.cli import build_parser, load_options_from

    path = SHARED_DATA / "ukp_on_emergence" / "raw" / "evaluation_scores.csv"
    argv = [str(path), "--format-in", "wide", "--map", "filename=task", "--map", "number_of_data=n",
            "--map", "exact_match_accuracy=metric", "--map", "edit_distance=metric",
            "--map", "bert_score_accuracy=metric", "--null-value", "-100", "--params-from-name"]  # fmt: skip
    options = load_options_from(build_parser(None).parse_args(argv))
    expected = load([path], options).warnings
    assert len(expected) >= 18  # the raw table: models without sizes, repeats, -100 cells, seeds
    settings = replace(FAST, resample=replace(FAST.resample, bootstrap=0))
    app = EmergenceApp([str(path)], options, backend=AnalysisBackend(), settings=settings)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        assert app.error == ""
        await pilot.press("w")
        body = str(app.screen.query_one("#warnings-body", Static).render())
        assert f"{len(expected)}. " in body and "no size in the name" in body
        assert all(clean(w) in body for w in expected)  # each in full, not cut at 300 characters
