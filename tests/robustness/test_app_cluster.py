"""The app over cluster cases that reach its loader: no hang, the same one-line message as `report`, usable.

The app opens the case's files with the real loader and pipeline (as ``test_app_corpus`` does), so a FIFO, a
symlink loop or hostile JSON is met by the app's own load. Cases that need an unprivileged user or concern the
CLI's output are left to ``test_cluster_corpus``; the app-side cases of issue 18 (signals, terminals, resizes)
come with the app's restructuring.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator

import pytest
from textual.widgets import Static

from analysis.options import ResampleSettings
from tests.robustness.cluster_corpus import (
    ERROR,
    ClusterCase,
    build_cluster_corpus,
    digests,
    make_root,
    remove_root,
)
from tests.robustness.test_app_corpus import SIZE, QuickBackend
from tui.app import EmergenceApp
from tui.cli import build_parser, load_options_from, main
from tui.screens.dialogs import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.state import ViewSettings

CASES = (
    "FIFO named directly",
    "FIFO as a CSV in a folder",
    "FIFO as an lm-eval samples file",
    "two symlink loops",
    "a folder with only a loop",
    "deeply nested lm-eval results",
    "n-samples 5,000 digits",
    "Parquet struct value",
    "a 240,000-character bad list cell",
    "duplicate rows over 40 files",
)
LOAD_SECONDS = 120  # a load still running after this long is a hang


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, ClusterCase]]:
    root = make_root()
    try:
        yield {case.name: case for case in build_cluster_corpus(root)}
    finally:
        remove_root(root)


def report_message(case: ClusterCase) -> str:
    """The line `report` prints for ``case`` (whole, without the program prefix), or "" when it succeeds."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        main([*case.argv, "--verbose"])
    return err.getvalue().strip().removeprefix("emergence-tui: ")


def _paths_and_args(case: ClusterCase) -> tuple[list[str], list[str]]:
    """The case's paths and its load options, from its `report` command line."""
    args = build_parser("report").parse_args(list(case.argv[1:]))
    return list(args.paths), list(case.argv[1 + len(args.paths) :])


@pytest.mark.parametrize("name", CASES)
async def test_app_meets_the_case_like_report(cluster: dict[str, ClusterCase], name: str) -> None:
    case = cluster[name]
    expected = report_message(case) if case.expect == ERROR else ""
    before = digests(case.inputs)
    paths, args = _paths_and_args(case)
    options = load_options_from(build_parser("report").parse_args([*paths, *args]))
    settings = ViewSettings(resample=ResampleSettings(bootstrap=30, seed=0))
    app = EmergenceApp(paths, options, backend=QuickBackend(), settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(app.workers.wait_for_complete(), LOAD_SECONDS)
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        shown = str(app.screen.query_one("#message", Static).render())
        if case.expect == ERROR:
            assert expected and expected in shown, (expected, shown)
        else:
            assert app.analysis is not None and not getattr(app, "error", ""), shown
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert app.return_code == 0
    assert digests(case.inputs) == before
