"""Pure functions from an analysis result and the view settings to what the screens show.

No numbers are computed here beyond selecting, sorting and formatting what ``analysis`` returned; the
screens stay thin and these functions are tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.fits import held_out_rows
from analysis.formatting import fit_line
from analysis.formatting import interval as fmt_ci  # noqa: F401 (the screens format cells with these)
from analysis.formatting import number as fmt  # noqa: F401
from analysis.mirage import mirage_summary
from tui.state import AXES, ViewSettings
from tui.widgets.plot import PlotSpec, Series

OVERVIEW_COLUMNS: tuple[str, ...] = (
    "family", "task", "metric", "kind", "score", "lo", "hi", "trend", "p_adjusted", "mirage", "verdict",
)  # fmt: skip
POINT_COLUMNS: tuple[str, ...] = ("family", "model", "scale", "value", "lo", "hi", "n", "held_out")


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
    for column in OVERVIEW_COLUMNS[:-2]:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(column))
    frame = frame.join(
        mirage_summary(_frame(analysis, "mirage")), on=["family", "task", "metric"], how="left"
    )
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
                for c in ("family", "task", "metric", "kind", "trend", "mirage", "verdict")
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


def verdicts_for(
    analysis: Any, task: str, metric: str, family: str | None = None
) -> list[tuple[str, str, str]]:
    """(family, short word, one compact sentence) of the mirage check for one task and metric, one per family.

    For a discontinuous metric the sentence names the continuous partners under which the jump vanishes and
    those under which it survives; for a continuous metric, its verdict against its first partner.
    """
    mirage = _frame(analysis, "mirage")
    words = mirage_summary(mirage).filter((pl.col("task") == task) & (pl.col("metric") == metric))
    if family is not None:
        words = words.filter(pl.col("family") == family)
    out = []
    for row in words.iter_rows(named=True):
        pairs = mirage.filter(
            (pl.col("family") == row["family"])
            & (pl.col("task") == task)
            & (pl.col("discontinuous") == metric)
        )
        if pairs.is_empty():
            out.append((row["family"], row["mirage"] or "", row["verdict"] or ""))
            continue
        vanished = pairs.filter(pl.col("mirage").fill_null(False))["continuous"].to_list()
        survived = pairs.filter(~pl.col("mirage").fill_null(False))["continuous"].to_list()
        if vanished:
            sentence = f"the jump vanishes under {', '.join(vanished)}"
            if survived:
                sentence += f"; it survives {', '.join(survived)}"
        elif (row["mirage"] or "") == "emergent":
            sentence = f"the jump survives every continuous partner ({', '.join(survived)})"
        else:
            sentence = "no jump under this metric"
        out.append((row["family"], row["mirage"] or "", sentence + " (m: side by side)"))
    return out


def backtest_for(analysis: Any, family: str, task: str, metric: str) -> Any:
    """The fit stage's backtest of one family x task x metric (None when not backtesting or not fitted)."""
    fits = getattr(analysis, "fits", None)
    return (getattr(fits, "backtests", None) or {}).get((family, task, metric))


def task_points(analysis: Any, settings: ViewSettings, task: str, metric: str) -> pl.DataFrame:
    """The points of one task and metric against the chosen axis (model, scale, value, CI, n, held out)."""
    points = _frame(analysis, "points")
    empty = pl.DataFrame(schema={c: pl.Utf8 for c in POINT_COLUMNS})
    if points.is_empty() or settings.axis not in points.columns:
        return empty
    chosen = points.filter((pl.col("task") == task) & (pl.col("metric") == metric))
    if settings.family is not None:
        chosen = chosen.filter(pl.col("family") == settings.family)
    held_rows = chosen.filter(held_out_rows(chosen, settings.axis, settings.holdout))
    held = set(zip(held_rows["family"].to_list(), held_rows["model"].to_list(), strict=True))
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


def metric_direction(analysis: Any, task: str, metric: str) -> int | None:
    """+1 when higher is better, -1 when lower is better, None when the points do not say."""
    points = _frame(analysis, "points")
    if "direction" not in points.columns:
        return None
    values = points.filter((pl.col("task") == task) & (pl.col("metric") == metric))["direction"].drop_nulls()
    return int(values[0]) if values.len() else None


def y_label(analysis: Any, task: str, metric: str) -> str:
    """The y axis label: the metric and which way is better (``exact_match ↑ better``)."""
    direction = metric_direction(analysis, task, metric)
    return metric + {1: " ↑ better", -1: " ↓ better"}.get(direction or 0, "")


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
        label = f"{family} {getattr(result, 'law', 'fit')}"
        backtest = backtest_for(analysis, family, task, metric) if settings.holdout else None
        if backtest is not None and getattr(backtest.fit, "ok", False):
            result, label = backtest.fit, f"{label} fit w/o held-out"  # does the small-model fit predict?
        curve = fit_curve(result, settings.axis, rows["scale"].to_numpy())
        if curve is not None:
            series.append(Series(label=label, x=curve[0], y=curve[1], style="fit", colour=colour))
    chance = chance_level(analysis, task, metric)
    hlines = ((chance, "chance"),) if chance is not None else ()
    message = "" if series else f"no points for {task} / {metric} on {settings.axis}"
    return PlotSpec(
        title=title or f"{task} · {metric}",
        x_label=settings.axis,
        y_label=y_label(analysis, task, metric),
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
        params = getattr(result, "params", None) or row.get("params") or {}
        cis = getattr(result, "ci", None) or row.get("ci") or {}
        backtest = {k: v for k, v in row.items() if k.startswith("backtest") and v is not None}
        line = fit_line(
            row.get("law") or getattr(result, "law", None),
            row.get("x") or settings.axis,
            params,
            cis,
            row.get("r2"),
            ok=row.get("ok", True),
            message=row.get("message"),
            backtest=backtest,
            holdout=settings.holdout,
        )
        lines.append((family, line))
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
