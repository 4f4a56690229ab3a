"""``fit_law``: the procedure of each law, from checks and start grid to a polished fit with bootstrap CIs.

Procedures (SCIENCE.md section 6):

* ``power``: least squares of log y on log x (closed form, also for every bootstrap replicate at once).
* ``saturating`` and ``joint``: the robust fit of Hoffmann et al. (2022, Approach 3) as replicated by
  Besiroglu et al. (2024): positive constants parameterised by their logs, log y predicted as a log-sum-exp
  of the terms, Huber loss (delta = 1e-3) on log residuals, L-BFGS-B. Log x and log y are centred on their
  means internally (the constants are converted back), which decorrelates a constant from its exponent and
  makes the start grid data-adaptive.
* ``logistic``: bounded least squares in linear space (scipy ``least_squares``, trf); the floor is fixed
  when given.

The procedure reads top-down: ``_prepare`` (usable points, refusals, the power law's closed form, the law's
problem, the best starts and the replicates' rows), the refinement of every prepared fit's rows together
(``optimizer._refine_jobs``), then ``_finish`` (polish, residuals, notes, CIs).

Many fits at once (``fit_points``, ``fit_table``): every fit is set up first (checks, start grid, replicates),
then the rows of all fits of one law are refined together: each row carries its own target, data, bounds and
fixed floor, points are padded to a common count with weight 0, each row's drawn points are moved to its front
and rows are refined in chunks cut to their width; each fit is then finished (polish, CIs) on its own. Results
equal fitting each triplet alone (to rounding), at one loop per chunk instead of one per fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from analysis.fits.bootstrap import (
    _REPLICATE_MAX_ITER,
    _counts,
    _distinct_drawn,
    _percentile_ci,
    _replicate_cis,
    _Replicates,
    _replicates,
)
from analysis.fits.laws import Law, get_law
from analysis.fits.optimizer import _BATCH_MAX_ITER, _grid_losses, _polish, _refine_jobs, _Rows
from analysis.fits.problems import _Problem, _problem_for
from analysis.fits.results import FitResult, _failed

REFINE_TOP = 5  # grid starts refined with L-BFGS-B for a point estimate


def _r2(residuals: np.ndarray, target: np.ndarray) -> float | None:
    total = float(((target - target.mean()) ** 2).sum())
    if total <= 0.0:
        return None
    return 1.0 - float((residuals**2).sum()) / total


_SHAPE_PARAMETERS = (
    "alpha",
    "beta",
    "k",
    "x0",
)  # at a search bound, these say the law cannot follow the data


def _bound_notes(problem: _Problem, theta: np.ndarray) -> list[str]:
    """Shape parameters stuck at a search bound (alpha = 0: no decay; |k| = 30: a step)."""
    stuck = [
        f"{name}={'lower' if np.isclose(v, lo) else 'upper'} bound"
        for name, v, lo, hi in zip(problem.free, theta, problem.lower, problem.upper, strict=True)
        if name in _SHAPE_PARAMETERS and (np.isclose(v, lo) or np.isclose(v, hi))
    ]
    return [f"at the edge of the search: {', '.join(stuck)}"] if stuck else []


def _fit_power(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, bootstrap: int, level: float, seed: int
) -> tuple[dict[str, float], dict[str, tuple[float, float]], np.ndarray, int, int]:
    """Closed-form log-log least squares; bootstrap replicates as weighted least squares, all at once."""
    u, t = np.log(x), np.log(y)

    def weighted_line(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sw = w.sum(axis=1)
        mu_u, mu_t = (w @ u) / sw, (w @ t) / sw
        du, dt = u[None, :] - mu_u[:, None], t[None, :] - mu_t[:, None]
        sxx = (w * du * du).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (w * du * dt).sum(axis=1) / sxx
        return np.exp(mu_t - slope * mu_u), slope

    a, b = weighted_line(np.ones((1, len(u))))
    params = {"a": float(a[0]), "b": float(b[0])}
    residuals = t - (np.log(a[0]) + b[0] * u)
    if bootstrap <= 0:
        return params, {}, residuals, 0, 0
    counts = _counts(seed, len(u), bootstrap)
    ra, rb = weighted_line(counts)
    good = (_distinct_drawn(groups, counts) >= 2) & np.isfinite(ra) & np.isfinite(rb)
    if good.sum() < 2:
        return params, {}, residuals, int(good.sum()), int((~good).sum())
    ci = _percentile_ci(np.stack([ra[good], rb[good]], axis=1), ("a", "b"), level)
    return params, ci, residuals, int(good.sum()), int((~good).sum())


@np.errstate(all="ignore")  # absurd but finite data (1e308) overflows inside the search; the result says so
def fit_law(
    x: np.ndarray,
    y: np.ndarray,
    law: str,
    *,
    x2: np.ndarray | None = None,
    floor: float | None = None,
    bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    x_name: str = "x",
    x2_name: str | None = None,
) -> FitResult:
    """Fit ``law`` to the points (x, y) (and x2 = tokens for the joint law) with the procedure of its kind.

    ``floor`` fixes the logistic floor (e.g. at chance); None leaves it free. Points with a missing value are
    dropped (and counted in the message). Too few points, x <= 0, y <= 0 for a log-space law, or no converged
    start give ``ok=False`` with a message, never an exception. ``bootstrap`` > 0 adds percentile CIs at level
    ``ci`` from that many seeded replicates.
    """
    request = _FitRequest(x, y, law, x2, floor, bootstrap, ci, seed, x_name, x2_name)
    return _fit_many([request])[0]


@dataclass(frozen=True, eq=False)
class _FitRequest:
    """The arguments of one ``fit_law`` call, so that many fits can be set up and refined together."""

    x: np.ndarray
    y: np.ndarray
    law: str
    x2: np.ndarray | None = None
    floor: float | None = None
    bootstrap: int = 0
    ci: float = 0.95
    seed: int = 0
    x_name: str = "x"
    x2_name: str | None = None


@dataclass(frozen=True, eq=False)
class _Pending:
    """A fit set up to its refinement: the rows it adds to the batch and what finishing it needs."""

    points: _Points
    rows: _Rows  # the point estimate's best grid starts first, then the replicates'
    n_top: int  # how many rows are the point estimate's starts
    reps: _Replicates | None
    bootstrap: int
    level: float


@np.errstate(all="ignore")
@threadpool_limits.wrap(limits=1, user_api="blas")
def _fit_many(requests: list[_FitRequest]) -> list[FitResult]:
    """``fit_law`` for many requests: every fit needing a search is refined in shared batches (one loop per
    kernel instead of one per fit), then each is finished on its own; results equal separate calls.

    BLAS runs on one thread here: the grid products are small ((200, 20) x (20, 420) per fit), and two BLAS
    threads on two busy cores made each one 2-100x slower (0.11 ms alone, 0.3-12 ms under load, measured).
    """
    prepared = [_prepare(request) for request in requests]
    waiting = [i for i, item in enumerate(prepared) if isinstance(item, _Pending)]
    refined = _refine_jobs([prepared[i].rows for i in waiting])
    for i, (thetas, values, converged) in zip(waiting, refined, strict=True):
        prepared[i] = _finish(prepared[i], thetas, values, converged)
    return prepared


def _prepare(request: _FitRequest) -> FitResult | _Pending:
    """Everything of a fit before its refinement: the usable points, refusals, the power law's closed form,
    the law's problem, the point estimate's best starts and the bootstrap replicates' rows."""
    points = _usable_points(request)
    if isinstance(points, FitResult):
        return points
    refusal = _refusal(points, request.floor)
    if refusal is not None:
        return points.refuse(refusal)
    if points.law.name == "power":
        return _power_fit(points, request)
    problem = _problem_for(points.law.name, points.x, points.x2, points.y, request.floor)
    best = _best_starts(problem)
    if best.size == 0:
        return points.refuse("no start of the grid gives a finite prediction")
    reps = None
    if request.bootstrap > 0:
        reps = _replicates(problem, points.groups, request.bootstrap, request.seed)
    return _Pending(points, _search_rows(problem, best, reps), best.size, reps, request.bootstrap, request.ci)


