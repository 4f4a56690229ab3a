"""Binomial confidence intervals (Wilson score and Clopper-Pearson exact), vectorised over arrays of (k, n).

A 0/1 metric measured on n items resolves only steps of 1/n; 0 of n is not "zero ability" (docs/science.md
section 4), so binary points carry one of these intervals. Both are two-sided at ``level``. For k = 0 the
upper bound is ``1 - ((1 - level) / 2) ** (1 / n)`` (exact, about 3.7/n at 95%) or ``z**2 / (n + z**2)``
(Wilson, about 3.8/n): the two-sided cousins of the one-sided rule of three (3/n). n = 0 gives NaN bounds.

scipy is imported on first use, not with the module: the interface process imports ``analysis.fits``, which
draws its bootstrap counts through ``analysis.resampling``, and must not load scipy (seconds of import).
"""

from __future__ import annotations

import numpy as np


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be between 0 and 1 (exclusive), got {level}")


def _z(level: float) -> float:
    """The two-sided normal quantile of ``level`` (1.96 at 0.95)."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2.0))


def _as_arrays(k: object, n: object) -> tuple[np.ndarray, np.ndarray]:
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    return k_arr, n_arr


def _at_the_edges(
    lo: np.ndarray, hi: np.ndarray, k: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The bounds with lo = 0 exactly at k = 0, hi = 1 exactly at k = n, and NaN where n = 0."""
    empty = ~(n > 0)
    lo = np.where(empty, np.nan, np.where(k <= 0, 0.0, lo))
    hi = np.where(empty, np.nan, np.where(k >= n, 1.0, hi))
    return lo, hi


def wilson_interval(k: object, n: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (no continuity correction) for k successes out of n; arrays broadcast.

    ``k`` may be non-integer (an aggregate rate times n); values are clipped to [0, 1].
    """
    _check_level(level)
    k_arr, n_arr = _as_arrays(k, n)
    z = _z(level)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p_hat = k_arr / n_arr
        denominator = n_arr + z2
        centre = (k_arr + z2 / 2.0) / denominator
        half = z / denominator * np.sqrt(np.maximum(k_arr * (1.0 - p_hat) + z2 / 4.0, 0.0))
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    return _at_the_edges(lo, hi, k_arr, n_arr)


def exact_interval(k: object, n: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson ("exact") interval from beta quantiles; lo = 0 at k = 0 and hi = 1 at k = n."""
    from scipy import stats

    _check_level(level)
    k_arr, n_arr = _as_arrays(k, n)
    tail = (1.0 - level) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = stats.beta.ppf(tail, k_arr, n_arr - k_arr + 1.0)
        hi = stats.beta.ppf(1.0 - tail, k_arr + 1.0, n_arr - k_arr)
    return _at_the_edges(lo, hi, k_arr, n_arr)


def normal_interval(value: object, stderr: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """value +- z * stderr, the interval an aggregate row with only a standard error supports."""
    _check_level(level)
    value_arr, stderr_arr = np.broadcast_arrays(
        np.asarray(value, dtype=np.float64), np.asarray(stderr, dtype=np.float64)
    )
    z = _z(level)
    return value_arr - z * stderr_arr, value_arr + z * stderr_arr
