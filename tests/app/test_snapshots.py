"""SVG snapshots of the overview and the task view at 80x24 and 120x40, and of the first frame.

Baselines live in tests/app/__snapshots__/ (pytest-textual-snapshot's default); after a deliberate change,
regenerate with ``uv run pytest tests/app/test_snapshots.py --snapshot-update`` and look at each SVG.
"""

from __future__ import annotations

import threading

import pytest

from tests.app.conftest import make_app


async def computed(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def task_view(pilot) -> None:
    await computed(pilot)
    await pilot.press("down", "enter")  # arith · exact_match: the jump, its fit and its intervals
    await pilot.app.workers.wait_for_complete()
    # the wide layout (plot beside the tables) settles a refresh or two after mounting; on a loaded machine a
    # fixed two pauses were not always enough, so give the plot time to size itself to its widget
    await pilot.pause(0.3)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_overview(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=computed)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_task_view(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=task_view)


def test_first_frame_while_loading(snap_compare) -> None:
    """What paints before any number exists: the layout, the status line and the loading note."""
    app = make_app(gate=threading.Event(), gate_timeout=60.0)
    app.compute.show_elapsed_after = float("inf")  # no ticking seconds: the frame must not depend on time
    assert snap_compare(app, terminal_size=(80, 24))