@dataclass(frozen=True, eq=False)
class _Points:
    """A fit's points without missing values, and what each of its results says about them."""

    law: Law
    x: np.ndarray
    y: np.ndarray
    x2: np.ndarray | None  # the joint law's tokens
    x_name: str
    x2_name: str | None
    notes: tuple[str, ...]  # what was dropped

    @property
    def n(self) -> int:
        return len(self.x)

    @cached_property
    def groups(self) -> np.ndarray:
        """Each point's scale as a group id: points at the same x (and x2) share one."""
        scales = np.stack([self.x, self.x2], axis=1) if self.x2 is not None else self.x[:, None]
        return np.unique(scales, axis=0, return_inverse=True)[1].ravel()

    def refuse(self, message: str) -> FitResult:
        """No fit, and why (with the notes)."""
        return _failed(self.law, self.x_name, self.n, "; ".join([message, *self.notes]), self.x2_name)

    def result(self, **fields: Any) -> FitResult:
        """A fit on these points with ``fields`` (parameters, CIs, R^2, ...)."""
        x2 = self.x2
        return FitResult(
            law=self.law.name,
            x=self.x_name,
            x2=self.x2_name,
            r2_space=self.law.fitted_space,
            n_points=self.n,
            x_range=(float(self.x.min()), float(self.x.max())),
            x2_range=None if x2 is None else (float(x2.min()), float(x2.max())),
            **fields,
        )


