"""The ``fit_points`` stage (one law per family x task x metric) and ``fit_table`` (a table's column)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.errors import InputError
from analysis.fits.backtesting import _HeldOut, _judge_backtest, _queue_fit, holds_out_largest
from analysis.fits.laws import default_law, get_law
from analysis.fits.procedure import _fit_many, _FitRequest
from analysis.fits.results import _FRAME_SCHEMA, Backtest, FitResult, FitSet, _frame_row
from analysis.options import FitSettings

TABLE_TASK = (
    "*"  # task label of fits made directly on a table (fit_table): the fit pools no tasks, it has none
)


def _logistic_floor(values: np.ndarray, chance: float | None, direction: int) -> float | None:
    """The fixed logistic floor: chance for a higher-is-better metric; 0 for a rate with no stated chance."""
    if direction < 0:
        return None
    if chance is not None:
        return float(chance)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        return 0.0
    return None


def fit_points(points: S.PointSet, settings: FitSettings | None = None, *, y: str | None = None) -> FitSet:
    """Fit one law per family x task x metric (families never pooled) against ``settings.x``.

    The law is ``settings.law`` or the metric's default (``laws.default_law``); the joint law always
    uses params as x and tokens as x2. The logistic floor is fixed at the group's chance level (or 0 for a
    rate without one) for higher-is-better metrics and free otherwise. Rows with no x value are skipped and
    counted in the fit's message and in ``notes``. ``settings.holdout`` > 0 adds a backtest (on a loss axis
    the held-out points are the smallest losses). ``y`` names another column to fit instead of ``value`` (e.g.
    ``"loss"``): that is a per-model quantity, so it is fitted per family via ``fit_table``.
    """
    settings = settings or FitSettings()
    if y is not None and y != S.VALUE:
        per_model = points.frame.unique(subset=[S.FAMILY, S.MODEL], keep="first", maintain_order=True)
        return fit_table(per_model, y=y, law=settings.law, settings=settings)
    frame = points.frame
    law_choice = None if settings.law is None else get_law(settings.law).name
    x_col, x2_col = settings.x, None
    if law_choice == "joint":
        x_col, x2_col = S.PARAMS, S.TOKENS
    for col in (x_col, x2_col):
        if col is not None and col not in frame.columns:
            raise InputError(f"points have no {col!r} column: choose --x from {', '.join(S.SCALES)}")
    results: dict[tuple[str, str, str], FitResult] = {}
    backtests: dict[tuple[str, str, str], Backtest] = {}
    rows = []
    skipped_total, skipped_groups = 0, 0
    # every fit (and backtest fit) is set up first and all are refined together, in shared batches
    requests: list[_FitRequest] = []
    pending: list[tuple[tuple[str, str, str], str, _HeldOut | None, float | None]] = []
    keys = [S.FAMILY, S.TASK, S.METRIC]
    for group in frame.sort([*keys, x_col], nulls_last=True).partition_by(keys, maintain_order=True):
        key = (group[S.FAMILY][0], group[S.TASK][0], group[S.METRIC][0])
        metric = key[2]
        spec = points.specs.get(metric)
        direction = (
            int(group["direction"][0]) if "direction" in group.columns and group["direction"][0] else 0
        )
        if direction == 0 and spec is not None:
            direction = spec.direction
        law = law_choice or default_law(metric, spec)
        has_x = group[x_col].is_not_null() & group[S.VALUE].is_not_null()
        if x2_col is not None:
            has_x &= group[x2_col].is_not_null()
        skipped = int((~has_x).sum())
        used = group.filter(has_x)
        xs = used[x_col].to_numpy().astype(float)
        values = used[S.VALUE].to_numpy().astype(float)
        x2s = used[x2_col].to_numpy().astype(float) if x2_col else None
        chance = None
        if "chance" in used.columns and used["chance"].drop_nulls().len():
            chance = float(used["chance"].drop_nulls()[0])
        elif spec is not None and spec.chance is not None:
            chance = float(spec.chance)
        floor = _logistic_floor(values, chance, direction) if law == "logistic" else None
        request = _FitRequest(
            xs, values, law, x2s, floor, settings.bootstrap, settings.ci, settings.seed, x_col, x2_col
        )
        held = _queue_fit(requests, request, settings.holdout, holds_out_largest(x_col))
        note = ""
        if skipped:
            skipped_total += skipped
            skipped_groups += 1
            note = (
                f"skipped {skipped} points with no {x_col}" + (f" or {x2_col}" if x2_col else "") + " value"
            )
        pending.append((key, note, held, chance))
    fitted = iter(_fit_many(requests))
    for key, note, held, chance in pending:
        bt = None if held is None else _judge_backtest(next(fitted), held, chance)
        fit = next(fitted)
        if note:
            fit = _with_note(fit, note)
        results[key] = fit
        if bt is not None:
            backtests[key] = bt
        rows.append(_frame_row(key, fit, bt))
    notes = []
    if skipped_total:
        notes.append(
            f"fits against {x_col}: skipped {skipped_total} points with no {x_col} value "
            f"in {skipped_groups} family x task x metric groups"
        )
    return FitSet(pl.DataFrame(rows, schema=_FRAME_SCHEMA), results, backtests, tuple(notes))


def _with_note(fit: FitResult, note: str) -> FitResult:
    return replace(fit, message="; ".join(m for m in (fit.message, note) if m))


def fit_table(
    frame: pl.DataFrame,
    *,
    y: str = S.LOSS,
    law: str | None = "joint",
    settings: FitSettings | None = None,
    x2: str = S.TOKENS,
    by: tuple[str, ...] | None = None,
) -> FitSet:
    """Fit a column of a table directly, e.g. an aggregate loss table (Chinchilla: loss vs params and tokens).

    One fit per ``by`` group (default: per family when the table has a family column). ``law=None`` means
    ``saturating``. x is ``settings.x``; the joint law uses params and ``x2``. Rows missing a value are
    skipped (counted in the message). Result keys are (family, ``TABLE_TASK``, y).
    """
    settings = settings or FitSettings()
    law = get_law(law or "saturating").name
    x_col = S.PARAMS if law == "joint" else settings.x
    needed = [x_col, y] + ([x2] if law == "joint" else [])
    for col in needed:
        if col not in frame.columns:
            raise InputError(f"the table has no {col!r} column, needed to fit {y} with the {law} law")
    if by is None:
        by = (S.FAMILY,) if S.FAMILY in frame.columns else ()
    groups = frame.partition_by(list(by), maintain_order=True) if by else [frame]
    results: dict[tuple[str, str, str], FitResult] = {}
    backtests: dict[tuple[str, str, str], Backtest] = {}
    rows = []
    pending: list[tuple[tuple[str, str, str], _HeldOut | None]] = []
    requests: list[_FitRequest] = []
    for group in groups:
        family = str(group[by[0]][0]) if by else S.DEFAULT_FAMILY
        key = (family, TABLE_TASK, y)
        xs = group[x_col].cast(pl.Float64).to_numpy()
        ys = group[y].cast(pl.Float64).to_numpy()
        x2s = group[x2].cast(pl.Float64).to_numpy() if law == "joint" else None
        x2_name = x2 if law == "joint" else None
        request = _FitRequest(
            xs, ys, law, x2s, None, settings.bootstrap, settings.ci, settings.seed, x_col, x2_name
        )
        held = _queue_fit(requests, request, settings.holdout, holds_out_largest(x_col))
        pending.append((key, held))
    fitted = iter(_fit_many(requests))
    for key, held in pending:
        bt = None if held is None else _judge_backtest(next(fitted), held, None)
        fit = next(fitted)
        results[key] = fit
        if bt is not None:
            backtests[key] = bt
        rows.append(_frame_row(key, fit, bt))
    return FitSet(pl.DataFrame(rows, schema=_FRAME_SCHEMA), results, backtests)
