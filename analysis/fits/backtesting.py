"""Backtests: a law fitted without the largest scales (smallest losses), judged on the held-out points.

The hold-out rule lives here once (``held_out``, ``held_out_rows``, ``holds_out_largest``): a backtest with
holdout K holds out every point at the K largest distinct x values among the points with both x and y, per
family x task x metric; on a loss axis, where the most capable models have the smallest x, the K smallest.
The fit stage and the app's plots both use it, so the points drawn as held out are the ones the fit left out.

Baselines (docs/science.md section 6): the *smooth line*, a straight line on the metric's link scale
(``analysis.links``: where the smooth case of the mirage model is a line in log scale: log-log for losses,
logit above chance for accuracies, log(-log p) for exact match and probabilities) through the last
``WINDOW`` training points resolved there (the rule of the jump statistic, ``analysis.jumps``), extrapolated
to each held-out scale; the last value; chance. Errors are in the metric's own space: log for losses (a
factor), linear otherwise. A held-out model resolved on the link scale that misses the smooth line by
``JUMP_EFFECT`` (log 2, a factor 2 in the implied loss or the odds) or more, either way, makes the backtest
``predictable = False``: the smaller models did not predict it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from analysis import links
from analysis import schema as S
from analysis.emergence import JUMP_EFFECT
from analysis.errors import InputError
from analysis.fits.procedure import _fit_many, _FitRequest
from analysis.fits.results import Backtest, FitResult
from analysis.jumps import WINDOW


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


BACKTEST_RULE = (
    "backtest (--holdout K): the law refitted without the K largest scales (the smallest losses on a loss "
    "axis), whose parameters the backtest line shows, predicts the held-out models; errors are mean absolute "
    "errors in the metric's own space (log for losses: a factor; linear otherwise) against three baselines: "
    "the smooth line (a straight line on the metric's link scale through the last 3 training points resolved "
    "there: log-log for losses, logit above chance for accuracies, log(-log p) for exact match), the last "
    "value and chance; a held-out model that misses the smooth line by a factor 2 or more on the link scale "
    "was not predictable from the smaller models"
)


@dataclass(frozen=True)
class SmoothLink:
    """The link scale of the smooth-line baseline and its domain (``analysis.links``)."""

    name: str
    lower: float
    upper: float

    @property
    def error_space(self) -> str:
        """Where a backtest's errors are measured: log for losses (the log link), linear otherwise."""
        return "log" if self.name == links.LOG else "linear"


def smooth_link(
    spec: S.MetricSpec | None, chance: float | None, length: float | None, y: np.ndarray
) -> SmoothLink:
    """The link a metric's smooth case is a line on (``links.scale_for``), or, when its parameters (target
    length, choices) are unknown, log for lower-is-better metrics and the raw scale otherwise. Without a spec
    (a curve fitted on its own) values in [0, 1] are taken for a score rising from ``chance`` (or 0), other
    positive values for a loss."""
    finite = y[np.isfinite(y)]
    if spec is None:
        rate = bool(finite.size) and bool(((finite >= 0) & (finite <= 1)).all())
        loss = not rate and bool(finite.size) and bool((finite > 0).all())
        spec = S.MetricSpec("?", -1 if loss else 1, "continuous")
    name = links.scale_for(spec, float(finite.max()) if finite.size else None)
    domain = links.bounds(name, chance, length)
    if domain is None:
        name = links.LOG if spec.direction < 0 else links.IDENTITY
        domain = links.bounds(name, None, None)
    return SmoothLink(name, float(domain[0]), float(domain[1]))


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
    link: SmoothLink | None = None,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> Backtest:
    """Fit on all points except those at the ``holdout`` largest distinct x values and predict those.

    ``largest=False`` holds out the smallest x instead (the most capable models on a loss axis). ``link`` is
    the smooth line's scale (default: ``smooth_link`` from the values alone); ``lo``/``hi``, the points'
    intervals, say which training points are resolved on it.
    """
    y_arr = np.asarray(y, dtype=float)
    smooth = _usable(y_arr, link or smooth_link(None, chance, None, y_arr), lo, hi)
    template = _FitRequest(x, y, law, x2, floor, bootstrap, ci, seed, x_name, x2_name)
    request, held = _holdout_split(x, y, law, holdout, x2, floor, largest, template, smooth)
    return _judge_backtest(_fit_many([request])[0], held, chance)


@dataclass(frozen=True, eq=False)
class _Smooth:
    """The link of the smooth line, every point's link value and which points it may go through."""

    link: SmoothLink
    z: np.ndarray
    usable: np.ndarray


def _usable(y: np.ndarray, link: SmoothLink, lo: np.ndarray | None, hi: np.ndarray | None) -> _Smooth:
    """Which points the smooth line may go through: a finite link value and, when the points have intervals,
    an interval strictly inside the link's domain (resolved there)."""
    y = np.asarray(y, dtype=float).ravel()
    z = links.to_link(link.name, y, link.lower, link.upper)
    usable = np.isfinite(z)
    if lo is not None and hi is not None:
        lo, hi = np.asarray(lo, dtype=float).ravel(), np.asarray(hi, dtype=float).ravel()
        known = np.isfinite(lo) & np.isfinite(hi)
        usable &= ~known | links.inside(lo, hi, link.lower, link.upper)
    return _Smooth(link, z, usable)


