"""The analysis in a separate process, so the interface keeps answering keys while it computes.

A worker *thread* shares the interpreter lock with the interface: a single long numpy or polars call that
holds the lock (measured: 3 s inside the bootstrap stage on a 1M-row file) freezes every key press. Here the
table and the pipeline live in one child process (started with ``spawn``, so its imports also run beside the
first paint instead of before it); the app's worker threads send it one request per stage over a pipe and
block on the answer without holding the lock. Only small results travel back: points without their
bootstrap replicates, emergence and mirage frames, and the fits as :class:`FitView` (law, parameters, CIs;
its ``predict`` needs only ``analysis.laws``), never the per-sample rows. So the interface process never
imports scipy (``analysis.fits`` alone takes seconds to import).

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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings
from tui.backend.protocol import FitLike, FitsLike, TableLike
from tui.backend.stages import PartialAnalysis

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from analysis.schema import PointSet

# run as -c, not -m: under -m this module would be __main__ and pickles would name __main__.TableSummary
CHILD_MAIN = "import sys; from tui.backend.process import main; sys.exit(main())"


@dataclass(frozen=True)
class TableSummary:
    """What the interface needs of a loaded table: its warnings and sources (the rows stay in the child)."""

    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class FitView:
    """What the interface shows of an ``analysis.fits.FitResult``; ``predict`` evaluates the same law."""

    law: str
    x: str
    params: dict[str, float]
    ci: dict[str, tuple[float, float]]
    r2: float | None
    ok: bool
    message: str = ""

    def predict(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        import numpy as np

        from analysis.laws import evaluate

        x = np.asarray(x, dtype=float)
        if not self.ok:
            return np.full(x.shape, np.nan)
        return evaluate(self.law, self.params, x, None if x2 is None else np.asarray(x2, dtype=float))


@dataclass(frozen=True)
class BacktestView:
    """A backtest's held-out scales and the law fitted without them."""

    x: tuple[float, ...]
    fit: FitView


@dataclass(frozen=True, eq=False)
class FitSetView:
    """``analysis.fits.FitSet`` as the interface reads it: the display frame, fits and backtests by key."""

    frame: pl.DataFrame
    results: dict[tuple[str, str, str], FitView]
    backtests: dict[tuple[str, str, str], BacktestView]


def _fit_view(result: FitLike) -> FitView:
    return FitView(
        law=result.law,
        x=result.x,
        params=dict(result.params),
        ci={name: (float(lo), float(hi)) for name, (lo, hi) in result.ci.items()},
        r2=result.r2,
        ok=bool(result.ok),
        message=result.message,
    )


def _fits_view(fits: FitsLike) -> FitSetView:
    return FitSetView(
        frame=fits.frame,
        results={key: _fit_view(result) for key, result in fits.results.items()},
        backtests={
            key: BacktestView(tuple(float(v) for v in backtest.x), _fit_view(backtest.fit))
            for key, backtest in fits.backtests.items()
        },
    )


def _slim_points(points: PointSet) -> PointSet:
    """Points without their bootstrap replicates (large, and the interface never reads them)."""
    return replace(points, replicates={})


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
                value = _slim_points(pipeline.points(*args))
            elif method == "emergence":
                value = pipeline.emergence(*args)
            elif method == "fits":
                value = _fits_view(pipeline.fits(*args))
            elif method == "run":
                analysis = pipeline.run(*args)
                points, fits = _slim_points(analysis.points), _fits_view(analysis.fits)
                value = PartialAnalysis(points, analysis.emergence, analysis.mirage, fits)
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

    def call(self, method: str, *args: Any) -> Any:
        with self._lock:
            self._ensure_started()
            try:
                self._requests.send((method, args))
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

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> FitSetView:
        return self.backend.call("fits", options, resample, fit)

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
