"""Resolution: which points a test set of n items can tell apart from the floor, and how many items would.

A mean of 0/1 items resolves steps of 1/n; 0 of n correct is not "zero ability" (SCIENCE.md section 4). A
point is *resolved* when its interval excludes the floor: 0, or chance for multiple choice. The items needed
to resolve a true value v are the smallest n at which an n-item test set would resolve it (its exact
Clopper-Pearson interval at the CI level excluding the floor) with probability ``power``: for the floor 0 the
interval excludes 0 as soon as one item is right, so n = log(1 - power) / log(1 - v), about 3 / v at 95% (the
rule of three); above chance c the count must clear the exact binomial test of c.
"""

from __future__ import annotations

import math

import numpy as np

RESOLVE_POWER = 0.95  # the share of test sets that would resolve the point: 0.95 gives the rule of three
MAX_ITEMS = 10**12  # beyond this an answer is "more than a trillion items"


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
