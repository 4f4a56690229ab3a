"""Pure functions from an analysis result and the view settings to what the screens show.

No numbers are computed here beyond selecting, sorting and formatting what ``analysis`` returned; the
screens stay thin and these functions are tested without a terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from tui.state import AXES, ViewSettings
from tui.widgets.plot import PlotSpec, Series

OVERVIEW_COLUMNS: tuple[str, ...] = (
    "family", "task", "metric", "kind", "score", "lo", "hi", "trend", "p_adjusted", "verdict",
)  # fmt: skip
POINT_COLUMNS: tuple[str, ...] = ("family", "model", "scale", "value", "lo", "hi", "n", "held_out")


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell: 3 significant digits, ``+inf``/``-inf``, and an en dash for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_ci(lo: Any, hi: Any) -> str:
    if lo is None and hi is None:
        return "–"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _frame(analysis: Any, name: str) -> pl.DataFrame:
    value = getattr(analysis, name, None)
    if value is None:
        return pl.DataFrame()
    return value if isinstance(value, pl.DataFrame) else value.frame


def available_axes(analysis: Any) -> list[str]:
    """The scale axes that have at least one known value among the points."""
    points = _frame(analysis, "points")
    return [a for a in AXES if a in points.columns and points[a].drop_nulls().len() > 0] or ["params"]


def metrics_for(analysis: Any, task: str | None = None, family: str | None = None) -> list[str]:
    """The metric ids that have points (for one task and family when given), in a stable order."""
    points = _frame(analysis, "points")
    if points.is_empty():
        return []
    if task is not None:
        points = points.filter(pl.col("task") == task)
    if family is not None:
        points = points.filter(pl.col("family") == family)
    return sorted(points["metric"].unique().to_list())


def families(analysis: Any) -> list[str]:
    points = _frame(analysis, "points")
    return sorted(points["family"].unique().to_list()) if not points.is_empty() else []


def overview_frame(
    analysis: Any, settings: ViewSettings, query: str = "", sort_key: str = "task", descending: bool = False
) -> pl.DataFrame:
    """One row per family x task x metric: emergence score and CI, trend, adjusted p and mirage verdict."""
    emergence = _frame(analysis, "emergence")
    if emergence.is_empty():
        return pl.DataFrame(schema={c: pl.Utf8 for c in OVERVIEW_COLUMNS})
    frame = emergence
    for column in OVERVIEW_COLUMNS[:-1]:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(column))
    mirage = _frame(analysis, "mirage")
    if not mirage.is_empty() and {"discontinuous", "continuous", "verdict"} <= set(mirage.columns):
        verdicts = pl.concat(
            [
                mirage.select("family", "task", pl.col(role).alias("metric"), "verdict")
                for role in ("discontinuous", "continuous")
            ]
        ).unique(subset=["family", "task", "metric"], keep="first")
        frame = frame.join(verdicts, on=["family", "task", "metric"], how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("verdict"))
    frame = frame.select(OVERVIEW_COLUMNS)
    if settings.metric is not None:
        frame = frame.filter(pl.col("metric") == settings.metric)
    if settings.family is not None:
        frame = frame.filter(pl.col("family") == settings.family)
    words = query.lower().split()
    if words:
        haystack = pl.concat_str(
            [
                pl.col(c).cast(pl.Utf8).fill_null("")
                for c in ("family", "task", "metric", "kind", "trend", "verdict")
            ],
            separator=" ",
        ).str.to_lowercase()
        for word in words:
            frame = frame.filter(haystack.str.contains(word, literal=True))
    key = sort_key if sort_key in frame.columns else "task"
    if key == "score":
        descending = not descending  # biggest jumps first
    return frame.sort(
        [key, "task", "metric", "family"], descending=[descending, False, False, False], nulls_last=True
    )


def held_out_models(points: pl.DataFrame, axis: str, holdout: int) -> set[tuple[str, str]]:
    """(family, model) of the ``holdout`` largest scales per family: the points a backtest fits without."""
    if holdout <= 0 or points.is_empty():
        return set()
    held: set[tuple[str, str]] = set()
    for (family,), group in points.filter(pl.col(axis).is_not_null()).group_by(["family"]):
        top = group.unique(subset=["model"]).sort(axis, descending=True).head(holdout)
        held |= {(family, m) for m in top["model"].to_list()}
    return held


def task_points(analysis: Any, settings: ViewSettings, task: str, metric: str) -> pl.DataFrame:
    """The points of one task and metric against the chosen axis (model, scale, value, CI, n, held out)."""
    points = _frame(analysis, "points")
    empty = pl.DataFrame(schema={c: pl.Utf8 for c in POINT_COLUMNS})
    if points.is_empty() or settings.axis not in points.columns:
        return empty
    chosen = points.filter((pl.col("task") == task) & (pl.col("metric") == metric))
    if settings.family is not None:
        chosen = chosen.filter(pl.col("family") == settings.family)
    held = held_out_models(chosen, settings.axis, settings.holdout)
    chosen = chosen.sort(["family", settings.axis], nulls_last=True)
    return chosen.select(
        "family",
        "model",
        pl.col(settings.axis).alias("scale"),
        "value",
        "lo",
        "hi",
        pl.col("n") if "n" in chosen.columns else pl.lit(None).alias("n"),
        pl.Series(
            "held_out",
            [(f, m) in held for f, m in zip(chosen["family"], chosen["model"], strict=True)],
            dtype=pl.Boolean,
        ),
    )


def chance_level(analysis: Any, task: str, metric: str) -> float | None:
    points = _frame(analysis, "points")
    if "chance" not in points.columns:
        return None
    values = points.filter((pl.col("task") == task) & (pl.col("metric") == metric))["chance"].drop_nulls()
    return float(values[0]) if values.len() else None


def fit_result(analysis: Any, family: str, task: str, metric: str) -> Any:
    fits = getattr(analysis, "fits", None)
    results = getattr(fits, "results", None) or {}
    return results.get((family, task, metric))


def task_plot(analysis: Any, settings: ViewSettings, task: str, metric: str, *, title: str = "") -> PlotSpec:
    """The task view's plot: one series per family with CIs, its fitted law through and beyond the data."""
    points = task_points(analysis, settings, task, metric)
    series: list[Series] = []
    fam_names = sorted(points["family"].unique().to_list()) if not points.is_empty() else []
    for colour, family in enumerate(fam_names):
        rows = points.filter((pl.col("family") == family) & pl.col("scale").is_not_null())
        if rows.is_empty():
            continue
        series.append(
            Series(
                label=family,
                x=tuple(rows["scale"].to_list()),
                y=tuple(rows["value"].to_list()),
                lo=tuple(rows["lo"].to_list()),
                hi=tuple(rows["hi"].to_list()),
                held_out=tuple(rows["held_out"].to_list()),
                colour=colour,
            )
        )
        result = fit_result(analysis, family, task, metric)
        curve = fit_curve(result, settings.axis, rows["scale"].to_numpy())
        if curve is not None:
            series.append(Series(label=f"{family} {getattr(result, 'law', 'fit')}", x=curve[0], y=curve[1],
                                 style="fit", colour=colour))  # fmt: skip
    chance = chance_level(analysis, task, metric)
    hlines = ((chance, "chance"),) if chance is not None else ()
    message = "" if series else f"no points for {task} / {metric} on {settings.axis}"
    return PlotSpec(
        title=title or f"{task} · {metric}",
        x_label=settings.axis,
        series=tuple(series),
        hlines=hlines,
        log_x=settings.axis != "loss",
        log_y=settings.log_y,
        message=message,
    )