@dataclass(frozen=True, eq=False)
class _HeldOut:
    """The held-out points of a backtest (sorted by x), the last-value baseline of its training points and
    the smooth line at the held-out points."""

    holdout: int
    x: np.ndarray
    y: np.ndarray
    x2: np.ndarray | None
    last_value: float
    link: SmoothLink
    smooth: np.ndarray  # the smooth line at x, raw scale (NaN without one)
    miss: np.ndarray  # held-out link value minus the line's (NaN where undefined)


def _queue_fit(
    requests: list[_FitRequest],
    request: _FitRequest,
    holdout: int,
    largest: bool,
    link: SmoothLink | None = None,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> _HeldOut | None:
    """Queue ``request`` (after its backtest training fit when ``holdout`` > 0); the held-out points."""
    held = None
    if holdout > 0:
        training = replace(request, bootstrap=0, ci=0.95, seed=0, y_replicates=None)
        y = np.asarray(request.y, dtype=float)
        smooth = _usable(y, link or smooth_link(None, None, None, y), lo, hi)
        bt_request, held = _holdout_split(
            request.x, request.y, request.law, holdout, request.x2, request.floor, largest, training, smooth
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
    smooth: _Smooth,
) -> tuple[_FitRequest, _HeldOut]:
    """The training fit's request (``template`` restricted to the training points) and the held-out points
    with the last-value and smooth-line baselines."""
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
    link = smooth.link
    line = _smooth_line(x, smooth, train, largest, hx)
    resolved_held = smooth.usable[held][order]  # a held-out point at the floor or ceiling has no miss to show
    miss = np.where(resolved_held, smooth.z[held][order] - line, np.nan)
    smooth_y = links.from_link(link.name, line, link.lower, link.upper)
    return request, _HeldOut(holdout, hx, hy, hx2, last_value, link, smooth_y, miss)


def _smooth_line(
    x: np.ndarray, smooth: _Smooth, train: np.ndarray, largest: bool, at: np.ndarray
) -> np.ndarray:
    """The line on the link scale through the ``WINDOW`` training points nearest the held-out end that are
    resolved there, against log10 x, at ``at``; NaN with fewer than two such points."""
    candidates = np.flatnonzero(train & smooth.usable & np.isfinite(x) & (x > 0))
    ordered = candidates[np.argsort(x[candidates], kind="stable")]
    chosen = ordered[-WINDOW:] if largest else ordered[:WINDOW]
    if chosen.size < 2 or np.ptp(np.log10(x[chosen])) == 0:
        return np.full(at.shape, np.nan)
    slope, intercept = np.polyfit(np.log10(x[chosen]), smooth.z[chosen], 1)
    return intercept + slope * np.log10(at)


def _errors(predicted: np.ndarray | float, y: np.ndarray, space: str) -> np.ndarray:
    """|predicted - y| in the error space (log: |log predicted - log y|, NaN where either is <= 0)."""
    predicted = np.broadcast_to(np.asarray(predicted, dtype=float), y.shape)
    if space != "log":
        return np.abs(predicted - y)
    valid = (predicted > 0) & (y > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid, np.abs(np.log(predicted) - np.log(y)), np.nan)


def _mean(errors: np.ndarray) -> float:
    """The mean of the defined errors (NaN when none is)."""
    finite = errors[np.isfinite(errors)]
    return float(finite.mean()) if finite.size else float("nan")


def _judge_backtest(fit: FitResult, held: _HeldOut, chance: float | None) -> Backtest:
    """A backtest from the training fit: predictions, errors in the metric's space and the baselines."""
    hx, hy, hx2, last_value = held.x, held.y, held.x2, held.last_value
    space = held.link.error_space
    predicted = fit.predict(hx, hx2)
    abs_error = _errors(predicted, hy, space)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_error = np.where(hy != 0, np.abs(predicted - hy) / np.abs(hy), np.nan)
    has_line = bool(np.isfinite(held.smooth).any())
    misses = np.abs(held.miss[np.isfinite(held.miss)])
    smooth_miss = float(misses.max()) if has_line and misses.size else None
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
        mae=_mean(abs_error) if fit.ok else float("nan"),
        last_value=last_value,
        mae_last_value=_mean(_errors(last_value, hy, space)),
        chance=chance,
        mae_chance=None if chance is None or not hx.size else _mean(_errors(chance, hy, space)),
        error_space=space,
        smooth_scale=held.link.name,
        smooth_predicted=held.smooth,
        mae_smooth=_mean(_errors(held.smooth, hy, space)) if has_line else None,
        smooth_miss=smooth_miss,
        predictable=None if smooth_miss is None else bool(smooth_miss < JUMP_EFFECT),
    )
