"""Measure the real app from outside, the way a user meets it: in a pseudo-terminal, keys in, frames out.

First paint: the clock starts just before the child process is spawned (so interpreter start-up and every
import count) and stops when the terminal output contains the status line's ``x=params``, which the first
frame paints. Progress counts as shown when the output names a stage (``reading``,
``loading``, ``computing``) or shows an ellipsis within 1 s.

Key latency: while the app is still computing (no ``ready`` seen yet), a key is written to the terminal and
the clock stops when the frame shows its effect (``y`` -> ``log-y``, ``l`` -> the next law's name in the
status line).

Metric toggle: measured inside the process with Textual's headless pilot, as the app's own record of the time
``refresh_views`` took after ``n`` (the work), plus the key-to-idle wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.first_paint import Terminal

ROOT = Path(__file__).resolve().parents[1]
APP_CODE = "import sys; from tui.app import run_app; sys.exit(run_app(sys.argv[1:]))"
PAINT_MARKER = b"x=params"
READY_MARKER = b"ready"
PROGRESS_MARKERS = (b"loading", b"computing", b"reading", "…".encode())  # a stage name or an ellipsis
# each key and what its effect puts on screen (the law cycles default -> power -> saturating -> ...)
KEYS: tuple[tuple[bytes, bytes], ...] = (
    (b"y", b"log-y"),
    (b"l", b"power"),
    (b"l", b"saturating"),
    (b"l", b"logistic"),
    (b"l", b"joint"),
)
SIZE = (80, 24)


@dataclass(frozen=True)
class PaintRun:
    paint: float  # seconds from spawn to first paint (NaN if it never painted)
    progress_shown: bool
    key_seconds: tuple[float, ...] = field(default_factory=tuple)  # per key, while still computing


def compile_bytecode() -> None:
    """Write the .pyc files a normal install has, even where PYTHONDONTWRITEBYTECODE is set.

    Without them every start recompiles Textual's ~230 modules (about a second here), which measures the
    environment, not the app. The baseline (``import textual``) runs with the same files in place.
    """
    import importlib.util

    folders = [ROOT / "tui", ROOT / "analysis"]
    for package in ("textual", "rich", "polars", "numpy", "plotext", "scipy", "rapidfuzz"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(Path(p) for p in spec.submodule_search_locations)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *map(str, folders)],
        check=False,
        capture_output=True,
    )


def first_paint(paths: Sequence[str], keys: bool = False) -> PaintRun:
    """Spawn the app on ``paths`` (none: the sample data); time its first paint and, optionally, keys."""
    terminal = Terminal(["-c", APP_CODE, *paths], SIZE, ROOT)
    try:
        painted = terminal.wait_for(PAINT_MARKER)
        if painted is None:
            tail = terminal.output[-300:].decode("utf-8", "replace")
            raise RuntimeError(f"the app never painted its status line; the terminal showed {tail!r}")
        progress = any(terminal.wait_for(m, timeout=1.0) is not None for m in PROGRESS_MARKERS)
        latencies = []
        if keys:
            for key, effect in KEYS:
                terminal.drain()
                if READY_MARKER in terminal.output:
                    break  # finished computing: later keys would not be "while it computes"
                since = len(terminal.output)
                sent = time.perf_counter()
                os.write(terminal.master, key)
                shown = terminal.wait_for(effect, since=since, timeout=10.0)
                if shown is None:
                    raise RuntimeError(f"key {key!r} never showed {effect!r}")
                latencies.append(shown - sent)
        return PaintRun(painted - terminal.started, progress, tuple(latencies))
    finally:
        terminal.close()


async def metric_toggle(presses: int) -> tuple[list[float], list[float]]:
    """Seconds of redraw work (the app's own record) and key-to-idle wall seconds for ``presses`` of ``n``."""
    from tui.app import EmergenceApp

    app = EmergenceApp()
    work, wall = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.perf_counter() + 120
        while (app.analysis is None or app.activity != "ready") and time.perf_counter() < deadline:
            await pilot.pause(0.05)  # every stage done: a key is not racing the last stages' redraws
        if app.analysis is None or app.activity != "ready":
            raise RuntimeError("the app did not finish its analysis of the sample data within 120 s")
        for _ in range(presses):
            started = time.perf_counter()
            await pilot.press("n")
            await pilot.pause()
            wall.append(time.perf_counter() - started)
            work.append(app.last_redraw_ms / 1000)
    return work, wall


@dataclass(frozen=True)
class ReadyRun:
    ready: float  # seconds from spawn until the status line says ready (NaN if it never did)
    axis_change: float  # seconds from the axis key until ready again (NaN if never)
    task_open: float = float("nan")  # seconds from Enter (a task opened, its laws fitted) until ready again


def time_to_ready(args: Sequence[str], timeout: float = 180.0) -> ReadyRun:
    """Spawn ``emergence-tui ARGS``; time until ``ready``, then press ``x`` and time until ready again, then
    Enter (the first task opens and its laws are fitted on the new axis) until ready again (NaN when a wait
    runs out)."""
    # the command line (flags such as --params-from-name parsed), on a wide pty: the status line is never cut
    terminal = Terminal(["-m", "tui.cli", *args], (200, 50), ROOT)
    try:
        done = terminal.wait_for(READY_MARKER, timeout=timeout)
        if done is None:
            return ReadyRun(float("nan"), float("nan"))
        axis = _key_until_ready(terminal, b"x", timeout)
        task = _key_until_ready(terminal, b"\r", timeout) if axis == axis else float("nan")
        return ReadyRun(done - terminal.started, axis, task)
    finally:
        terminal.close()


def _key_until_ready(terminal: Terminal, key: bytes, timeout: float) -> float:
    """Seconds from writing ``key`` until the status line says ready again (NaN when the wait runs out)."""
    time.sleep(0.5)  # the frame after ready has been drawn
    terminal.drain()
    since = len(terminal.output)
    sent = time.perf_counter()
    os.write(terminal.master, key)
    busy = any(terminal.wait_for(m, since=since, timeout=2.0) is not None for m in PROGRESS_MARKERS)
    again = terminal.wait_for(READY_MARKER, since=since if busy else len(terminal.output), timeout=timeout)
    return float("nan") if again is None else again - sent