def _usable_points(request: _FitRequest) -> _Points | FitResult:
    """The request's points with a missing value dropped (and counted); refused if the joint law has no x2."""
    law = get_law(request.law)
    x = np.asarray(request.x, dtype=float).ravel()
    y = np.asarray(request.y, dtype=float).ravel()
    x2, x2_name = None, None
    if law.needs_x2:
        if request.x2 is None:
            message = "the joint law needs tokens (x2) besides params"
            return _failed(law, request.x_name, len(x), message, request.x2_name)
        x2 = np.asarray(request.x2, dtype=float).ravel()
        x2_name = request.x2_name or "x2"
    keep = np.isfinite(x) & np.isfinite(y) & (np.isfinite(x2) if x2 is not None else True)
    notes = () if keep.all() else (f"dropped {int((~keep).sum())} points with a missing value",)
    return _Points(law, x[keep], y[keep], None if x2 is None else x2[keep], request.x_name, x2_name, notes)


def _refusal(points: _Points, floor: float | None) -> str | None:
    """Why the law cannot be fitted to these points (non-positive log axes, too few points or scales, a flat
    curve), or None."""
    law, x, x2, y, n = points.law, points.x, points.x2, points.y, points.n
    if (x <= 0).any() or (x2 is not None and (x2 <= 0).any()):
        return f"{points.x_name} must be > 0 for a log axis ({int((x <= 0).sum())} points are not)"
    if law.needs_positive_y and (y <= 0).any():
        return (
            f"the {law.name} law is fitted in log space and needs y > 0, but {int((y <= 0).sum())} of {n} "
            "values are <= 0: choose --law logistic, or a loss-like metric"
        )
    n_free = len(law.params) - (1 if law.name == "logistic" and floor is not None else 0)
    if n < n_free + 1:
        return (
            f"the {law.name} law has {n_free} free parameters and needs at least {n_free + 1} points, got {n}"
        )
    n_scales = points.groups.max() + 1
    if n_scales < n_free:
        return f"the {law.name} law needs at least {n_free} distinct scales, got {n_scales}"
    if np.ptp(y) == 0:  # no law's shape is identified by a flat line (and its bounds would collapse)
        return f"the curve is constant (all {n} values are {y[0]:.6g}): there is no trend to fit"
    return None