def fit_curve(result: Any, axis: str, xs: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The fitted law on a log grid from the smallest scale to 10x the largest (the extrapolation shown)."""
    if result is None or not getattr(result, "ok", False) or getattr(result, "x", axis) != axis:
        return None
    xs = xs[np.isfinite(xs) & (xs > 0)]
    if xs.size < 2:
        return None
    grid = np.geomspace(xs.min(), xs.max() * 10, 60)
    try:
        ys = np.asarray(result.predict(grid), dtype=float)
    except Exception:  # a law that cannot predict (e.g. joint without tokens) just draws no curve
        return None
    keep = np.isfinite(ys)
    return tuple(grid[keep].tolist()), tuple(ys[keep].tolist())


def fit_summary(analysis: Any, settings: ViewSettings, task: str, metric: str) -> list[tuple[str, str]]:
    """(family, one line) per fit: law, parameters with CIs, R^2 and backtest error, or why there is none."""
    fits = getattr(analysis, "fits", None)
    frame = getattr(fits, "frame", None)
    if frame is None or frame.is_empty():
        return []
    rows = frame.filter((pl.col("task") == task) & (pl.col("metric") == metric))
    if settings.family is not None:
        rows = rows.filter(pl.col("family") == settings.family)
    lines = []
    for row in rows.iter_rows(named=True):
        family = row.get("family", "")
        result = fit_result(analysis, family, task, metric)
        if not row.get("ok", True):
            lines.append(
                (family, f"{row.get('law') or 'fit'}: no fit — {row.get('message') or 'unknown reason'}")
            )
            continue
        params = getattr(result, "params", None) or row.get("params") or {}
        cis = getattr(result, "ci", None) or row.get("ci") or {}
        parts = [f"{row.get('law') or getattr(result, 'law', '?')} vs {row.get('x') or settings.axis}"]
        if isinstance(params, dict):
            for name, value in params.items():
                ci = cis.get(name) if isinstance(cis, dict) else None
                ci_text = f" {fmt_ci(*ci)}" if isinstance(ci, list | tuple) and len(ci) == 2 else ""
                parts.append(f"{name}={fmt(value)}{ci_text}")
        else:
            parts.append(str(params))
        parts.append(f"R²={fmt(row.get('r2'))}")
        backtest = {k: v for k, v in row.items() if k.startswith("backtest") and v is not None}
        for key, value in backtest.items():
            parts.append(f"{key.replace('backtest_', 'bt ')}={fmt(value)}")
        if row.get("message"):
            parts.append(str(row["message"]))
        lines.append((family, "  ".join(parts)))
    return lines


@dataclass(frozen=True)
class MiragePair:
    """The discontinuous metric of a task and its continuous partner, with both emergence scores."""

    family: str
    task: str
    discontinuous: str
    continuous: str
    score_discontinuous: float | None
    score_continuous: float | None
    verdict: str


def mirage_pairs(analysis: Any, task: str, family: str | None = None) -> list[MiragePair]:
    mirage = _frame(analysis, "mirage")
    if mirage.is_empty():
        return []
    rows = mirage.filter(pl.col("task") == task)
    if family is not None:
        rows = rows.filter(pl.col("family") == family)
    return [
        MiragePair(
            family=r["family"],
            task=r["task"],
            discontinuous=r["discontinuous"],
            continuous=r["continuous"],
            score_discontinuous=r.get("score_discontinuous"),
            score_continuous=r.get("score_continuous"),
            verdict=str(r.get("verdict") or ""),
        )
        for r in rows.iter_rows(named=True)
    ]
