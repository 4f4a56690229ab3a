"""SVG snapshots of every screen at 80x24 (the design size), the overview and task view at 120x40 too, the
first frame, and the "too small" notice at 40x12.

Baselines live in tests/app/__snapshots__/ (pytest-textual-snapshot's default); after a deliberate change,
regenerate with ``uv run pytest tests/app/test_snapshots.py --snapshot-update`` and look at each SVG
(``scripts/screenshots.py`` shows how to turn them into PNG).
"""

from __future__ import annotations

import threading

import pytest

from tests.app.conftest import make_app


async def computed(pilot) -> None:
    """Every stage's result shown: the worker done and its last message handled (the status says ready).
    Waiting for the worker alone let a key reach the overview before its rows, so ``down`` was lost and the
    task view showed the first row's metric in some runs."""
    await pilot.app.workers.wait_for_complete()
    for _ in range(200):
        if pilot.app.activity == "ready" or pilot.app.error:
            break
        await pilot.pause(0.05)
    await pilot.pause()


async def settled(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    # layouts settle a refresh or two after mounting; on a loaded machine a fixed two pauses were not always
    # enough, so give the plots time to size themselves to their widgets
    await pilot.pause(0.5)
    await pilot.pause()
    await pilot.pause()


async def task_view(pilot) -> None:
    await computed(pilot)
    await pilot.press("down", "enter")  # arith · exact_match: the jump, its fit and its intervals
    await settled(pilot)


def after(*keys: str):
    async def run(pilot) -> None:
        from textual.widgets import Input

        await computed(pilot)
        await pilot.press(*keys)
        for field in pilot.app.screen.query(Input):  # a blinking cursor would make the frame depend on time
            field.cursor_blink = False
        await settled(pilot)

    return run


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_overview(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=computed)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_task_view(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=task_view)


@pytest.mark.parametrize(
    "keys",
    [
        ("down", "enter", "m"),  # the mirage view
        ("L",),  # the mirage lab
        ("question_mark",),  # help
        ("r",),  # the resampling panel
        ("F",),  # a picker
        ("down", "enter", "e"),  # export
        ("o",),  # open
        ("slash", "m", "c"),  # the overview filtered
    ],
    ids=["mirage", "lab", "help", "resample", "picker", "export", "open", "filter"],
)
def test_screen_at_80x24(snap_compare, keys: tuple[str, ...]) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=after(*keys))


def test_too_small_is_drawn_on_a_clean_screen(snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(40, 12), run_before=computed)


def test_first_frame_while_loading(snap_compare) -> None:
    """What paints before any number exists: the layout, the status line and the loading note."""
    app = make_app(gate=threading.Event(), gate_timeout=60.0)
    app.compute.show_elapsed_after = float("inf")  # no ticking seconds: the frame must not depend on time
    assert snap_compare(app, terminal_size=(80, 24))
