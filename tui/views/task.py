"""The task view: one task's points against the scale axis, their fitted laws, backtests and verdicts."""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis.fits import held_out_rows
from analysis.formatting import fit_line, interval, number
from tui.backend.protocol import AnalysisLike, FitLike
from tui.state import ViewSettings
from tui.views.contents import backtest_for, frame_of
from tui.widgets.plot import PlotSpec, Series

POINT_COLUMNS: tuple[str, ...] = ("family", "model", "scale", "value", "lo", "hi", "n", "held_out")


def verdicts_for(
    analysis: AnalysisLike, task: str, metric: str, family: str | None = None
) -> list[tuple[str, str, str]]:
    """(family, short word, sentence) per family: for a discontinuous metric its verdict (the category and
    the sentence that names every partner); for a continuous one its own status on its link scale."""
    verdicts = frame_of(analysis.mirage)
    emergence = frame_of(analysis.emergence)
    out = []
    if not verdicts.is_empty() and "category" in verdicts.columns:
        chosen = verdicts.filter((pl.col("task") == task) & (pl.col("metric") == metric))
        if family is not None:
            chosen = chosen.filter(pl.col("family") == family)
        for row in chosen.iter_rows(named=True):
            word = row["category"] or ""
            sentence = (row["verdict"] or "").removeprefix(f"{word}: ")  # the word is shown before it
            hint = " (m: beside its partners)" if row.get("partners") else ""
            out.append((row["family"], word, sentence + hint))
    if out or emergence.is_empty() or "sentence" not in emergence.columns:
        return out
    chosen = emergence.filter((pl.col("task") == task) & (pl.col("metric") == metric))
    if family is not None:
        chosen = chosen.filter(pl.col("family") == family)
    return [
        (r["family"], r["status"] or "", (r["sentence"] or "").removeprefix(f"{r['status']}: "))
        for r in chosen.iter_rows(named=True)
    ]


def task_points(analysis: AnalysisLike, settings: ViewSettings, task: str, metric: str) -> pl.DataFrame:
    """The points of one task and metric against the chosen axis (model, scale, value, CI, n, held out)."""
    points = frame_of(analysis.points)
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


def _first_known(analysis: AnalysisLike, task: str, metric: str, column: str) -> float | None:
    """The first non-null ``column`` among the points of one task and metric (None when none says)."""
    points = frame_of(analysis.points)
    if column not in points.columns:
        return None
    values = points.filter((pl.col("task") == task) & (pl.col("metric") == metric))[column].drop_nulls()
    return float(values[0]) if values.len() else None


def metric_direction(analysis: AnalysisLike, task: str, metric: str) -> int | None:
    """+1 when higher is better, -1 when lower is better, None when the points do not say."""
    direction = _first_known(analysis, task, metric, "direction")
    return None if direction is None else int(direction)


def y_label(analysis: AnalysisLike, task: str, metric: str) -> str:
    """The y axis label: the metric and which way is better (``exact_match ↑ better``)."""
    direction = metric_direction(analysis, task, metric)
    return metric + {1: " ↑ better", -1: " ↓ better"}.get(direction or 0, "")


def chance_level(analysis: AnalysisLike, task: str, metric: str) -> float | None:
    """The metric's chance level on this task (the plot's dotted line), when known."""
    return _first_known(analysis, task, metric, "chance")


def fit_result(analysis: AnalysisLike, family: str, task: str, metric: str) -> FitLike | None:
    """The law fitted to one family x task x metric (None before the fit stage or without a fit)."""
    return analysis.fits.results.get((family, task, metric)) if analysis.fits is not None else None


def task_plot(
    analysis: AnalysisLike, settings: ViewSettings, task: str, metric: str, *, title: str = ""
) -> PlotSpec:
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
        label = f"{family} {result.law if result is not None else 'fit'}"
        backtest = backtest_for(analysis, family, task, metric) if settings.holdout else None
        if backtest is not None and backtest.fit.ok:
            result, label = backtest.fit, f"{label} fit w/o held-out"  # does the small-model fit predict?
        curve = fit_curve(result, settings.axis, rows["scale"].to_numpy())
        if curve is not None:
            series.append(Series(label=label, x=curve[0], y=curve[1], style="fit", colour=colour))
        elif result is not None and result.ok and result.x2 is not None:  # joint: no one curve over x
            at = joint_predictions(analysis, result, family, task, metric, settings.axis)
            if at is not None:
                series.append(
                    Series(
                        label=f"{label} at each point", x=at[0], y=at[1], style="fit_points", colour=colour
                    )
                )
        band = forecast_band(analysis, settings, family, task, metric, rows, colour)
        if band is not None:
            series.append(band)
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


def forecast_rows(
    analysis: AnalysisLike, settings: ViewSettings, task: str, metric: str, family: str | None = None
) -> list[dict]:
    """The forecasts at the next decade of one task and metric on the current axis (direct first, then the
    two-step route), per family (``analysis.forecasts``; none before that stage)."""
    frame = frame_of(getattr(analysis, "forecasts", None))
    if frame.is_empty() or "route" not in frame.columns:
        return []
    chosen = frame.filter(
        (pl.col("task") == task) & (pl.col("metric") == metric) & (pl.col("x") == settings.axis)
    )
    family = family if family is not None else settings.family
    if family is not None:
        chosen = chosen.filter(pl.col("family") == family)
    return chosen.sort(["family", "route", "at"]).rows(named=True)


