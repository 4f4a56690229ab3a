"""Resolution: which points a test set of n items can tell apart from the floor, and how many items would.

A mean of 0/1 items resolves steps of 1/n; 0 of n correct is not "zero ability" (docs/science.md section 4). A
point is *resolved* when its interval excludes the floor: 0, or chance for multiple choice. The items needed
to resolve a true value v are the smallest n at which an n-item test set would resolve it (its exact
Clopper-Pearson interval at the CI level excluding the floor) with probability ``power``: for the floor 0 the
interval excludes 0 as soon as one item is right, so n = log(1 - power) / log(1 - v), about 3 / v at 95% (the
rule of three); above chance c the count must clear the exact binomial test of c.

Two models' difference (an adjacent step of a curve) is resolved when the step test rejects "no difference" at
1 - level. The power analysis uses the normal approximation of that test's statistic: with ``sd0`` and ``sd1``
the standard deviations of one item's contribution to the difference under "no difference" and at the
difference ``d``, a test set of ``n = ((z_{1 - alpha/2} sd0 + z_power sd1) / d)^2`` items resolves ``d`` with
probability ``power`` (``STEP_POWER``, the conventional 80%):

* paired 0/1 outcomes (McNemar's test on the same items; Connor 1987): with ``psi`` the share of items the two
  models disagree on, ``sd0 = sqrt(psi)`` and ``sd1 = sqrt(psi - d^2)``;
* two independent proportions p1 and p2 (aggregate rows, no per-item outcomes; Fleiss): ``sd0 =
  sqrt(2 pbar (1 - pbar))`` with ``pbar`` their mean and ``sd1 = sqrt(p1 (1 - p1) + p2 (1 - p2))``;
* any other paired mean: ``sd0 = sd1 = sd``, the standard deviation of the per-item difference (the paired
  bootstrap's standard error times sqrt(n)).

The minimum detectable difference at n items is the smallest d that n items resolve with that power.
"""

from __future__ import annotations

import functools
import math

import numpy as np

CHANCE = "chance"  # the points' chance column (``analysis.resampling.CHANCE``)
RESOLVE_POWER = 0.95  # the share of test sets that would resolve the point: 0.95 gives the rule of three
STEP_POWER = 0.8  # the power of a difference between two models: the conventional 80%
MAX_ITEMS = 10**12  # beyond this an answer is "more than a trillion items"
_BISECTIONS = 60  # halvings of the search interval of a detectable difference: far below any printed digit


def resolved(lo: np.ndarray, hi: np.ndarray, floor: float | None) -> np.ndarray:
    """Points whose interval excludes the floor (on either side: a multiple-choice score whose whole
    interval lies below chance is resolved, just not above chance); no floor: every point with an interval."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    known = np.isfinite(lo) & np.isfinite(hi)
    if floor is None:
        return known
    return known & ((lo > floor) | (hi < floor))


def _resolving_count(n: int, floor: float, level: float) -> int:
    """The smallest count k of n whose Clopper-Pearson interval at ``level`` excludes ``floor``."""
    if floor <= 0:
        return 1
    from scipy import stats  # on first use: the app's process imports this module for its rules only

    # the exact interval excludes c exactly when the one-sided binomial test of c rejects at (1 - level) / 2
    k = int(stats.binom.isf((1.0 - level) / 2.0, n, floor)) + 1
    while k <= n and stats.binom.sf(k - 1, n, floor) >= (1.0 - level) / 2.0:
        k += 1
    return k


def _power(n: int, value: float, floor: float, level: float) -> float:
    from scipy import stats

    k = _resolving_count(n, floor, level)
    return float(stats.binom.sf(k - 1, n, value)) if k <= n else 0.0


def items_to_resolve(
    value: float, floor: float = 0.0, level: float = 0.95, power: float = RESOLVE_POWER
) -> int | None:
    """Items an n-item test set needs so that a true rate ``value`` is resolved from ``floor`` with
    probability ``power``; None when ``value`` is not above the floor (no test set resolves it)."""
    if not (np.isfinite(value) and value > floor and value <= 1.0):
        return None
    if floor <= 0:
        if value >= 1.0:
            return 1
        items = math.log1p(-power) / math.log1p(-value)
        return MAX_ITEMS if not items < MAX_ITEMS else math.ceil(items)  # a denormal rate overflows to inf
    high = 1
    while _power(high, value, floor, level) < power:
        high *= 2
        if high > MAX_ITEMS:
            return MAX_ITEMS
    low = high // 2
    while high - low > 1:  # power rises with n up to the sawtooth of discrete counts: the first n that passes
        middle = (low + high) // 2
        if _power(middle, value, floor, level) >= power:
            high = middle
        else:
            low = middle
    return high


# ------------------------------------------------------------------------------ differences of two models


@functools.lru_cache(maxsize=64)
def _quantiles(level: float, power: float) -> tuple[float, float]:
    """z_{1 - alpha/2} of the two-sided test at ``level`` and z of the ``power`` (cached: the searches of
    detectable differences ask for them at every step)."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2.0)), float(stats.norm.ppf(power))


