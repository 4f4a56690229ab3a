"""The fit bootstrap: seeded replicates of the fitted curve, each refitted from the same start grid.

Two sources of replicates, and each fit says which (``FitResult.ci_from``):

* ``ITEM_REPLICATES``: the points' own replicates (``PointSet.replicates``: the paired bootstrap over items,
  Jeffreys-posterior or normal draws for aggregate rows), when every fitted point has them. Replicate b is the
  curve of every model's b-th replicate value, refitted with unit weights: the CI says how far the law could
  move if the test items had been drawn again (measurement noise), paired across models as the points are.
* ``POINT_RESAMPLES``: otherwise the M fitted points are resampled with replacement (seeded): a replicate is a
  vector of multiplicities on the original points, so the grid is scored for all replicates in one matrix
  product and replicates that drew the same multiset (4 points have only 35) are fitted once.

Every replicate is refitted from the SAME start grid, never warm-started from the point estimate, by the
procedure of the point estimate: the ``REPLICATE_TOP`` best starts refined in one batch with the point
estimate's iteration limit and stopping rules (a log-space fit stops once every residual is within 1e-6), the
few the batch does not converge refined further (``procedure._continue_stragglers``: more batch steps for
every fit's stragglers together, until only a handful are still moving) and those still moving polished by
scipy as the point estimate is, and, for a law with an additive constant (E), one more row with E pinned at 0.
A replicate takes E = 0 exactly when the fit without E is as good (or both are perfect): an exact power law
then gives E = 0 in the point estimate and in every replicate alike, where the optimiser's stopping point
would otherwise decide the CI (it excluded its own estimate: E = 7.1e-8 with CI [3.8e-7, 1.4e-6]). Replicates
that fail (no finite optimum, no convergence, or fewer distinct scales drawn than the law has free parameters)
are dropped and counted in ``FitResult.n_bootstrap_failed``. CIs are linear-interpolated percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.fits.optimizer import _PERFECT_RESIDUAL, _grid_losses, _polish, _Rows
from analysis.fits.problems import _Problem, _rho
from analysis.resampling.seeds import draw_counts, stream

REPLICATE_TOP = 3  # grid starts refined (batched) per bootstrap replicate
ITEM_REPLICATES = "item replicates"
POINT_RESAMPLES = "resampled points"
CI_SOURCES = {
    ITEM_REPLICATES: "refits of the points' own bootstrap replicates (item-level, paired; used when every "
    "fitted point has them)",
    POINT_RESAMPLES: "refits of resamples of the fitted points (otherwise)",
}


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
    """Bootstrap replicates ready to refine: the ``top`` best grid starts of each distinct replicate (and its
    best start with E pinned at 0, when the law has E)."""

    starts: np.ndarray  # (R * top, p)
    weights: np.ndarray  # (R * top, n) multiplicities
    targets: np.ndarray | None  # (R * top, n) each replicate's own target (item replicates), else None
    copy_of: np.ndarray  # (B,) which distinct replicate each of the B drawn replicates is
    usable: np.ndarray  # (R,) enough distinct scales drawn to identify the law, and a finite target
    top: int
    source: str  # ITEM_REPLICATES or POINT_RESAMPLES

    @property
    def n_distinct(self) -> int:
        return len(self.usable)

    def zero_rows(self, problem: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Starts, weights and targets of the E = 0 rows: each replicate's best start with E pinned."""
        first = np.arange(self.n_distinct) * self.top
        targets = None if self.targets is None else self.targets[first]
        return problem.at_zero(self.starts[first]), self.weights[first], targets


