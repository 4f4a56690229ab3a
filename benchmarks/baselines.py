"""Naive reference implementations the benchmark compares against, written the obvious way on purpose.

Each is what a careful researcher might write first: correct, readable, and slow. They are timed on a subset
of the job's input and scaled linearly to its full size (each baseline's cost is linear in the number of
groups, pairs or fits it is given).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

HUBER_DELTA = 1e-3


def naive_bootstrap_ci(
    values: np.ndarray, replicates: int, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile CI of one group's mean: ``replicates`` resamples with ``rng.choice``, one at a time."""
    means = np.empty(replicates)
    for b in range(replicates):
        means[b] = rng.choice(values, size=values.size, replace=True).mean()
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two token sequences by the textbook two-row dynamic programme."""
    previous = list(range(len(b) + 1))
    for i, token_a in enumerate(a, start=1):
        current = [i]
        for j, token_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (token_a != token_b)))
        previous = current
    return previous[-1]


def saturating_grid(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred log data and the start grid (log E, log A, alpha) of the robust saturating fit (420 starts)."""
    lx, ly = np.log(x), np.log(y)
    u, t = lx - lx.mean(), ly - ly.mean()
    e_start = np.log(np.array([1e-3, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95]) * y.min()) - ly.mean()
    a_start = np.log([0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    alpha_start = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])
    mesh = np.meshgrid(e_start, a_start, alpha_start, indexing="ij")
    return u, t, np.stack([m.ravel() for m in mesh], axis=1)


def _huber(r: np.ndarray) -> np.ndarray:
    small = np.abs(r) <= HUBER_DELTA
    return np.where(small, 0.5 * r**2, HUBER_DELTA * (np.abs(r) - 0.5 * HUBER_DELTA))


def naive_saturating_fit(u: np.ndarray, t: np.ndarray, grid: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Huber fit of ``t = logsumexp(e, a - alpha u)`` by L-BFGS-B from every grid start; the best theta."""

    def objective(theta: np.ndarray) -> float:
        e, a, alpha = theta
        prediction = logsumexp(np.stack([np.full_like(u, e), a - alpha * u]), axis=0)
        return float((weights * _huber(t - prediction)).sum())

    bounds = [(-60.0, 60.0), (-60.0, 60.0), (0.0, 10.0)]
    best, best_value = grid[0], np.inf
    for start in grid:
        result = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
        if result.fun < best_value:
            best, best_value = result.x, result.fun
    return best
