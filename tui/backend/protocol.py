"""What the app needs from a backend (loading), from its pipeline (the stages) and from their results.

The results are described as small Protocols, so the real ones (``analysis.pipeline.Analysis``,
``analysis.fits.FitResult``..., slimmed by their ``without_data()`` in the process backend) and the tests'
fakes all fit. The pipeline's protocol is ``analysis.stages.PipelineLike``. polars and numpy appear in
annotations only (never imported here), so the app can import this module before its first paint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from analysis.options import LoadOptions
from analysis.stages import PipelineLike

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

FitKey = tuple[str, str, str]  # (family, task, metric)


class TableLike(Protocol):
    """A loaded table, as the app sees it: the warnings to show (the rows may stay in another process)."""

    @property
    def warnings(self) -> Sequence[str]: ...


class FrameLike(Protocol):
    """A stage result with a display frame (``analysis.schema.PointSet``)."""

    @property
    def frame(self) -> pl.DataFrame: ...


class FitLike(Protocol):
    """One fitted law (``analysis.fits.FitResult``); ``predict`` evaluates it on new scales."""

    @property
    def law(self) -> str: ...

    @property
    def x(self) -> str: ...

    @property
    def params(self) -> Mapping[str, float]: ...

    @property
    def ci(self) -> Mapping[str, tuple[float, float]]: ...

    @property
    def r2(self) -> float | None: ...

    @property
    def ok(self) -> bool: ...

    @property
    def message(self) -> str: ...

    @property
    def x2(self) -> str | None: ...  # the joint law's second axis (tokens), else None

    def predict(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray: ...


class BacktestLike(Protocol):
    """A law fitted without the largest scales (``analysis.fits.Backtest``): the held-out scales, the fit."""

    @property
    def x(self) -> Sequence[float] | np.ndarray: ...

    @property
    def fit(self) -> FitLike: ...


class FitsLike(Protocol):
    """The fit stage's result (``analysis.fits.FitSet``): a display frame, fits and backtests by key."""

    @property
    def frame(self) -> pl.DataFrame: ...

    @property
    def results(self) -> Mapping[FitKey, FitLike]: ...

    @property
    def backtests(self) -> Mapping[FitKey, BacktestLike]: ...


class AnalysisLike(Protocol):
    """What the screens read (``analysis.pipeline.Analysis``); ``fits`` is None until the fit stage ends."""

    @property
    def points(self) -> FrameLike: ...

    @property
    def emergence(self) -> pl.DataFrame: ...

    @property
    def mirage(self) -> pl.DataFrame: ...

    @property
    def fits(self) -> FitsLike | None: ...


class Backend(Protocol):
    """Loads files and makes a pipeline over the loaded table."""

    def load(self, paths: Sequence[str], options: LoadOptions) -> TableLike: ...

    def pipeline(self, table: TableLike) -> PipelineLike: ...
