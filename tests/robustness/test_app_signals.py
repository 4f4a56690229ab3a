"""The app side of what a shared cluster throws at it (issue 18): signals, dead terminals, blocked workers,
markup in names and resize storms.

The signal cases start the real app (``python -m tui.cli``) in a tmux pane and read the pane's own flags
(``#{alternate_on}``, ``#{cursor_flag}``, the mouse flags) and ``stty -g`` before and after, so "the terminal
is restored" is what tmux itself says; the worker process is looked up under ``/proc`` and must be gone. The
tmux cases run in one xdist group (one tmux server's panes at a time) and each is bounded by a deadline.
A worker that never answers is :mod:`tests.robustness.stalled_child` (a read of a FIFO no one writes, or a
busy loop). Markup in names and resize storms run under Pilot.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from textual.widgets import Input
from textual.widgets._toast import Toast

from analysis.options import LoadOptions, ResampleSettings
from tests.robustness.test_app_corpus import QuickBackend
from tui.app import EmergenceApp
from tui.screens.dialogs import ExportDialog, PickerScreen
from tui.screens.mirage import MirageScreen
from tui.screens.overview import OverviewScreen
from tui.screens.task import TaskScreen
from tui.state import ViewSettings

# ---------------------------------------------------------------- markup in every place a name can appear

MODELS = (
    "[reverse]RV-10m", "[b]big[/b]-30m", "[red]x-100m", "plain[/]-300m",
    "[link=https://e.x]k[/link]-1b", "[i]m-3b", "[u]m-10b",
)  # fmt: skip
FAMILY = "[on red]fam"
TASK = "[reverse]task"
FOLDER = "[blink]runs"
GOOD = "[u]res.csv"
BAD = "[bold]bad.csv"


def write_markup_data(root: Path) -> Path:
    """A folder (named with markup) with a per-sample CSV whose models, family and task are markup, and a bad
    CSV (named with markup) that is skipped with a warning; sizes come from the names (another warning)."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    lines = ["model,family,task,item,target,prediction"]
    for j, model in enumerate(MODELS):
        for i in range(40):
            right = (i * 7919 % 40) < 6 * j  # more right answers at larger sizes
            lines.append(f'"{model}","{FAMILY}","{TASK}",{i},12345,{"12345" if right else "12999"}')
    (folder / GOOD).write_text("\n".join(lines) + "\n")
    (folder / BAD).write_text("size,score\n1,2\n")
    return folder


def screen_text(app: EmergenceApp) -> str:
    """Everything on screen as plain text (the SVG screenshot's text runs, in order)."""
    runs = re.findall(r"<text[^>]*>(.*?)</text>", app.export_screenshot(), flags=re.S)
    return html.unescape("".join(runs)).replace("\xa0", " ")


def toasts(app: EmergenceApp) -> list[str]:
    """The text of each toast on screen, as rendered."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


async def settle(app: EmergenceApp, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def test_names_with_markup_are_shown_literally_in_every_widget_toast_and_title(tmp_path: Path) -> None:
    folder = write_markup_data(tmp_path)
    settings = ViewSettings(resample=ResampleSettings(bootstrap=30, seed=0))
    options = LoadOptions(params_from_name=True)
    app = EmergenceApp([str(folder)], options, backend=QuickBackend(), settings=settings)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, OverviewScreen) and app.error == "", app.error
        # warning toasts: the skipped file (folder and name with markup), the models whose sizes were parsed
        shown = "\n".join(toasts(app))
        assert f"{FOLDER}/{BAD}" in shown and "[reverse]RV-10m=1e+07" in shown, shown
        assert all(not n.markup for n in app._notifications), "a toast would read its text as markup"
        text = screen_text(app)
        assert TASK in text, "overview table"
        # the task view: title, points table, fit
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskScreen)
        text = screen_text(app)
        assert TASK in text, "task title"
        for model in ("[reverse]RV-10m", "[b]big[/b]-30m", "[red]x-100m", "plain[/]-300m"):
            assert model in text, f"points table: {model}"
        assert FAMILY in text, "points table: family"
        # the mirage view: the legend and the pair's line name the family
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, MirageScreen)
        assert f"▶ {FAMILY}  exact_match" in screen_text(app)
        await pilot.press("escape")
        # the family picker and the status line once a family is picked
        await pilot.press("F")
        assert isinstance(app.screen, PickerScreen)
        assert FAMILY in screen_text(app), "family picker"
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert app.settings.family == FAMILY
        assert FAMILY in screen_text(app), "status line"
        # export: the toast names the written file (a name the user typed, with markup)
        await pilot.press("e")
        assert isinstance(app.screen, ExportDialog)
        target = tmp_path / "[reverse]out.csv"
        app.screen.query_one("#table_path", Input).value = str(target)
        if app.screen.query("#plot_path"):
            app.screen.query_one("#plot_path", Input).value = ""
        app.screen.query_one("#table_path", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert target.exists()
        assert any(f"wrote {target}" in toast for toast in toasts(app)), toasts(app)
        # an input problem: the message and the error toast name the file literally
        await pilot.press("escape")
        app.open_paths([str(folder / BAD)])
        await settle(app, pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert BAD in screen_text(app), "overview message"
        assert any(BAD in toast and "input problem" in toast for toast in toasts(app)), toasts(app)
        assert all(not n.markup for n in app._notifications)
        await pilot.press("q")
    assert app.return_code == 0
