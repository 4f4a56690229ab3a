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

Many fits at once (``fit_points``, ``fit_table``): every fit is set up first (checks, start grid, replicates),
then the rows of all fits of one law are refined together: each row carries its own target, data, bounds and
fixed floor, points are padded to a common count with weight 0, each row's drawn points are moved to its front
and rows are refined in chunks cut to their width; each fit is then finished (polish, CIs) on its own. Results
equal fitting each triplet alone (to rounding), at one loop per chunk instead of one per fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from analysis.fits.bootstrap import (
    _REPLICATE_MAX_ITER,
    _distinct_drawn,
    _multiplicities,
    _percentile_ci,
    _replicate_cis,
    _Replicates,
    _replicates,
)
from analysis.fits.laws import get_law
from analysis.fits.optimizer import _BATCH_MAX_ITER, _grid_losses, _polish, _refine_jobs, _Rows
from analysis.fits.problems import (
    _joint_problem,
    _logistic_problem,
    _Problem,
    _saturating_problem,
)
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
    counts = _multiplicities(np.random.default_rng(seed), len(u), bootstrap)
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

    rows: _Rows  # the point estimate's best grid starts first, then the replicates'
    n_top: int  # how many rows are the point estimate's starts
    reps: _Replicates | None
    bootstrap: int
    level: float
    notes: list[str]
    common: dict
    refuse: Callable[[str], FitResult]


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
    """Everything of a fit before its refinement: checks and refusals, the power law's closed form, the
    problem, the point estimate's best starts and the bootstrap replicates' rows."""
    x, y, law, x2, floor = request.x, request.y, request.law, request.x2, request.floor
    bootstrap, ci, seed = request.bootstrap, request.ci, request.seed
    x_name, x2_name = request.x_name, request.x2_name
    spec = get_law(law)
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if spec.needs_x2:
        if x2 is None:
            return _failed(spec, x_name, len(x), "the joint law needs tokens (x2) besides params", x2_name)
        x2 = np.asarray(x2, dtype=float).ravel()
        x2_name = x2_name or "x2"
    keep = np.isfinite(x) & np.isfinite(y) & (np.isfinite(x2) if spec.needs_x2 else True)
    notes = [] if keep.all() else [f"dropped {int((~keep).sum())} points with a missing value"]
    x, y = x[keep], y[keep]
    x2 = x2[keep] if spec.needs_x2 else None
    n = len(x)

    def refuse(message: str) -> FitResult:
        return _failed(spec, x_name, n, "; ".join([message, *notes]), x2_name if spec.needs_x2 else None)

    if (x <= 0).any() or (spec.needs_x2 and (x2 <= 0).any()):
        return refuse(f"{x_name} must be > 0 for a log axis ({int((x <= 0).sum())} points are not)")
    if spec.needs_positive_y and (y <= 0).any():
        return refuse(
            f"the {law} law is fitted in log space and needs y > 0, but {int((y <= 0).sum())} of {n} "
            "values are <= 0: choose --law logistic, or a loss-like metric"
        )
    n_free = len(spec.params) - (1 if law == "logistic" and floor is not None else 0)
    if n < n_free + 1:
        return refuse(
            f"the {law} law has {n_free} free parameters and needs at least {n_free + 1} points, got {n}"
        )
    scales = np.stack([x, x2], axis=1) if spec.needs_x2 else x[:, None]
    groups = np.unique(scales, axis=0, return_inverse=True)[1].ravel()
    if groups.max() + 1 < n_free:
        return refuse(f"the {law} law needs at least {n_free} distinct scales, got {groups.max() + 1}")
    if np.ptp(y) == 0:  # no law's shape is identified by a flat line (and its bounds would collapse)
        return refuse(f"the curve is constant (all {n} values are {y[0]:.6g}): there is no trend to fit")

    common = {
        "law": law,
        "x": x_name,
        "x2": x2_name if spec.needs_x2 else None,
        "r2_space": spec.fitted_space,
        "n_points": n,
        "x_range": (float(x.min()), float(x.max())),
        "x2_range": (float(x2.min()), float(x2.max())) if spec.needs_x2 else None,
    }
    if law == "power":
        params, cis, residuals, n_ok, n_bad = _fit_power(x, y, groups, bootstrap, ci, seed)
        if not all(np.isfinite(v) for v in params.values()):
            return refuse("the log-log least squares gave no finite line")
        return FitResult(
            params=params,
            ci=cis,
            r2=_r2(residuals, np.log(y)),
            residuals=residuals,
            ok=True,
            message="; ".join(notes),
            objective=float((residuals**2).sum()),
            n_bootstrap=n_ok,
            n_bootstrap_failed=n_bad,
            **common,
        )

    if law == "saturating":
        problem = _saturating_problem(x, y)
    elif law == "joint":
        problem = _joint_problem(x, x2, y)
    else:
        problem = _logistic_problem(x, y, floor)
    losses = _grid_losses(problem, np.ones((1, n)))[0]
    order = np.argsort(losses)[:REFINE_TOP]
    order = order[np.isfinite(losses[order])]
    if order.size == 0:
        return refuse("no start of the grid gives a finite prediction")
    # the point estimate's starts and every replicate's starts are refined in one batch (one loop, not two)
    # (the point estimate is refined to the end and polished; replicates of a log-space law stop once perfect)
    starts, weights, limits = (
        problem.grid[order],
        np.ones((order.size, n)),
        np.full(order.size, _BATCH_MAX_ITER),
    )
    settle = np.zeros(order.size, dtype=bool)
    reps = _replicates(problem, groups, bootstrap, seed) if bootstrap > 0 else None
    if reps is not None:
        starts = np.concatenate([starts, reps.starts])
        weights = np.concatenate([weights, reps.weights])
        limits = np.concatenate([limits, np.full(len(reps.starts), _REPLICATE_MAX_ITER)])
        settle = np.concatenate([settle, np.full(len(reps.starts), problem.robust)])
    return _Pending(
        rows=_Rows(problem, starts, weights, limits, settle),
        n_top=order.size,
        reps=reps,
        bootstrap=bootstrap,
        level=ci,
        notes=notes,
        common=common,
        refuse=refuse,
    )


def _finish(
    pending: _Pending, all_thetas: np.ndarray, all_values: np.ndarray, all_converged: np.ndarray
) -> FitResult:
    """A fit from its refined rows: the best start polished by scipy, residuals, notes and bootstrap CIs."""
    problem, reps, notes, refuse = pending.rows.problem, pending.reps, pending.notes, pending.refuse
    bootstrap, ci, common = pending.bootstrap, pending.level, pending.common
    spec = problem.law
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
        return refuse(f"the fit did not converge from the {n_top} best grid starts")
    residuals = problem.target - problem.model(theta[None, :], False)[0][0]
    notes.extend(_bound_notes(problem, theta))
    cis, n_ok, n_bad = ({}, 0, 0)
    if reps is not None:
        cis, n_ok, n_bad = _replicate_cis(problem, reps, all_thetas[n_top:], all_values[n_top:], ci)
        if n_bad:
            notes.append(f"{n_bad} of {bootstrap} bootstrap replicates failed and were dropped")
    return FitResult(
        params={name: float(v) for name, v in zip(spec.params, natural, strict=True)},
        ci=cis,
        r2=_r2(residuals, problem.target),
        residuals=residuals,
        ok=True,
        message="; ".join(notes),
        fixed=problem.fixed,
        objective=value,
        n_bootstrap=n_ok,
        n_bootstrap_failed=n_bad,
        **common,
    )
