"""What an analysis holds: its frames, the scale axes with values, its metrics and families."""

from __future__ import annotations

import polars as pl

from tui.backend.protocol import AnalysisLike, BacktestLike, FrameLike
from tui.state import AXES


def frame_of(value: pl.DataFrame | FrameLike | None) -> pl.DataFrame:
    """A stage result as a frame (empty when the stage has not run)."""
    if value is None:
        return pl.DataFrame()
    return value if isinstance(value, pl.DataFrame) else value.frame


def available_axes(analysis: AnalysisLike) -> list[str]:
    """The scale axes that have at least one known value among the points."""
    points = frame_of(analysis.points)
    return [a for a in AXES if a in points.columns and points[a].drop_nulls().len() > 0] or ["params"]


def metrics_for(analysis: AnalysisLike, task: str | None = None, family: str | None = None) -> list[str]:
    """The metric ids that have points (for one task and family when given), in a stable order."""
    points = frame_of(analysis.points)
    if points.is_empty():
        return []
    if task is not None:
        points = points.filter(pl.col("task") == task)
    if family is not None:
        points = points.filter(pl.col("family") == family)
    return sorted(points["metric"].unique().to_list())


def families(analysis: AnalysisLike) -> list[str]:
    points = frame_of(analysis.points)
    return sorted(points["family"].unique().to_list()) if not points.is_empty() else []


def backtest_for(analysis: AnalysisLike, family: str, task: str, metric: str) -> BacktestLike | None:
    """The fit stage's backtest of one family x task x metric (None when not backtesting or not fitted)."""
    return analysis.fits.backtests.get((family, task, metric)) if analysis.fits is not None else None