def _replicates(
    problem: _Problem,
    groups: np.ndarray,
    bootstrap: int,
    seed: int,
    y_replicates: np.ndarray | None = None,
) -> _Replicates:
    """Draw ``bootstrap`` seeded replicates (or take the first ``bootstrap`` rows of ``y_replicates``, the
    points' own replicate curves); pick each one's best starts from the SAME grid (no warm start).

    On a handful of points many resampled replicates draw the same multiset: each distinct one is fitted once
    and its result handed to all its copies, which is exact and often several times less work.
    """
    n = len(problem.target)
    if y_replicates is not None:
        curves = np.asarray(y_replicates, dtype=float)[:bootstrap]
        targets = problem.to_target(curves)
        usable = np.isfinite(targets).all(axis=1)
        targets = np.where(usable[:, None], targets, problem.target[None, :])  # failed rows fit harmlessly
        weights = np.ones((len(curves), n))
        losses = _grid_losses(problem, weights, targets)
        copy_of = np.arange(len(curves))
        source = ITEM_REPLICATES
    else:
        counts = _counts(seed, n, bootstrap)
        weights, copy_of = np.unique(counts, axis=0, return_inverse=True)
        usable = _distinct_drawn(groups, weights) >= problem.n_free  # fewer distinct scales: not identifiable
        targets = None
        losses = _grid_losses(problem, weights)  # (R, S)
        source = POINT_RESAMPLES
    top = min(REPLICATE_TOP, losses.shape[1])
    best_starts = _smallest_per_row(losses, top)  # (R, top)
    return _Replicates(
        starts=problem.grid[best_starts.ravel()],
        weights=np.repeat(weights, top, axis=0),
        targets=None if targets is None else np.repeat(targets, top, axis=0),
        copy_of=copy_of.ravel(),
        usable=usable,
        top=top,
        source=source,
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


def _prefer_zero(full: np.ndarray, zero: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rows where the fit with E pinned at 0 is as good as the free one (to 1e-9), or both are perfect (every
    residual within the optimiser's 1e-6): E = 0 is then the estimate, exactly."""
    perfect = weights.sum(axis=1) * _rho(np.array(_PERFECT_RESIDUAL), True)
    return np.isfinite(zero) & (zero <= np.maximum(full * (1.0 + 1e-9), perfect))


@dataclass(eq=False)
class _Winners:
    """Each distinct replicate's refined fit: its best start's row, or its E = 0 row when that is as good."""

    theta: np.ndarray  # (R, p)
    obj: np.ndarray  # (R,)
    ok: np.ndarray  # (R,) converged
    at_zero: np.ndarray  # (R,) the E = 0 row won

    def stragglers(self, reps: _Replicates) -> np.ndarray:
        """The usable replicates whose winning row the batch did not converge (and whose objective is
        finite): polished before their CIs are taken."""
        return np.flatnonzero(~self.ok & reps.usable & np.isfinite(self.obj))


def _replicate_winners(
    problem: _Problem, reps: _Replicates, theta: np.ndarray, obj: np.ndarray, converged: np.ndarray
) -> _Winners:
    """Each replicate keeps its best start, or E = 0 when that is as good. ``theta``/``obj``/``converged``
    hold the replicates' rows, then (for a law with E) one E = 0 row per distinct replicate."""
    n_distinct, top = reps.n_distinct, reps.top
    main = n_distinct * top
    obj_top = obj[:main].reshape(n_distinct, top)
    theta_top = theta[:main].reshape(n_distinct, top, -1)
    winner = np.argmin(obj_top, axis=1)
    rows = np.arange(n_distinct)
    best_theta, best_obj = theta_top[rows, winner].copy(), obj_top[rows, winner].copy()
    ok = converged[:main].reshape(n_distinct, top)[rows, winner].copy()
    at_zero = np.zeros(n_distinct, dtype=bool)
    if problem.zero_column is not None and len(obj) > main:
        zero_obj, zero_theta = obj[main:], theta[main:]
        at_zero = _prefer_zero(best_obj, zero_obj, reps.weights[::top])
        best_theta = np.where(at_zero[:, None], zero_theta, best_theta)
        best_obj = np.where(at_zero, zero_obj, best_obj)
        ok = np.where(at_zero, converged[main:], ok)
    return _Winners(best_theta, best_obj, ok, at_zero)


def _polish_replicate(
    problem: _Problem, reps: _Replicates, r: int, theta: np.ndarray, value: float, at_zero: bool
) -> tuple[np.ndarray, float, bool]:
    """A replicate the batch did not converge is polished by scipy, as the point estimate is (a few per
    fit: the batch converges almost all of them); kept when the polish converges."""
    lower, upper = problem.pinned_at_zero(1) if at_zero else (problem.lower[None, :], problem.upper[None, :])
    target = None if reps.targets is None else reps.targets[r * reps.top]
    polished, polished_value, polish_ok = _polish(
        problem, theta, lower[0], upper[0], reps.weights[r * reps.top], target
    )
    if polish_ok and np.isfinite(polished_value) and polished_value <= value:
        return polished, polished_value, True
    return theta, value, False


def _polish_stragglers(problem: _Problem, reps: _Replicates, winners: _Winners) -> None:
    """Polish every straggler by scipy, one call each (in place)."""
    for r in winners.stragglers(reps):
        winners.theta[r], winners.obj[r], winners.ok[r] = _polish_replicate(
            problem, reps, r, winners.theta[r], winners.obj[r], bool(winners.at_zero[r])
        )


def _straggler_rows(
    problem: _Problem, reps: _Replicates, winners: _Winners, limit: int
) -> tuple[np.ndarray, _Rows]:
    """The stragglers and their rows to refine further from where the batch left them (their own weights,
    target, bounds with E pinned where the E = 0 row won), with ``limit`` more steps."""
    which = winners.stragglers(reps)
    first = which * reps.top
    lower = np.tile(problem.lower, (len(which), 1))
    upper = np.tile(problem.upper, (len(which), 1))
    if problem.zero_column is not None:
        pinned = winners.at_zero[which]
        upper[pinned, problem.zero_column] = lower[pinned, problem.zero_column]
    rows = _Rows(
        problem,
        winners.theta[which],
        reps.weights[first],
        np.full(len(which), limit),
        np.full(len(which), problem.robust),
        lower=lower,
        upper=upper,
        targets=None if reps.targets is None else reps.targets[first],
    )
    return which, rows


def _take_continued(
    winners: _Winners, which: np.ndarray, theta: np.ndarray, obj: np.ndarray, converged: np.ndarray
) -> None:
    """Keep the further refinement of the stragglers ``which`` where it converged (in place): like a polish,
    it starts where the batch stopped and only lowers the objective."""
    take = converged & np.isfinite(obj) & (obj <= winners.obj[which])
    winners.theta[which[take]], winners.obj[which[take]] = theta[take], obj[take]
    winners.ok[which[take]] = True


def _winner_cis(
    problem: _Problem, reps: _Replicates, winners: _Winners, level: float
) -> tuple[dict[str, tuple[float, float]], int, int, np.ndarray]:
    """Percentile CIs of the replicates' winners; failed ones are counted. Also returns the natural
    parameters of the good replicates."""
    natural = problem.natural(winners.theta, winners.at_zero)
    good = reps.usable & winners.ok & np.isfinite(winners.obj) & np.isfinite(natural).all(axis=1)
    natural, good = natural[reps.copy_of], good[reps.copy_of]
    if good.sum() < 2:
        return {}, int(good.sum()), int((~good).sum()), natural[good]
    cis = _percentile_ci(natural[good], problem.law.params, level)
    return cis, int(good.sum()), int((~good).sum()), natural[good]


def _replicate_cis(
    problem: _Problem,
    reps: _Replicates,
    theta: np.ndarray,
    obj: np.ndarray,
    converged: np.ndarray,
    level: float,
) -> tuple[dict[str, tuple[float, float]], int, int, np.ndarray]:
    """Percentile CIs of the refined replicates (each keeps its best start, or E = 0 when that is as good,
    polished by scipy when the batch did not converge it); failed ones are counted. ``theta``/``obj``/
    ``converged`` hold the replicates' rows, then (for a law with E) one E = 0 row per distinct replicate.
    Also returns the natural parameters of the good replicates."""
    winners = _replicate_winners(problem, reps, theta, obj, converged)
    _polish_stragglers(problem, reps, winners)
    return _winner_cis(problem, reps, winners, level)