def forecast_lines(
    analysis: AnalysisLike, settings: ViewSettings, task: str, metric: str
) -> list[tuple[str, str]]:
    """(family, one line) per family: the forecast at the next decade with its prediction interval (or why
    there is none), how far beyond the data when more than the flagged factor, and the two-step route beside
    it with the route the backtest supports."""
    by_family: dict[str, list[dict]] = {}
    for row in forecast_rows(analysis, settings, task, metric):
        by_family.setdefault(row["family"], []).append(row)
    lines = []
    for family, rows in by_family.items():
        parts = []
        for row in rows:
            words = "" if row["route"] == "direct" else f"two-step via {row['partner']} "
            if not row["ok"]:
                why = (row["sentence"] or "").split(": ", 1)[-1]
                parts.append(words + why)
                continue
            part = f"{words}{number(row['value'])}"
            if row["lo"] is not None:
                part += f" {interval(row['lo'], row['hi'])}"
            if row.get("beyond"):
                part += f" ({number(row['extrapolation'])}x beyond the data)"
            parts.append(part)
        first = rows[0]
        head = f"at {settings.axis} {number(first['at'])}" + (
            " (next decade)" if first["asked"] == "next" else ""
        )
        supported = next((r.get("supported") for r in rows if r.get("supported")), None)
        tail = f"; the backtest supports the {supported} route" if supported else ""
        lines.append((family, f"{head}: " + "; ".join(parts) + tail))
    return lines


def forecast_band(
    analysis: AnalysisLike,
    settings: ViewSettings,
    family: str,
    task: str,
    metric: str,
    rows: pl.DataFrame,
    colour: int,
) -> Series | None:
    """The direct forecast of one family as a band beyond its data: from its largest measured scale (at its
    last value) to the forecast's prediction interval at the next decade."""
    direct = [r for r in forecast_rows(analysis, settings, task, metric, family) if r["route"] == "direct"]
    if not direct or not direct[0]["ok"] or direct[0]["lo"] is None or rows.is_empty():
        return None
    row = direct[0]
    last = rows.sort("scale", descending=settings.axis != "loss").head(1)  # the most capable model
    x0, y0 = float(last["scale"][0]), float(last["value"][0])
    return Series(
        label=f"{family} forecast",
        x=(x0, float(row["at"])),
        y=(y0, float(row["value"])),
        lo=(y0, float(row["lo"])),
        hi=(y0, float(row["hi"])),
        style="band",
        colour=colour,
    )


def fit_curve(
    result: FitLike | None, axis: str, xs: np.ndarray
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The fitted law on a log grid from the smallest scale to 10x the largest (the extrapolation shown)."""
    if result is None or not result.ok or result.x != axis:
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


def joint_predictions(
    analysis: AnalysisLike, result: FitLike, family: str, task: str, metric: str, axis: str
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """A law of two axes (joint: params and tokens) has no single curve over one axis: its prediction at
    each point's own (params, tokens), placed at the point's value of ``axis``."""
    points = frame_of(analysis.points)
    needed = {result.x, result.x2, axis}
    if points.is_empty() or not needed <= set(points.columns):
        return None
    rows = points.filter(
        (pl.col("family") == family) & (pl.col("task") == task) & (pl.col("metric") == metric)
    ).drop_nulls([c for c in needed if c is not None])
    if rows.is_empty():
        return None
    try:
        ys = np.asarray(
            result.predict(rows[result.x].to_numpy().astype(float), rows[result.x2].to_numpy().astype(float)),
            dtype=float,
        )
    except Exception:  # a law that cannot predict draws nothing
        return None
    xs = rows[axis].to_numpy().astype(float)
    keep = np.isfinite(ys) & np.isfinite(xs)
    order = np.argsort(xs[keep], kind="stable")
    return tuple(xs[keep][order].tolist()), tuple(ys[keep][order].tolist())


def fit_summary(
    analysis: AnalysisLike, settings: ViewSettings, task: str, metric: str
) -> list[tuple[str, str]]:
    """(family, one line) per fit: law, parameters with CIs, R^2 and backtest error, or why there is none."""
    if analysis.fits is None or analysis.fits.frame.is_empty():
        return []
    rows = analysis.fits.frame.filter((pl.col("task") == task) & (pl.col("metric") == metric))
    if settings.family is not None:
        rows = rows.filter(pl.col("family") == settings.family)
    lines = []
    for row in rows.iter_rows(named=True):
        family = row.get("family", "")
        result = fit_result(analysis, family, task, metric)
        params = (result.params if result is not None else None) or row.get("params") or {}
        cis = (result.ci if result is not None else None) or row.get("ci") or {}
        backtest = {k: v for k, v in row.items() if k.startswith("backtest") and v is not None}
        line = fit_line(
            row.get("law") or (result.law if result is not None else None),
            row.get("x") or settings.axis,
            params,
            cis,
            row.get("r2"),
            ok=row.get("ok", True),
            message=row.get("message"),
            backtest=backtest,
            holdout=settings.holdout,
            fixed=result.fixed if result is not None else (),
        )
        lines.append((family, line))
    return lines
