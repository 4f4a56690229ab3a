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
and it exits when the request pipe closes, so it never outlives the app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
                from analysis.loading import load
                from analysis.pipeline import Pipeline

                table = load(*args)
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
        self._lock = threading.Lock()
        self._requests: Connection | None = None
        self._answers: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child now (its imports then overlap with whatever the caller does next)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", CHILD_MAIN, str(request_read), str(answer_write)],
            pass_fds=(request_read, answer_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(request_read)
        os.close(answer_write)
        self._requests = Connection(request_write, readable=False)
        self._answers = Connection(answer_read, writable=False)

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
            except (EOFError, OSError, BrokenPipeError) as err:
                self._process = None
                raise RuntimeError("the analysis process stopped; open the files again (o)") from err
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        """End the child: closing the request pipe ends its loop; if it is busy, end it by its own pid."""
        with self._lock:
            for connection in (self._requests, self._answers):
                if connection is not None:
                    connection.close()
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._requests = self._answers = self._process = None

    # ---- the Backend protocol ----
    def load(self, paths: Sequence[str], options: LoadOptions) -> TableSummary:
        return self.call("load", list(paths), options)

    def pipeline(self, table: TableLike) -> RemotePipeline:
        return RemotePipeline(self)


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


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - runs in the child
    """The child's entry (``CHILD_MAIN REQUEST_FD ANSWER_FD``): serve until the request pipe closes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # import while the app paints its first frame; a failure surfaces on the first "load" request
        import analysis.loading
        import analysis.pipeline  # noqa: F401
    except Exception:
        pass
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))
    return 0
