"""The fit bootstrap: seeded replicates of the fitted points, each refitted from the same start grid.

Bootstrap CIs resample the fitted points with replacement (seeded) and refit every replicate from the SAME
start grid, never warm-started from the point estimate. A replicate is a vector of multiplicities on the
original points, so the grid is scored for all replicates in one matrix product and the ``REPLICATE_TOP``
best starts of every replicate are refined in one batch (no scipy polish). Replicates that fail (no finite
optimum, or fewer distinct scales drawn than the law has free parameters) are dropped and counted in
``FitResult.n_bootstrap_failed``. CIs are linear-interpolated percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.fits.optimizer import _grid_losses
from analysis.fits.problems import _Problem
from analysis.resampling.seeds import draw_counts, stream

REPLICATE_TOP = 3  # grid starts refined (batched) per bootstrap replicate
_REPLICATE_MAX_ITER = 100  # per replicate: leaves ~1e-4 in exponents, far inside any CI (measured)


def _counts(seed: int, n: int, replicates: int) -> np.ndarray:
    """How many times each point is drawn in each bootstrap replicate: (B, n) counts summing to n.

    The analysis' one count draw and seeding rule (``analysis.resampling.seeds``): the stream is keyed by the
    seed, ``"fit bootstrap"`` and n, so every fit of n points resamples them with the same counts (as the
    paired tasks of n items share theirs); nothing compares replicates across fits.
    """
    return draw_counts(stream(seed, "fit bootstrap", str(n)), n, replicates)


def _distinct_drawn(groups: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Number of distinct x values (group ids) present in each replicate."""
    onehot = np.zeros((len(groups), groups.max() + 1))
    onehot[np.arange(len(groups)), groups] = 1.0
    return ((counts @ onehot) > 0).sum(axis=1)


def _percentile_ci(
    samples: np.ndarray, names: tuple[str, ...], level: float
) -> dict[str, tuple[float, float]]:
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(samples, [tail, 100.0 - tail], axis=0)
    return {name: (float(lo[i]), float(hi[i])) for i, name in enumerate(names)}


@dataclass(frozen=True, eq=False)
class _Replicates:
    """Bootstrap replicates ready to refine: the ``top`` best grid starts of each distinct replicate."""

    starts: np.ndarray  # (R * top, p)
    weights: np.ndarray  # (R * top, n) multiplicities
    copy_of: np.ndarray  # (B,) which distinct replicate each of the B drawn replicates is
    usable: np.ndarray  # (R,) enough distinct scales drawn to identify the law
    top: int


def _replicates(problem: _Problem, groups: np.ndarray, bootstrap: int, seed: int) -> _Replicates:
    """Draw ``bootstrap`` seeded replicates; pick each one's best starts from the SAME grid (no warm start).

    On a handful of points many replicates draw the same multiset (4 points have only 35): each distinct one
    is fitted once and its result handed to all its copies, which is exact and often several times less work.
    """
    counts = _counts(seed, len(problem.target), bootstrap)
    distinct, copy_of = np.unique(counts, axis=0, return_inverse=True)
    usable = _distinct_drawn(groups, distinct) >= problem.n_free  # fewer distinct scales: not identifiable
    losses = _grid_losses(problem, distinct)  # (R, S)
    top = min(REPLICATE_TOP, losses.shape[1])
    best_starts = _smallest_per_row(losses, top)  # (R, top)
    return _Replicates(
        starts=problem.grid[best_starts.ravel()],
        weights=np.repeat(distinct, top, axis=0),
        copy_of=copy_of.ravel(),
        usable=usable,
        top=top,
    )


def _smallest_per_row(values: np.ndarray, top: int) -> np.ndarray:
    """Column indices of the ``top`` smallest values of each row, smallest first (ties: lowest index).

    ``top`` argmin passes: for a handful of the ~420 grid starts this is ~8x faster than ``np.argpartition``.
    """
    remaining = values.copy()
    rows = np.arange(len(values))
    picked = np.empty((len(values), top), dtype=np.intp)
    for j in range(top):
        picked[:, j] = remaining.argmin(axis=1)
        remaining[rows, picked[:, j]] = np.inf
    return picked


def _replicate_cis(
    problem: _Problem, reps: _Replicates, theta: np.ndarray, obj: np.ndarray, level: float
) -> tuple[dict[str, tuple[float, float]], int, int]:
    """Percentile CIs of the refined replicates (each keeps its best start); failed ones are counted."""
    n_distinct = len(reps.usable)
    obj = obj.reshape(n_distinct, reps.top)
    theta = theta.reshape(n_distinct, reps.top, -1)
    winner = np.argmin(obj, axis=1)
    natural = problem.to_natural(theta[np.arange(n_distinct), winner])
    good = reps.usable & np.isfinite(obj.min(axis=1)) & np.isfinite(natural).all(axis=1)
    natural, good = natural[reps.copy_of], good[reps.copy_of]
    if good.sum() < 2:
        return {}, int(good.sum()), int((~good).sum())
    return _percentile_ci(natural[good], problem.law.params, level), int(good.sum()), int((~good).sum())
