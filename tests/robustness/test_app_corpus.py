"""The app over every corpus case: the same one-line message as `report`, or the results; it stays usable.

Each case opens the app on the case's files with the real loader and pipeline (no fit
bootstrap), checks the message or the results, presses a few keys, checks the screen for escape sequences and
quits; the user's files are hashed before and after.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest
from textual.widgets import Static

from analysis.loading import load, require_placed
from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from tests.robustness.corpus import ERROR, Case, build_corpus
from tests.robustness.test_corpus import CASE_NAMES, digests
from tui.app import EmergenceApp
from tui.cli import build_parser, load_options_from, main
from tui.screens.dialogs import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.state import ViewSettings

SIZE = (100, 30)


@dataclass
class QuickPipeline:
    """The real pipeline with no fit bootstrap, so 80 loads take seconds."""

    pipeline: Pipeline

    def fits(self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> object:
        return self.pipeline.fits(metric_options, resample, replace(fit, bootstrap=0))

    def forecasts(
        self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings, forecasts: object
    ) -> object:
        return self.pipeline.forecasts(metric_options, resample, replace(fit, bootstrap=0), forecasts)

    def run(self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> object:
        return self.pipeline.run(metric_options, resample, replace(fit, bootstrap=0))

    def __getattr__(self, name: str) -> object:
        return getattr(self.pipeline, name)


class QuickBackend:
    """The real loader, and the real pipeline made quick."""

    def load(self, paths: Sequence[str], options: LoadOptions) -> object:
        table = load(list(paths), options)
        require_placed(table, options)  # as the real backends do
        return table

    def pipeline(self, table: object) -> QuickPipeline:
        return QuickPipeline(Pipeline(table))


def report_message(case: Case) -> str:
    """The line `report` prints for ``case`` (without the program prefix), or "" when it succeeds."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        main(["report", *map(str, case.paths), *case.args, "--bootstrap", "0"])
    return err.getvalue().strip().removeprefix("emergence-tui: ")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    return {case.name: case for case in build_corpus(tmp_path_factory.mktemp("app-corpus"))}


# One app per case costs about a second, so the default run takes a case of each kind and format; the whole
# corpus runs under `-m slow`.
QUICK = (
    "csv UTF-16",
    "csv names with ANSI escapes",
    "csv names with control characters",
    "csv names with right-to-left",
    "csv 10,000-character name",
    "lm-eval results truncated",
    "lm-eval hostile model names",
    "wide duplicate rows",
)
CASES = [name if name in QUICK else pytest.param(name, marks=pytest.mark.slow) for name in CASE_NAMES]


@pytest.mark.parametrize("name", CASES)
async def test_app_shows_the_report_message_and_stays_usable(corpus: dict[str, Case], name: str) -> None:
    case = corpus[name]
    expected = report_message(case) if case.expect == ERROR else ""
    before = digests(case.paths)
    paths = [str(p) for p in case.paths]
    options = load_options_from(build_parser("report").parse_args([*paths, *case.args]))
    settings = ViewSettings(resample=ResampleSettings(bootstrap=30, seed=0))
    app = EmergenceApp(paths, options, backend=QuickBackend(), settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        message = app.screen.query_one("#message", Static)
        shown = str(message.render())
        if case.expect == ERROR:
            assert expected and message.display and expected in shown, (expected, shown)
        else:
            assert app.analysis is not None and not getattr(app, "error", ""), shown
            assert not message.display or "problem" not in shown
        await pilot.press("n", "x", "y", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        screen = app.export_screenshot()
        assert "\x1b" not in screen and not any(c in screen for c in "\x07\x08\x9b")
        await pilot.press("q")
    assert app.return_code == 0
    assert digests(case.paths) == before
