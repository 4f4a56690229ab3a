"""Backtests: a law fitted without the largest scales (smallest losses), judged on the held-out points.

The hold-out rule lives here once (``held_out``, ``held_out_rows``, ``holds_out_largest``): a backtest with
holdout K holds out every point at the K largest distinct x values among the points with both x and y, per
family x task x metric; on a loss axis, where the most capable models have the smallest x, the K smallest.
The fit stage and the app's plots both use it, so the points drawn as held out are the ones the fit left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.errors import InputError
from analysis.fits.procedure import _fit_many, _FitRequest
from analysis.fits.results import Backtest, FitResult


def holds_out_largest(axis: str) -> bool:
    """Whether a backtest against ``axis`` holds out its largest values (the smallest on a loss axis)."""
    return axis != S.LOSS


def held_out(x: np.ndarray, y: np.ndarray, holdout: int, *, largest: bool = True) -> np.ndarray:
    """Which points a backtest holds out: those at the ``holdout`` largest distinct x (smallest when not
    ``largest``) among the points with a finite x and y. All False for holdout <= 0."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    present = np.isfinite(x) & np.isfinite(y)
    if holdout <= 0:
        return np.zeros(x.shape, dtype=bool)
    scales = np.unique(x[present])
    held_scales = scales[-holdout:] if largest else scales[:holdout]
    return present & np.isin(x, held_scales)


def held_out_rows(points: pl.DataFrame, axis: str, holdout: int) -> pl.Series:
    """For each row of a points frame, whether a backtest against ``axis`` with ``holdout`` holds it out.

    The rule of ``held_out``, applied per family x task x metric as the fit stage does (Boolean, same rows).
    """
    if holdout <= 0 or points.is_empty() or axis not in points.columns:
        return pl.Series("held_out", [False] * points.height, dtype=pl.Boolean)
    mask = np.zeros(points.height, dtype=bool)
    keys = [c for c in (S.FAMILY, S.TASK, S.METRIC) if c in points.columns]
    indexed = points.with_row_index("_row")
    groups = indexed.partition_by(keys, maintain_order=True) if keys else [indexed]
    for group in groups:
        x = group[axis].cast(pl.Float64).fill_null(np.nan).to_numpy()
        y = group[S.VALUE].cast(pl.Float64).fill_null(np.nan).to_numpy()
        held = held_out(x, y, holdout, largest=holds_out_largest(axis))
        mask[group["_row"].to_numpy()[held]] = True
    return pl.Series("held_out", mask, dtype=pl.Boolean)


def backtest(
    x: np.ndarray,
    y: np.ndarray,
    law: str,
    holdout: int,
    *,
    x2: np.ndarray | None = None,
    floor: float | None = None,
    chance: float | None = None,
    largest: bool = True,
    bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    x_name: str = "x",
    x2_name: str | None = None,
) -> Backtest:
    """Fit on all points except those at the ``holdout`` largest distinct x values and predict those.

    ``largest=False`` holds out the smallest x instead (the most capable models on a loss axis).
    """
    request, held = _holdout_split(
        x,
        y,
        law,
        holdout,
        x2,
        floor,
        largest,
        _FitRequest(x, y, law, x2, floor, bootstrap, ci, seed, x_name, x2_name),
    )
    return _judge_backtest(_fit_many([request])[0], held, chance)


@dataclass(frozen=True, eq=False)
class _HeldOut:
    """The held-out points of a backtest (sorted by x) and the last-value baseline of its training points."""

    holdout: int
    x: np.ndarray
    y: np.ndarray
    x2: np.ndarray | None
    last_value: float


def _queue_fit(
    requests: list[_FitRequest], request: _FitRequest, holdout: int, largest: bool
) -> _HeldOut | None:
    """Queue ``request`` (after its backtest training fit when ``holdout`` > 0); the held-out points."""
    held = None
    if holdout > 0:
        training = replace(request, bootstrap=0, ci=0.95, seed=0)
        bt_request, held = _holdout_split(
            request.x, request.y, request.law, holdout, request.x2, request.floor, largest, training
        )
        requests.append(bt_request)
    requests.append(request)
    return held


def _holdout_split(
    x: np.ndarray,
    y: np.ndarray,
    law: str,
    holdout: int,
    x2: np.ndarray | None,
    floor: float | None,
    largest: bool,
    template: _FitRequest,
) -> tuple[_FitRequest, _HeldOut]:
    """The training fit's request (``template`` restricted to the training points) and the held-out points."""
    if holdout < 1:
        raise InputError(f"--holdout must be at least 1 to backtest, got {holdout}")
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    x2 = None if x2 is None else np.asarray(x2, dtype=float).ravel()
    present = np.isfinite(x) & np.isfinite(y)
    held = held_out(x, y, holdout, largest=largest)
    train = present & ~held
    request = replace(
        template, x=x[train], y=y[train], x2=None if x2 is None else x2[train], law=law, floor=floor
    )
    order = np.argsort(x[held], kind="stable")
    hx, hy = x[held][order], y[held][order]
    hx2 = None if x2 is None else x2[held][order]
    train_x = x[train]
    last_value = float("nan")  # no training points (holdout >= the number of scales): the fit refuses
    if train.any():
        edge = train_x.max() if largest else train_x.min()
        last_value = float(y[train][train_x == edge].mean())
    return request, _HeldOut(holdout, hx, hy, hx2, last_value)


def _judge_backtest(fit: FitResult, held: _HeldOut, chance: float | None) -> Backtest:
    """A backtest from the training fit: predictions, errors and baselines on the held-out points."""
    hx, hy, hx2, last_value = held.x, held.y, held.x2, held.last_value
    predicted = fit.predict(hx, hx2)
    abs_error = np.abs(predicted - hy)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_error = np.where(hy != 0, abs_error / np.abs(hy), np.nan)
    mae = float(abs_error.mean()) if hx.size else float("nan")
    return Backtest(
        fit=fit,
        holdout=held.holdout,
        x=hx,
        y=hy,
        x2=hx2,
        predicted=predicted,
        abs_error=abs_error,
        rel_error=rel_error,
        extrapolated=fit.extrapolates(hx, hx2) if fit.ok else np.ones(hx.shape, dtype=bool),
        mae=mae,
        last_value=last_value,
        mae_last_value=float(np.abs(hy - last_value).mean()) if hx.size else float("nan"),
        chance=chance,
        mae_chance=None if chance is None or not hx.size else float(np.abs(hy - chance).mean()),
    )
