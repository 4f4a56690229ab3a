"""What an analysis holds: its frames, the scale axes with values, its metrics and families."""

from __future__ import annotations

from typing import Any

import polars as pl

from tui.state import AXES


def frame_of(analysis: Any, name: str) -> pl.DataFrame:
    value = getattr(analysis, name, None)
    if value is None:
        return pl.DataFrame()
    return value if isinstance(value, pl.DataFrame) else value.frame


def available_axes(analysis: Any) -> list[str]:
    """The scale axes that have at least one known value among the points."""
    points = frame_of(analysis, "points")
    return [a for a in AXES if a in points.columns and points[a].drop_nulls().len() > 0] or ["params"]


def metrics_for(analysis: Any, task: str | None = None, family: str | None = None) -> list[str]:
    """The metric ids that have points (for one task and family when given), in a stable order."""
    points = frame_of(analysis, "points")
    if points.is_empty():
        return []
    if task is not None:
        points = points.filter(pl.col("task") == task)
    if family is not None:
        points = points.filter(pl.col("family") == family)
    return sorted(points["metric"].unique().to_list())


def families(analysis: Any) -> list[str]:
    points = frame_of(analysis, "points")
    return sorted(points["family"].unique().to_list()) if not points.is_empty() else []


def backtest_for(analysis: Any, family: str, task: str, metric: str) -> Any:
    """The fit stage's backtest of one family x task x metric (None when not backtesting or not fitted)."""
    fits = getattr(analysis, "fits", None)
    return (getattr(fits, "backtests", None) or {}).get((family, task, metric))