def _items(
    difference: np.ndarray, sd0: np.ndarray, sd1: np.ndarray, level: float, power: float
) -> np.ndarray:
    """``((z_a sd0 + z_b sd1) / d)^2`` rounded up, capped at ``MAX_ITEMS``; NaN where d is 0 or unknown."""
    z_a, z_b = _quantiles(level, power)
    d = np.abs(np.asarray(difference, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.ceil(((z_a * sd0 + z_b * sd1) / d) ** 2)
    return np.where(d > 0, np.minimum(n, MAX_ITEMS), np.nan)


def paired_items_needed(
    difference: object, discordant: object, level: float = 0.95, power: float = STEP_POWER
) -> np.ndarray:
    """Items at which McNemar's test resolves a paired difference ``d`` of two 0/1 outcomes when a share
    ``psi`` (``discordant``) of items get different outcomes: ``sd0 = sqrt(psi)``,
    ``sd1 = sqrt(psi - d^2)``."""
    d, psi = np.broadcast_arrays(np.asarray(difference, float), np.asarray(discordant, float))
    psi = np.maximum(psi, np.abs(d))  # a difference d needs at least a share |d| of discordant items
    return _items(d, np.sqrt(psi), np.sqrt(np.maximum(psi - d * d, 0.0)), level, power)


def independent_items_needed(
    p1: object, p2: object, level: float = 0.95, power: float = STEP_POWER
) -> np.ndarray:
    """Items per model at which the two-sample test of proportions resolves p1 from p2 (Fleiss, without
    continuity correction): ``sd0 = sqrt(2 pbar (1 - pbar))``, ``sd1 = sqrt(p1 (1 - p1) + p2 (1 - p2))``."""
    p1, p2 = np.broadcast_arrays(np.asarray(p1, float), np.asarray(p2, float))
    mean = (p1 + p2) / 2.0
    sd0 = np.sqrt(2.0 * mean * (1.0 - mean))
    sd1 = np.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2))
    return _items(p2 - p1, sd0, sd1, level, power)


def normal_items_needed(
    difference: object, sd: object, level: float = 0.95, power: float = STEP_POWER
) -> np.ndarray:
    """Items at which a paired mean difference ``d`` is resolved when one item's difference has standard
    deviation ``sd``: ``((z_a + z_b) sd / d)^2``."""
    d, sd = np.broadcast_arrays(np.asarray(difference, float), np.asarray(sd, float))
    return _items(d, sd, sd, level, power)


def normal_detectable(sd: object, n: object, level: float = 0.95, power: float = STEP_POWER) -> np.ndarray:
    """The minimum detectable paired mean difference at n items: ``(z_a + z_b) sd / sqrt(n)``."""
    z_a, z_b = _quantiles(level, power)
    sd, n = np.broadcast_arrays(np.asarray(sd, float), np.asarray(n, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, (z_a + z_b) * sd / np.sqrt(n), np.nan)


def _smallest_resolved(items: object, n: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The smallest d in (0, top] with ``items(d) <= n`` by bisection over every entry at once (items needed
    fall as d grows); NaN where even ``top`` needs more than n items."""
    low, high = np.zeros_like(top), top.copy()
    reachable = items(high) <= n  # type: ignore[operator]
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2.0
        enough = items(middle) <= n  # type: ignore[operator]
        high, low = np.where(enough, middle, high), np.where(enough, low, middle)
    return np.where(reachable & (n > 0), high, np.nan)


def paired_detectable(
    discordant: object, n: object, level: float = 0.95, power: float = STEP_POWER
) -> np.ndarray:
    """The minimum difference McNemar's test detects at n paired items with power ``power``, at the observed
    share of discordant items (raised to the difference itself where that is larger: no discordant item
    observed still allows a difference made of one-way disagreements)."""
    psi, n = np.broadcast_arrays(np.asarray(discordant, float), np.asarray(n, float))
    return _smallest_resolved(lambda d: paired_items_needed(d, psi, level, power), n, np.ones_like(psi))


def independent_detectable(
    p1: object, n: object, level: float = 0.95, power: float = STEP_POWER, up: object = True
) -> np.ndarray:
    """The minimum difference from p1 (upwards, or downwards where ``up`` is False) that the two-sample test
    of proportions detects with n items per model; NaN when no reachable proportion is far enough."""
    p1, n, up = np.broadcast_arrays(np.asarray(p1, float), np.asarray(n, float), np.asarray(up, bool))
    sign = np.where(up, 1.0, -1.0)
    room = np.where(up, 1.0 - p1, p1)
    return _smallest_resolved(
        lambda d: independent_items_needed(p1, p1 + sign * d, level, power), n, room.astype(float)
    )


# ------------------------------------------------------------------------------------------ per point
