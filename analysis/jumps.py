"""The jump statistic: by how much does a model beat what the next-smaller models predict?

"Emergent" in Wei et al. (2022) and in Schaeffer et al. means "not predictable by extrapolating smaller
models". On a curve's link scale (``analysis.links``: a line there is the smooth case), each model k is
predicted by the least-squares line through the ``WINDOW`` next-smaller models that can be placed on that
scale, extrapolated to its scale; its *miss* is ``z_k - prediction`` (positive when it does better than
predicted). The jump statistic is the largest miss: in natural-log units, ``log 2`` means a model is twice as
good as predicted (half the implied loss, or twice the odds).

Why three next-smaller models rather than all of them: a smooth curve averaged over items of different
difficulty is not exactly straight on the link scale, and a line through every smaller model accumulates that
bend (up to 0.5 at a log-normal item spread of 1-2, measured on the simulator's closed forms), while a
local line keeps it below 0.15; a jump shows in full either way.

``misses`` is the readable procedure; ``misses_matrix`` the same numbers for many curves at once (bootstrap
replicates), as one matrix product: each miss is a fixed linear combination of the curve's values;
``misses_fast`` that product for one curve (what ``analysis.emergence.judge`` takes: a ``lstsq`` per point
was a third of the emergence stage on a tree of checkpoints).
"""

from __future__ import annotations

import warnings

import numpy as np

WINDOW = 3  # next-smaller models the predicting line goes through
MIN_PRIOR = 2  # a line needs two points
EULER_GAMMA = 0.5772156649015329
TAIL_EXCEEDANCES = 10  # fewer null replicates beyond the observed value: p from a Gumbel tail instead
P_FLOOR = 1e-12  # a fitted tail says nothing finer; smaller p-values are reported as this
HUGE = 1e150  # link values beyond this take the plain ``misses`` (their products overflow)


