"""Time to first paint of the real app in a real (pseudo-)terminal, against Textual's own start-up.

How it is measured: the app is started as a child process on a pseudo-terminal of the given size (so Textual
runs its normal terminal driver, not the headless one) and the parent reads what the child writes. The clock
starts just before the child is spawned and stops when the terminal output contains ``marker`` (by default
``x=params``, part of the status line that the first frame paints). Interpreter start-up and every import
count. The baseline is the wall time of ``python -c "import textual.app"`` in a child process: no app can
paint before that. The child is then ended by its own pid. :class:`Terminal` is that pseudo-terminal, which
``benchmarks.app_probe`` also uses to press keys and time their effect.

Run ``uv run python -m benchmarks.first_paint`` to print the median of a few runs of each.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_MARKER = "x=params"
APP_COMMAND = ("-c", "import sys; from tui.app import run_app; sys.exit(run_app(sys.argv[1:]))")
CLI_COMMAND = ("-m", "tui.cli")
BASELINE_COMMAND = ("-c", "import textual.app")


@dataclass(frozen=True)
class PaintTiming:
    """Seconds from spawning the child until the marker appeared (``None`` if it never did)."""

    seconds: float | None
    output_tail: str = ""


def _set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def spawn_on_pty(
    args: Sequence[str], size: tuple[int, int], cwd: str | os.PathLike[str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``python *args`` in its own session on a new pseudo-terminal of ``size``, and the master fd."""
    master, slave = pty.openpty()
    _set_size(slave, *size)
    env = {**os.environ, "TERM": os.environ.get("TERM", "xterm-256color"), "COLUMNS": str(size[0])}
    env["LINES"] = str(size[1])
    child = subprocess.Popen(
        [sys.executable, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    return child, master


class Terminal:
    """A child process on a pseudo-terminal, with its output accumulated for marker searches."""

    def __init__(
        self, args: Sequence[str], size: tuple[int, int], cwd: str | os.PathLike[str] | None = None
    ) -> None:
        self.started = time.perf_counter()  # just before the spawn: interpreter start-up and imports count
        self.child, self.master = spawn_on_pty(args, size, cwd)
        self.output = b""

    def wait_for(self, marker: bytes, since: int = 0, timeout: float = 60.0) -> float | None:
        """perf_counter() when ``marker`` appears in the output after byte ``since``; None on timeout/exit."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if marker in self.output[since:]:
                return time.perf_counter()
            ready, _, _ = select.select([self.master], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(self.master, 1 << 16)
                except OSError:
                    return None
                if not chunk:
                    return None
                self.output += chunk
            elif self.child.poll() is not None:
                return None
        return None

    def drain(self) -> None:
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def close(self) -> None:
        if self.child.poll() is None:
            os.killpg(self.child.pid, signal.SIGTERM)  # the child leads its own session: end only it
            try:
                self.child.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.child.pid, signal.SIGKILL)
                self.child.wait()
        os.close(self.master)


def time_to_marker(
    args: Sequence[str],
    *,
    marker: str = DEFAULT_MARKER,
    size: tuple[int, int] = (80, 24),
    timeout: float = 30.0,
    cwd: str | None = None,
) -> PaintTiming:
    """Start ``python *args`` on a pseudo-terminal of ``size`` and time until ``marker`` is written."""
    terminal = Terminal(args, size, cwd)
    try:
        found = terminal.wait_for(marker.encode(), timeout=timeout)
    finally:
        terminal.close()
    seconds = None if found is None else found - terminal.started
    return PaintTiming(seconds, terminal.output[-400:].decode("utf-8", "replace"))


def time_baseline(args: Sequence[str] = BASELINE_COMMAND) -> float:
    """Wall seconds of ``python *args`` run to completion (the Textual import floor)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return time.perf_counter() - started


def measure(runs: int = 5, size: tuple[int, int] = (80, 24)) -> dict[str, float]:
    """Median seconds over ``runs``: Textual's import, the app's first paint, and the same via the CLI."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    samples: dict[str, list[float]] = {"import textual.app": [], "app first paint": [], "cli first paint": []}
    for _ in range(runs):  # interleaved, so a busy moment on the machine hits every job alike
        samples["import textual.app"].append(time_baseline())
        for name, command in (("app first paint", APP_COMMAND), ("cli first paint", CLI_COMMAND)):
            timing = time_to_marker(command, size=size, cwd=root)
            if timing.seconds is None:
                raise RuntimeError(f"{name}: no first paint; the terminal showed: {timing.output_tail!r}")
            samples[name].append(timing.seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    runs = int(argv[0]) if argv else 5
    medians = measure(runs)
    base = medians["import textual.app"]
    print(f"median of {runs} runs, {os.cpu_count()} CPUs, 80x24 pseudo-terminal")
    for name, seconds in medians.items():
        print(f"{name:<20} {seconds:6.3f} s   {seconds / base:5.2f}x the Textual import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
