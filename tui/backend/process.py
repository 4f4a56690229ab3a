"""The analysis in a separate process, so the interface keeps answering keys while it computes.

A worker *thread* shares the interpreter lock with the interface: a single long numpy or polars call that
holds the lock (measured: 3 s inside the bootstrap stage on a 1M-row file) freezes every key press. Here the
table and the pipeline live in one child process (started with ``spawn``, so its imports also run beside the
first paint instead of before it); the app's worker threads send it one request per stage over a pipe and
block on the answer without holding the lock. Only small results travel back, slimmed by their own
``without_data()``: points without their bootstrap replicates, emergence and mirage frames, and the fits
without residuals, never the per-sample rows. The interface process unpickles them without importing scipy
(``analysis.fits`` and ``analysis.resampling`` load it only when they compute, in this child).

The child is a plain ``python -m tui.backend.process`` started with ``subprocess`` (not ``multiprocessing``,
whose resource tracker wants the real stderr, which Textual has replaced): its stdin, stdout and stderr are
/dev/null (the terminal belongs to the interface), requests and answers travel as pickles over two pipes,
and it never outlives the app: it exits when the request pipe closes, a watcher thread ends it when its
parent is gone (the parent's pid changes: the app was killed, even with SIGKILL), and on Linux the kernel
sends it SIGKILL when the thread that started it ends (``PR_SET_PDEATHSIG``, set only for a child started
by the main thread). :meth:`ProcessBackend.close` never waits for a request in flight: a busy child (a
stage running, a read blocked on a slow file) is terminated, then killed after a short grace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from analysis.options import (
    FitSettings,
    ForecastSettings,
    LoadOptions,
    MetricOptions,
    ResampleSettings,
    SweepSettings,
)
from analysis.stages import PartialAnalysis
from tui.backend.protocol import TableLike

if TYPE_CHECKING:
    import polars as pl

    from analysis.fits import FitSet
    from analysis.forecasts import Forecasts
    from analysis.schema import PointSet
    from analysis.sweep import ResolutionSweep

# run as -c, not -m: under -m this module would be __main__ and pickles would name __main__.TableSummary
CHILD_MAIN = "import sys; from tui.backend.process import main; sys.exit(main())"
PARENT_POLL_SECONDS = 0.2  # how often the child checks that its parent is still there
CLOSE_GRACE_SECONDS = 0.4  # how long close() waits for the child to end before killing it
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class TableSummary:
    """What the interface needs of a loaded table: its warnings and sources (the rows stay in the child)."""

    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


def serve(requests: Connection, answers: Connection) -> None:  # pragma: no cover - runs in the child
    """The child's loop: answer (method, args) requests with ("ok", value) or ("error", exception)."""
    pipeline = None
    while True:
        try:
            method, args = requests.recv()
        except (EOFError, OSError):
            return
        try:
            if method == "load":
                from analysis.loading import load, require_placed
                from analysis.pipeline import Pipeline

                table = load(*args)
                require_placed(table, *args[1:])
                pipeline = Pipeline(table)
                value: Any = TableSummary(tuple(table.warnings), tuple(table.sources))
            elif pipeline is None:
                raise RuntimeError("no table loaded")
            elif method == "scored":
                pipeline.scored(*args)
                value = None
            elif method == "points":
                value = pipeline.points(*args).without_data()
            elif method == "emergence":
                value = pipeline.emergence(*args)
            elif method == "fits":
                value = pipeline.fits(*args).without_data()
            elif method == "forecasts":
                value = pipeline.forecasts(*args)
            elif method == "task_fits":
                value = pipeline.task_fits(*args).without_data()
            elif method == "task_forecasts":
                value = pipeline.task_forecasts(*args)
            elif method == "resolution_sweep":  # progress answers first, then the sweep

                def progress(done: int, total: int) -> None:
                    answers.send(("progress", (done, total)))

                value = pipeline.resolution_sweep(*args, on_run=progress).without_data()
            elif method == "run":
                analysis = pipeline.run(*args)
                partial = PartialAnalysis(analysis.points, analysis.emergence, analysis.mirage, analysis.fits)
                value = partial.without_data()
            else:
                raise RuntimeError(f"unknown request {method!r}")
            answers.send(("ok", value))
        except Exception as err:  # sent back and raised in the app, which shows it and stays usable
            try:
                answers.send(("error", err))
            except Exception:  # an exception that cannot be pickled: send its words
                answers.send(("error", RuntimeError(f"{type(err).__name__}: {err}")))