def misses(u: np.ndarray, z: np.ndarray, usable: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Per point: its link value minus the line through the ``window`` next-smaller usable points, at its
    scale ``u`` (log10 of the axis); NaN for points that are not usable or have fewer than two before them.

    ``u`` must be ascending; ``usable`` marks points that can be placed on the link scale.
    """
    u, z = np.asarray(u, dtype=np.float64), np.asarray(z, dtype=np.float64)
    out = np.full(z.shape, np.nan)
    places = np.flatnonzero(usable)
    for k in range(z.size):
        if not usable[k]:
            continue
        prior = places[: np.searchsorted(places, k)][-window:]
        if prior.size < MIN_PRIOR:
            continue
        before = u[prior]
        if before.max() == before.min():  # np.ptp(before) == 0, without its wrapper
            continue
        with np.errstate(all="ignore"):  # values near the float limits make inf - inf: NaN, not a warning
            slope, intercept = line_fit(before, z[prior])
            out[k] = z[k] - (intercept + slope * u[k])
    return out


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``np.polyfit(x, y, 1)`` (slope, intercept) for 1-d float64 ``x`` and ``y``: the same scaled
    least-squares problem and ``lstsq`` call, without polyfit's argument checks and ``vander`` (a third of
    the emergence stage's time on a tree of checkpoints); ``tests/unit/test_jumps.py`` holds it equal."""
    x = x + 0.0
    lhs = np.empty((x.size, 2))
    lhs[:, 0] = x
    lhs[:, 1] = 1.0
    scale = np.sqrt((lhs * lhs).sum(axis=0))
    lhs /= scale
    c, _, rank, _ = np.linalg.lstsq(lhs, y + 0.0, x.size * np.finfo(np.float64).eps)
    if rank != 2:
        warnings.warn("Polyfit may be poorly conditioned", np.exceptions.RankWarning, stacklevel=2)
    c = c / scale
    return c[0], c[1]


def miss_weights(u: np.ndarray, usable: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """(M, M) matrix C with ``z @ C`` = ``misses(u, z, usable)`` for any z (NaN columns where undefined).

    Every column at once: the usable points with at least two before them, each with its window of
    next-smaller usable points as a row of a (P, width) table (padded in front where fewer precede it);
    ``_miss_weights_plain`` builds it a column at a time (``tests/unit/test_jumps.py`` holds them equal)."""
    if window < 1:  # the plain slice [-window:] takes every prior point at 0
        return _miss_weights_plain(u, usable, window)
    u = np.asarray(u, dtype=np.float64)
    weights = np.full((u.size, u.size), np.nan)
    places = np.flatnonzero(usable)
    width = min(window, places.size - 1)
    if width < MIN_PRIOR:
        return weights
    spot = np.arange(MIN_PRIOR, places.size)  # places with at least two usable points before them
    offsets = spot[:, None] - width + np.arange(width)[None, :]
    valid = offsets >= 0
    prior = places[np.maximum(offsets, 0)]
    before = np.where(valid, u[prior], 0.0)
    count = valid.sum(axis=1)
    with np.errstate(all="ignore"):
        mean = before.sum(axis=1) / count  # the padding adds zeros in front: the plain sum's order
        spread = np.where(valid, before - mean[:, None], 0.0)
        s = (spread * spread).sum(axis=1)
        flat = np.where(valid, before, np.inf).min(axis=1) == np.where(valid, before, -np.inf).max(axis=1)
        ok = ~flat
        k = places[spot[ok]]
        # the line's prediction at u_k is sum_i (1/m + (u_i - mean)(u_k - mean) / s) z_i
        coefficients = -(1.0 / count[ok, None] + spread[ok] * (u[k] - mean[ok])[:, None] / s[ok, None])
    weights[:, k] = 0.0
    inside = valid[ok]
    weights[prior[ok][inside], np.broadcast_to(k[:, None], inside.shape)[inside]] = coefficients[inside]
    weights[k, k] = 1.0
    return weights


def _miss_weights_plain(u: np.ndarray, usable: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """``miss_weights``, one column at a time."""
    u = np.asarray(u, dtype=np.float64)
    weights = np.full((u.size, u.size), np.nan)
    for k in range(u.size):
        prior = np.flatnonzero(usable[:k])[-window:]
        if not usable[k] or prior.size < MIN_PRIOR or u[prior].max() == u[prior].min():  # as ``misses``
            continue
        spread = u[prior] - u[prior].mean()
        s = float(spread @ spread)
        column = np.zeros(u.size)
        # the line's prediction at u_k is sum_i (1/m + (u_i - mean)(u_k - mean) / s) z_i
        column[prior] = -(1.0 / prior.size + spread * (u[k] - u[prior].mean()) / s)
        column[k] = 1.0
        weights[:, k] = column
    return weights


def misses_fast(
    u: np.ndarray, z: np.ndarray, usable: np.ndarray, window: int = WINDOW, weights: np.ndarray | None = None
) -> np.ndarray:
    """``misses`` as one product with ``miss_weights``: the same numbers to within ~1e-15 of the curve's
    scale, from the closed-form line instead of a ``lstsq`` per point (``tests/unit/test_jumps.py`` holds
    them equal). Values beyond ``1e150`` (or infinite scales) take the loop: a product of such values
    overflows where the loop's scaled fit does not. ``weights``: ``miss_weights(u, usable, window)`` when the
    caller has them."""
    u, z = np.asarray(u, dtype=np.float64), np.asarray(z, dtype=np.float64)
    usable = np.asarray(usable, dtype=bool)
    if window < 1 or not (np.isfinite(u[usable]).all() and (np.abs(z[usable]) <= HUGE).all()):
        return misses(u, z, usable, window)
    return misses_matrix(u, z[None, :], usable, window, weights)[0]


def misses_matrix(
    u: np.ndarray, z: np.ndarray, usable: np.ndarray, window: int = WINDOW, weights: np.ndarray | None = None
) -> np.ndarray:
    """``misses`` of every row of z (B, M) at once, with the usable points of the observed curve (``weights``:
    ``miss_weights(u, usable, window)`` when the caller has them)."""
    if weights is None:
        weights = miss_weights(u, usable, window)
    defined = ~np.isnan(weights).any(axis=0)
    out = np.full((z.shape[0], u.size), np.nan)
    if defined.any():
        rows = np.where(usable[None, :], z, 0.0)  # unusable points never enter a defined column
        with np.errstate(all="ignore"):
            out[:, defined] = rows @ weights[:, defined]
    return out


def largest_miss(missed: np.ndarray) -> tuple[float, int | None]:
    """The jump statistic and the index of the point that made it (None when no miss is defined)."""
    if np.isnan(missed).all():
        return float("nan"), None
    at = int(np.nanargmax(missed))
    return float(missed[at]), at


def jump_test(missed: np.ndarray, null: np.ndarray, effect: float) -> tuple[float, int | None]:
    """p of "no model beats its prediction by more than ``effect``", and the model that makes the case.

    ``missed`` (M,) are the curve's misses, ``null`` (B, M) the misses of smooth curves with this curve's
    noise (the straight-line fit plus its bootstrap deviations). Each miss is studentised by its own null
    spread, so a factor-3 miss at a precisely measured model counts for more than a factor-20 miss at one
    whose link value is barely pinned down (near the floor or the ceiling): ``t_k = (miss_k - effect -
    mean_k) / sd_k``, the statistic is the largest ``t_k`` and its null the largest studentised null miss
    (a max-t test over the models, so testing every model costs no extra false alarms). With at least
    ``TAIL_EXCEEDANCES`` null values beyond it, p = (1 + #beyond) / (1 + B); further out, p is the tail of
    a Gumbel distribution fitted to the null maxima by their mean and standard deviation (the largest of
    several values; its tail is heavier than the normal's, so this errs on the side of larger p).
    """
    missed, null = np.asarray(missed, dtype=np.float64), np.asarray(null, dtype=np.float64)
    counted = np.isfinite(null).sum(axis=0)
    defined = np.isfinite(missed) & (counted >= 2)
    if not defined.any():
        return float("nan"), None
    with np.errstate(all="ignore"):
        centre = np.nanmean(null[:, defined], axis=0)
        sd = np.nanstd(null[:, defined], axis=0, ddof=1)
        excess = missed[defined] - effect - centre
        observed_t = np.where(sd > 0, excess / sd, np.where(excess > 0, np.inf, -np.inf))
        null_t = np.where(sd > 0, (null[:, defined] - centre) / sd, 0.0)
    null_max = np.nanmax(np.where(np.isfinite(null_t), null_t, -np.inf), axis=1)
    null_max = null_max[np.isfinite(null_max)]
    at = int(np.flatnonzero(defined)[int(np.argmax(observed_t))])
    statistic = float(observed_t.max())
    if null_max.size < 2:
        return float("nan"), at
    beyond = int(np.count_nonzero(null_max >= statistic))
    if beyond >= TAIL_EXCEEDANCES or not np.isfinite(statistic):
        return (1 + beyond) / (1 + null_max.size), at
    sd_max = float(null_max.std(ddof=1))
    if sd_max == 0:
        return (1.0 if statistic <= null_max[0] else 0.0), at
    scale = sd_max * np.sqrt(6.0) / np.pi
    location = float(null_max.mean()) - EULER_GAMMA * scale
    return max(float(-np.expm1(-np.exp(-(statistic - location) / scale))), P_FLOOR), at
