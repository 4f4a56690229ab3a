"""A long session: 500 seeded random key presses over every screen, with resizes from 20x10 to 300x100.

The 500-press run is marked slow (about a minute on 2 cores); an 80-press run with another seed is in the
default suite.

Driven by Pilot over the test backend of tests/app (small synthetic results with hostile names). Any exception
inside the app ends ``run_test`` with that exception, so getting through the loop is the check; at the end the
app must still answer keys and quit cleanly. Exports land in a temporary folder (the working directory).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from analysis.options import ResampleSettings
from tests.app.fakes import FakeBackend
from tui.app import EmergenceApp
from tui.screens.overview import OverviewScreen
from tui.state import ViewSettings

SEED = 20240501
# every binding of the app and its screens, navigation, typing into dialogs and the command palette; never a
# key that quits (q, ctrl+q, ctrl+c), so the whole session runs
KEYS = (
    *"nNpPMxylLfFrRecosSmgkjhd0123456789",
    "question_mark", "slash", "enter", "escape", "escape", "tab", "shift+tab", "space", "backspace",
    "up", "down", "left", "right", "pageup", "pagedown", "home", "end", "ctrl+p", "minus", "plus",
    "full_stop", "comma",
)  # fmt: skip
TOO_SMALL_SIZES = ((20, 10), (59, 15), (33, 71), (250, 12))
LARGE_SIZES = ((300, 100), (200, 50), (120, 40))
NORMAL_SIZE = (80, 24)
# every 25 presses one step of this tour, so each screen is visited whatever the random keys do
TOUR = (
    ("enter", "m"),
    ("question_mark",),
    ("L",),
    ("enter", "b"),
    ("enter", "s"),
    ("e",),
    ("r",),
    ("o",),
    ("ctrl+p",),
    ("M",),
)
HOSTILE_MODELS = ("[bold]m0", "\x1b[31mm1", "m2\u202e", "[link=x]m3", "m4\x07", "מודל5", "m" * 300)


@pytest.mark.parametrize(
    ("presses", "seed"),
    [(80, SEED + 1), pytest.param(500, SEED, marks=pytest.mark.slow(seconds=60))],  # about a minute
)
async def test_random_keys_and_resizes_never_crash(
    presses: int, seed: int, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the export dialog writes relative file names here
    rng = random.Random(seed)
    backend = FakeBackend(models=HOSTILE_MODELS, families=("[red]fam", "plain"))
    settings = ViewSettings(resample=ResampleSettings(bootstrap=50, seed=0))
    app = EmergenceApp(["results.csv"], backend=backend, settings=settings)
    screens_seen: Counter[str] = Counter()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        restore_at, press = -1, 0
        while press < presses:
            if press % 25 == 24:  # a stretch below the minimum, or a large terminal, then back to normal
                sizes = TOO_SMALL_SIZES if press % 50 == 24 else LARGE_SIZES
                await pilot.resize_terminal(*rng.choice(sizes))
                restore_at = press + 5
            elif press == restore_at:
                await pilot.resize_terminal(*NORMAL_SIZE)
            if press % 25 == 10:  # from the overview (escape closes every screen), at a usable size
                keys = ("escape", "escape", "escape", *TOUR[(press // 25) % len(TOUR)])
            else:  # escape often enough that dialogs with a text input do not swallow the walk
                keys = ("escape" if rng.random() < 0.2 else rng.choice(KEYS),)
            for key in keys:
                await pilot.press(key)
                screens_seen[type(app.screen).__name__] += 1
                press += 1
            if press % 100 == 99:
                await app.workers.wait_for_complete()
        await pilot.resize_terminal(80, 24)
        await app.workers.wait_for_complete()
        for _ in range(8):  # back to the overview: every screen closes on escape
            if isinstance(app.screen, OverviewScreen):
                break
            await pilot.press("escape")
            await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        assert "\x1b" not in app.export_screenshot()
        await pilot.press("q")
    assert app.return_code == 0
    # the random walk really went through the app's screens
    every_screen = {
        "OverviewScreen",
        "TaskScreen",
        "MirageScreen",
        "HelpScreen",
        "LabScreen",
        "TooSmallScreen",
    }
    assert every_screen <= set(screens_seen), dict(screens_seen)