def _power_fit(points: _Points, request: _FitRequest) -> FitResult:
    """The power law in closed form, with its bootstrap CIs."""
    x, y = points.x, points.y
    params, cis, residuals, n_ok, n_bad = _fit_power(
        x, y, points.groups, request.bootstrap, request.ci, request.seed
    )
    if not all(np.isfinite(v) for v in params.values()):
        return points.refuse("the log-log least squares gave no finite line")
    return points.result(
        params=params,
        ci=cis,
        r2=_r2(residuals, np.log(y)),
        residuals=residuals,
        ok=True,
        message="; ".join(points.notes),
        objective=float((residuals**2).sum()),
        n_bootstrap=n_ok,
        n_bootstrap_failed=n_bad,
    )


def _best_starts(problem: _Problem) -> np.ndarray:
    """The ``REFINE_TOP`` grid starts with the lowest objective on all points, best first (finite only)."""
    losses = _grid_losses(problem, np.ones((1, len(problem.target))))[0]
    order = np.argsort(losses)[:REFINE_TOP]
    return order[np.isfinite(losses[order])]


def _search_rows(problem: _Problem, best: np.ndarray, reps: _Replicates | None) -> _Rows:
    """The point estimate's best starts and every replicate's starts, refined in one batch (one loop, not
    two): the point estimate to the end (it is polished after), a log-space law's replicates until perfect."""
    n = len(problem.target)
    starts, weights = problem.grid[best], np.ones((best.size, n))
    limits, settle = np.full(best.size, _BATCH_MAX_ITER), np.zeros(best.size, dtype=bool)
    if reps is not None:
        starts = np.concatenate([starts, reps.starts])
        weights = np.concatenate([weights, reps.weights])
        limits = np.concatenate([limits, np.full(len(reps.starts), _REPLICATE_MAX_ITER)])
        settle = np.concatenate([settle, np.full(len(reps.starts), problem.robust)])
    return _Rows(problem, starts, weights, limits, settle)


def _finish(
    pending: _Pending, all_thetas: np.ndarray, all_values: np.ndarray, all_converged: np.ndarray
) -> FitResult:
    """A fit from its refined rows: the best start polished by scipy, residuals, notes and bootstrap CIs."""
    problem, reps, points = pending.rows.problem, pending.reps, pending.points
    n_top = pending.n_top
    thetas, values, converged = (
        all_thetas[:n_top],
        all_values[:n_top],
        all_converged[:n_top],
    )
    best = int(np.argmin(values))
    theta, value = thetas[best], float(values[best])
    polished, polished_value, polish_ok = _polish(problem, theta)
    if polish_ok and np.isfinite(polished_value) and polished_value <= value:
        theta, value = polished, polished_value
    natural = problem.to_natural(theta[None, :])[0]
    if not (polish_ok or converged[best]) or not np.isfinite(value) or not np.isfinite(natural).all():
        return points.refuse(f"the fit did not converge from the {n_top} best grid starts")
    residuals = problem.target - problem.model(theta[None, :], False)[0][0]
    notes = [*points.notes, *_bound_notes(problem, theta)]
    cis, n_ok, n_bad = ({}, 0, 0)
    if reps is not None:
        cis, n_ok, n_bad = _replicate_cis(
            problem, reps, all_thetas[n_top:], all_values[n_top:], pending.level
        )
        if n_bad:
            notes.append(f"{n_bad} of {pending.bootstrap} bootstrap replicates failed and were dropped")
    return points.result(
        params={name: float(v) for name, v in zip(problem.law.params, natural, strict=True)},
        ci=cis,
        r2=_r2(residuals, problem.target),
        residuals=residuals,
        ok=True,
        message="; ".join(notes),
        fixed=problem.fixed,
        objective=value,
        n_bootstrap=n_ok,
        n_bootstrap_failed=n_bad,
    )