class ProcessBackend:
    """Loads and computes in one child process; requests are answered one at a time, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held by the thread whose request is in flight
        self._requests: Connection | None = None
        self._answers: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the child now (its imports then overlap with whatever the caller does next)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("the analysis process was closed")
        if self._process is not None and self._process.poll() is None:
            return
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        # the kernel's parent-death signal follows the starting *thread*; only the main thread lasts as long
        death_signal = "1" if threading.current_thread() is threading.main_thread() else "0"
        self._process = subprocess.Popen(
            [sys.executable, "-c", CHILD_MAIN, str(request_read), str(answer_write), death_signal],
            pass_fds=(request_read, answer_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(request_read)
        os.close(answer_write)
        self._requests = Connection(request_write, readable=False)
        self._answers = Connection(answer_read, writable=False)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def call(self, method: str, *args: Any, on_progress: Callable[[Any], None] | None = None) -> Any:
        """One request and its answer; ``("progress", value)`` answers before it go to ``on_progress``."""
        with self._lock:
            self._ensure_started()
            try:
                self._requests.send((method, args))
                status, value = self._answers.recv()
                while status == "progress":
                    if on_progress is not None:
                        on_progress(value)
                    status, value = self._answers.recv()
            except (EOFError, OSError, BrokenPipeError, TypeError) as err:  # TypeError: closed meanwhile
                self._process = None
                if self._closed:
                    raise RuntimeError("the analysis process was closed") from err
                raise RuntimeError("the analysis process stopped; open the files again (o)") from err
        if status == "error":
            raise value
        return value

    def kill(self) -> None:
        """Signal the child to end, without waiting for anything (safe in a signal handler)."""
        self._closed = True
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)

    def close(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """End the child within about ``grace`` seconds, even while a request is in flight.

        An idle child ends its loop when the request pipe closes. A busy one (a stage running, a read blocked
        on a slow file) holds the lock's owner in ``recv``: it is terminated, then killed after ``grace``;
        its end closes the answer pipe, so the waiting thread gets EOF, raises and lets the lock go.
        """
        self._closed = True
        process = self._process
        idle = self._lock.acquire(blocking=False)
        try:
            if idle and self._requests is not None:
                with contextlib.suppress(OSError):
                    self._requests.close()  # the idle child's loop ends
            if process is not None:
                _end(process, grace, terminate_first=not idle)
        finally:
            if idle:
                self._lock.release()
        if self._lock.acquire(timeout=grace):  # the waiting thread has seen EOF and let go
            try:
                for connection in (self._requests, self._answers):
                    if connection is not None:
                        with contextlib.suppress(OSError):
                            connection.close()
                self._requests = self._answers = self._process = None
            finally:
                self._lock.release()

    # ---- the Backend protocol ----
    def load(self, paths: Sequence[str], options: LoadOptions) -> TableSummary:
        return self.call("load", list(paths), options)

    def pipeline(self, table: TableLike) -> RemotePipeline:
        return RemotePipeline(self)


def _end(process: subprocess.Popen[bytes], grace: float, *, terminate_first: bool) -> None:
    """Wait up to ``grace`` for ``process`` to exit (after SIGTERM when ``terminate_first``), then kill it."""
    if terminate_first and process.poll() is None:
        with contextlib.suppress(OSError):
            process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            process.kill()
        process.wait()


@dataclass(frozen=True, eq=False)
class RemotePipeline:
    """``analysis.pipeline.Pipeline``'s stage methods, answered by the child process (cached there)."""

    backend: ProcessBackend

    def scored(self, options: MetricOptions) -> None:
        return self.backend.call("scored", options)

    def points(self, options: MetricOptions, resample: ResampleSettings) -> PointSet:
        return self.backend.call("points", options, resample)

    def emergence(
        self, options: MetricOptions, resample: ResampleSettings, x: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        return self.backend.call("emergence", options, resample, x)

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> FitSet:
        return self.backend.call("fits", options, resample, fit)

    def forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecasts: ForecastSettings,
    ) -> Forecasts:
        return self.backend.call("forecasts", options, resample, fit, forecasts)

    def task_fits(
        self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings, tasks: tuple[str, ...]
    ) -> FitSet:
        return self.backend.call("task_fits", options, resample, fit, tasks)

    def task_forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecasts: ForecastSettings,
        tasks: tuple[str, ...],
    ) -> Forecasts:
        return self.backend.call("task_forecasts", options, resample, fit, forecasts, tasks)

    def resolution_sweep(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        x: str,
        sweep: SweepSettings | None = None,
        on_run: Callable[[int, int], None] | None = None,
    ) -> ResolutionSweep:
        """The sweep in the child; ``on_run(done, total)`` after each of its runs (called in this thread)."""
        progress = None if on_run is None else (lambda value: on_run(*value))
        return self.backend.call("resolution_sweep", options, resample, x, sweep, on_progress=progress)

    def run(
        self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings
    ) -> PartialAnalysis:
        return self.backend.call("run", metric_options, resample, fit)


def watch_parent(parent: int, poll: float = PARENT_POLL_SECONDS) -> None:  # pragma: no cover - child
    """End this process once its parent ``parent`` is gone (it is then re-parented: its ppid changes)."""
    while os.getppid() == parent:
        time.sleep(poll)
    os._exit(0)


def set_parent_death_signal() -> None:  # pragma: no cover - runs in the child
    """Linux only: have the kernel send SIGKILL when the parent's starting thread ends."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - runs in the child
    """The child's entry (``CHILD_MAIN REQUEST_FD ANSWER_FD [DEATH_SIGNAL]``): serve until the request pipe
    closes or the parent is gone."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parent = os.getppid()
    if len(argv) > 2 and argv[2] == "1":
        set_parent_death_signal()
    if os.getppid() != parent or parent == 1:  # the parent died before the watch began
        return 0
    threading.Thread(target=watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    try:  # import while the app paints its first frame; a failure surfaces on the first "load" request
        import analysis.loading
        import analysis.pipeline  # noqa: F401
    except Exception:
        pass
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))
    return 0
