"""The first-paint timer (``python -m benchmarks.first_paint``) sees the first frame on a pseudo-terminal."""

from __future__ import annotations

import sys

import pytest

from benchmarks.first_paint import APP_COMMAND, time_to_marker

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")


@pytest.mark.slow
def test_first_paint_timer_finds_the_status_line_and_ends_the_child() -> None:
    timing = time_to_marker(APP_COMMAND, size=(80, 24), timeout=60)
    assert timing.seconds is not None, timing.output_tail
    never = time_to_marker(("-c", "print('hello')"), marker="x=params", timeout=10)
    assert never.seconds is None and "hello" in never.output_tail
