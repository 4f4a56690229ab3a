"""``fit_law``: the procedure of each law, from checks and start grid to a polished fit with bootstrap CIs.

Procedures (docs/science.md section 6):

* ``power``: least squares of log y on log x (closed form, also for every bootstrap replicate at once).
* ``saturating`` and ``joint``: the robust fit of Hoffmann et al. (2022, Approach 3) as replicated by
  Besiroglu et al. (2024): positive constants parameterised by their logs, log y predicted as a log-sum-exp
  of the terms, Huber loss (delta = 1e-3) on log residuals, L-BFGS-B. Log x and log y are centred on their
  means internally (the constants are converted back), which decorrelates a constant from its exponent and
  makes the start grid data-adaptive.
* ``logistic``: bounded least squares in linear space (scipy ``least_squares``, trf); the floor is fixed
  when given.

The procedure reads top-down: ``_prepare`` (usable points, refusals, the power law's closed form, the law's
problem, the best starts), the refinement of every prepared fit's rows together (``optimizer._refine_jobs``),
``_estimate`` (polish, residuals, the checks that need no CIs), then, for the estimates that stand, the
bootstrap: ``_with_replicates`` (the replicates and their best starts), their rows refined together, and
``_conclude`` (CIs, the last checks). A fit refused on its point estimate draws no replicates: they could not
change its result.

Many fits at once (``fit_points``, ``fit_table``): every fit is set up first (checks, start grid),
then the rows of all fits of one law are refined together: each row carries its own target, data, bounds and
fixed floor, points are padded to a common count with weight 0, each row's drawn points are moved to its front
and rows are refined in chunks cut to their width; each fit is then finished (polish, CIs) on its own. Results
equal fitting each triplet alone (to rounding), at one loop per chunk instead of one per fit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from analysis import threads
from analysis.fits.bootstrap import (
    ITEM_REPLICATES,
    POINT_RESAMPLES,
    _counts,
    _distinct_drawn,
    _percentile_ci,
    _polish_stragglers,
    _prefer_zero,
    _replicate_winners,
    _Replicates,
    _replicates,
    _straggler_rows,
    _take_continued,
    _winner_cis,
    _Winners,
)
from analysis.fits.checks import (
    bound_refusal,
    ci_refusal,
    direction_refusal,
    poor_r2_note,
    r2_refusal,
    unidentified,
)
from analysis.fits.laws import Law, evaluate, get_law
from analysis.fits.optimizer import (
    _BATCH_MAX_ITER,
    _PERFECT_RESIDUAL,
    _grid_losses,
    _polish,
    _refine_jobs,
    _Rows,
)
from analysis.fits.problems import _Problem, _problem_for, _rho
from analysis.fits.results import FitResult, _failed

REFINE_TOP = 5  # grid starts refined with L-BFGS-B for a point estimate
STRAGGLER_STEPS = 3000  # more batch steps for the replicates still moving at the limit (fast path)
STRAGGLER_HANDOVER = 8  # log-space fits' continuation stops once this few still move: scipy polishes them


def _r2(residuals: np.ndarray, target: np.ndarray) -> float | None:
    total = float(((target - target.mean()) ** 2).sum())
    if total <= 0.0:
        return None
    return 1.0 - float((residuals**2).sum()) / total


def _r2_spaces(y: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """R^2 of the prediction in linear space and, where y and the prediction are positive, in log space."""
    positive = bool((y > 0).all() and (predicted > 0).all())
    log = _r2(np.log(y) - np.log(predicted), np.log(y)) if positive else None
    return {"r2_linear": _r2(y - predicted, y), "r2_log": log}


def _fit_power(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    bootstrap: int,
    level: float,
    seed: int,
    y_replicates: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, tuple[float, float]], np.ndarray, int, int, str, np.ndarray]:
    """Closed-form log-log least squares; bootstrap replicates as weighted least squares, all at once (over
    resampled points, or each replicate curve of ``y_replicates`` with unit weights). The last item is the
    good replicates' (a, b), shape (B, 2)."""
    u, t = np.log(x), np.log(y)

    def weighted_line(w: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sw = w.sum(axis=1)
        mu_u, mu_t = (w @ u) / sw, (w * targets).sum(axis=1) / sw
        du, dt = u[None, :] - mu_u[:, None], targets - mu_t[:, None]
        sxx = (w * du * du).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (w * du * dt).sum(axis=1) / sxx
        return np.exp(mu_t - slope * mu_u), slope

    a, b = weighted_line(np.ones((1, len(u))), t[None, :])
    params = {"a": float(a[0]), "b": float(b[0])}
    residuals = t - (np.log(a[0]) + b[0] * u)
    if bootstrap <= 0:
        return params, {}, residuals, 0, 0, "", np.empty((0, 2))
    if y_replicates is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            targets = np.log(np.asarray(y_replicates, dtype=float)[:bootstrap])
        ra, rb = weighted_line(np.ones(targets.shape), targets)
        good = np.isfinite(targets).all(axis=1) & np.isfinite(ra) & np.isfinite(rb)
        source = ITEM_REPLICATES
    else:
        counts = _counts(seed, len(u), bootstrap)
        ra, rb = weighted_line(counts, np.broadcast_to(t, counts.shape))
        good = (_distinct_drawn(groups, counts) >= 2) & np.isfinite(ra) & np.isfinite(rb)
        source = POINT_RESAMPLES
    replicates = np.stack([ra[good], rb[good]], axis=1)
    if good.sum() < 2:
        return params, {}, residuals, int(good.sum()), int((~good).sum()), source, replicates
    ci = _percentile_ci(replicates, ("a", "b"), level)
    return params, ci, residuals, int(good.sum()), int((~good).sum()), source, replicates


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
    y_replicates: np.ndarray | None = None,
) -> FitResult:
    """Fit ``law`` to the points (x, y) (and x2 = tokens for the joint law) with the procedure of its kind.

    ``floor`` fixes the logistic floor (e.g. at chance); None leaves it free. Points with a missing value are
    dropped (and counted in the message). Too few points, x <= 0, y <= 0 for a log-space law, no converged
    start, or a fit that does not fit (``analysis.fits.checks``) give ``ok=False`` with a message, never an
    exception. ``bootstrap`` > 0 adds percentile CIs at level ``ci`` from that many replicates: refits of the
    rows of ``y_replicates`` (B, n), the points' own replicate curves, when given; else of seeded resamples
    of the points.
    """
    request = _FitRequest(x, y, law, x2, floor, bootstrap, ci, seed, x_name, x2_name, y_replicates)
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
    y_replicates: np.ndarray | None = None  # (B, n) the points' replicate curves, in the order of x


@dataclass(frozen=True, eq=False)
class _Pending:
    """A fit set up to the refinement of its point estimate: its rows and what finishing it needs."""

    points: _Points
    rows: _Rows  # the point estimate's best starts, [its E = 0 row]
    n_top: int  # how many rows are the point estimate's starts
    request: _FitRequest

    @property
    def has_zero(self) -> bool:
        """Whether the law has a constant pinned at 0 in an extra row (E of the saturating and joint laws)."""
        return self.rows.problem.zero_column is not None


@dataclass(frozen=True, eq=False)
class _Estimate:
    """A point estimate that stands (converged, R^2 > 0, no parameter at a bound), waiting for its CIs."""

    points: _Points
    problem: _Problem
    natural: np.ndarray  # the law's parameters
    value: float  # the objective
    residuals: np.ndarray
    r2: float | None
    request: _FitRequest
    reps: _Replicates | None = None


@np.errstate(all="ignore")
def _fit_many(requests: list[_FitRequest], *, batch_stragglers: bool = True) -> list[FitResult]:
    """``fit_law`` for many requests, in two rounds of shared batches (one loop per kernel instead of one per
    fit); results equal separate calls.

    1. The point estimates: every fit's best starts refined together, then each polished and checked
       (``_estimate``): a fit refused here (no convergence, R^2 <= 0, a parameter at a bound) needs no CIs.
    2. The bootstrap of the fits that stand: their replicates' rows refined together, then the CIs and the
       last checks (``_conclude``). On Pythia's tree 315 of 580 searched fits are refused in round 1 (k at
       its bound), and their replicates are the slowest to refine (they run to the iteration limit).

    A replicate whose winning row the batch has not converged is polished by scipy, one call each, as the
    point estimate is. ``batch_stragglers`` (the fast path) first refines all of them further together
    (``_continue_stragglers``): on Pythia's tree 1 replicate in 10 is still moving at the limit, and the
    scipy calls were 60% of the fit stage; a log-space fit's last few still moving (``STRAGGLER_HANDOVER``)
    are polished by scipy, and those scipy does not converge get the further batch steps after all (the batch
    converges a few that scipy gives up on). Each replicate thus ends where the plain path's polish or the
    full batch continuation leaves it.

    BLAS runs on one thread (``analysis.threads``): the grid products are small ((200, 20) x (20, 420) per
    fit), and two BLAS threads on two busy cores made each one 2-100x slower (0.11 ms alone, 0.3-12 ms under
    load, measured).
    """
    threads.pin_blas()
    done: list[FitResult | _Pending | _Estimate] = [_prepare(request) for request in requests]
    waiting = [i for i, item in enumerate(done) if isinstance(item, _Pending)]
    refined = _refine_jobs([done[i].rows for i in waiting])  # type: ignore[union-attr]
    for i, (thetas, values, converged) in zip(waiting, refined, strict=True):
        done[i] = _estimate(done[i], thetas, values, converged)  # type: ignore[arg-type]
    standing = [i for i, item in enumerate(done) if isinstance(item, _Estimate)]
    booted = [_with_replicates(done[i]) for i in standing]  # type: ignore[arg-type]
    sampled = [j for j, item in enumerate(booted) if item.reps is not None]
    rows = [_replicate_rows(booted[j].problem, booted[j].reps) for j in sampled]  # type: ignore[arg-type]
    winners = {
        j: _replicate_winners(booted[j].problem, booted[j].reps, *result)  # type: ignore[arg-type]
        for j, result in zip(sampled, _refine_jobs(rows), strict=True)
    }
    if batch_stragglers:
        _continue_stragglers([(booted[j], winners[j]) for j in sampled], STRAGGLER_HANDOVER)
    for j in sampled:  # what the batch did not converge: one scipy call each, as the point estimate
        _polish_stragglers(booted[j].problem, booted[j].reps, winners[j])  # type: ignore[arg-type]
    if batch_stragglers:  # what scipy could not converge either: the batch's full further steps
        _continue_stragglers([(booted[j], winners[j]) for j in sampled], 0)
    for j, i in enumerate(standing):
        done[i] = _conclude(booted[j], winners.get(j))
    return done  # type: ignore[return-value]


def _prepare(request: _FitRequest) -> FitResult | _Pending:
    """Everything of a fit before its refinement: the usable points, refusals, the power law's closed form,
    the law's problem and the point estimate's best starts."""
    points = _usable_points(request)
    if isinstance(points, FitResult):
        return points
    refusal = _refusal(points, request.floor) or direction_refusal(
        points.law.name, points.x, points.y, points.x_name
    )
    if refusal is not None:
        return points.refuse(refusal)
    if points.law.name == "power":
        return _power_fit(points, request)
    problem = _problem_for(points.law.name, points.x, points.x2, points.y, request.floor)
    best = _best_starts(problem)
    if best.size == 0:
        return points.refuse("no start of the grid gives a finite prediction")
    return _Pending(points, _point_rows(problem, best), best.size, request)


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
    y_replicates: np.ndarray | None = None  # (B, n) the points' replicate curves, same points

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
    curves = None if request.y_replicates is None else np.asarray(request.y_replicates, dtype=float)[:, keep]
    x2_kept = None if x2 is None else x2[keep]
    return _Points(law, x[keep], y[keep], x2_kept, request.x_name, x2_name, notes, curves)


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
    """The power law in closed form, with its bootstrap CIs, checked like every fit."""
    x, y = points.x, points.y
    params, cis, residuals, n_ok, n_bad, source, replicates = _fit_power(
        x, y, points.groups, request.bootstrap, request.ci, request.seed, points.y_replicates
    )
    if not all(np.isfinite(v) for v in params.values()):
        return points.refuse("the log-log least squares gave no finite line")
    return _checked(
        points,
        params=params,
        ci=cis,
        r2=_r2(residuals, np.log(y)),
        residuals=residuals,
        objective=float((residuals**2).sum()),
        n_bootstrap=n_ok,
        n_bootstrap_failed=n_bad,
        ci_from=source if cis else "",
        replicates=replicates if cis else np.empty((0, 2)),
        notes=list(points.notes),
    )


def _checked(points: _Points, *, notes: list[str], **fields: Any) -> FitResult:
    """A finished fit after the checks of ``analysis.fits.checks``: refused with the reason, or with its
    unidentified constants named, R^2 in both spaces and the CIs' source said."""
    params, cis = fields["params"], fields["ci"]
    law = points.law
    refusal = r2_refusal(fields["r2"], law.fitted_space) or ci_refusal(params, cis)
    if refusal is not None:
        return points.refuse(refusal)
    if fields.get("n_bootstrap_failed"):
        total = fields["n_bootstrap"] + fields["n_bootstrap_failed"]
        notes.append(
            f"{fields['n_bootstrap_failed']} of {total} bootstrap replicates failed and were dropped"
        )
    predicted = evaluate(law.name, params, points.x, points.x2)
    spaces = _r2_spaces(points.y, predicted)
    poor = poor_r2_note(spaces, law.fitted_space)
    if poor is not None:
        notes.append(poor)
    return points.result(
        ok=True,
        message="; ".join(notes),
        unidentified=unidentified(law.name, params, cis, points.y),
        **spaces,
        **fields,
    )


def _best_starts(problem: _Problem) -> np.ndarray:
    """The ``REFINE_TOP`` grid starts with the lowest objective on all points, best first (finite only)."""
    losses = _grid_losses(problem, np.ones((1, len(problem.target))))[0]
    order = np.argsort(losses)[:REFINE_TOP]
    return order[np.isfinite(losses[order])]


def _point_rows(problem: _Problem, best: np.ndarray) -> _Rows:
    """The point estimate's best starts and, for a law with E, one row with E pinned at 0."""
    n = len(problem.target)
    starts, weights = problem.grid[best], np.ones((best.size, n))
    lower, upper = np.tile(problem.lower, (best.size, 1)), np.tile(problem.upper, (best.size, 1))
    if problem.zero_column is not None:
        zero_lower, zero_upper = problem.pinned_at_zero(1)
        starts = np.concatenate([starts, problem.at_zero(starts[:1])])
        weights = np.concatenate([weights, weights[:1]])
        lower, upper = np.concatenate([lower, zero_lower]), np.concatenate([upper, zero_upper])
    return _search_rows(problem, starts, weights, lower, upper)


def _replicate_rows(problem: _Problem, reps: _Replicates) -> _Rows:
    """Every replicate's best starts and, for a law with E, each replicate's row with E pinned at 0."""
    k = len(reps.starts)
    targets = np.tile(problem.target, (k, 1)) if reps.targets is None else reps.targets
    blocks = [
        (reps.starts, reps.weights, targets, np.tile(problem.lower, (k, 1)), np.tile(problem.upper, (k, 1)))
    ]
    if problem.zero_column is not None:
        zero_starts, zero_weights, zero_targets = reps.zero_rows(problem)
        if zero_targets is None:
            zero_targets = np.tile(problem.target, (len(zero_starts), 1))
        blocks.append((zero_starts, zero_weights, zero_targets, *problem.pinned_at_zero(len(zero_starts))))
    starts, weights, targets, lower, upper = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
    return _search_rows(problem, starts, weights, lower, upper, targets)


def _search_rows(
    problem: _Problem,
    starts: np.ndarray,
    weights: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    targets: np.ndarray | None = None,
) -> _Rows:
    """Rows refined with the point estimate's iteration limit and stopping rules (a log-space fit stops once
    perfect), for the point estimate and its replicates alike."""
    k = len(starts)
    return _Rows(
        problem,
        starts,
        weights,
        np.full(k, _BATCH_MAX_ITER),
        np.full(k, problem.robust),
        lower=lower,
        upper=upper,
        targets=targets,
    )


def _at_bounds(theta: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Parameters within 1e-9 of a bound set on it: a floor of 6e-16 is the bound 0, not a number to print."""
    near = 1e-9 * (
        1.0
        + np.abs(np.where(np.isfinite(lower), lower, 0.0))
        + np.abs(np.where(np.isfinite(upper), upper, 0.0))
    )
    theta = np.where(np.abs(theta - lower) <= near, lower, theta)
    return np.where(np.abs(theta - upper) <= near, upper, theta)


def _perfect(problem: _Problem, value: float) -> bool:
    """A log-space fit within the optimiser's 1e-6 at every point (its replicates stop there too)."""
    return problem.robust and value <= len(problem.target) * float(_rho(np.array(_PERFECT_RESIDUAL), True))


def _estimate(
    pending: _Pending, thetas: np.ndarray, values: np.ndarray, converged: np.ndarray
) -> FitResult | _Estimate:
    """The point estimate from its refined rows: the best start (or E = 0 when that is as good) polished by
    scipy, its residuals and the checks that need no CIs (convergence, R^2, a parameter at a bound)."""
    problem, points, n_top = pending.rows.problem, pending.points, pending.n_top
    best = int(np.argmin(values[:n_top]))
    theta, value, ok = thetas[best], float(values[best]), bool(converged[best])
    lower, upper = problem.lower, problem.upper
    at_zero = False
    if pending.has_zero:
        zero_value = values[n_top : n_top + 1]
        if _prefer_zero(np.array([value]), zero_value, np.ones((1, len(problem.target))))[0]:
            theta, value, ok, at_zero = thetas[n_top], float(zero_value[0]), bool(converged[n_top]), True
            lower, upper = (bound[0] for bound in problem.pinned_at_zero(1))
    polish_ok = False
    if not _perfect(problem, value):  # a perfect fit stops where its replicates stop: no polish
        polished, polished_value, polish_ok = _polish(problem, theta, lower, upper)
        if polish_ok and np.isfinite(polished_value) and polished_value <= value:
            theta, value = polished, polished_value
    theta = _at_bounds(theta, problem.lower, problem.upper)
    natural = problem.natural(theta[None, :], np.array([at_zero]))[0]
    if not (polish_ok or ok) or not np.isfinite(value) or not np.isfinite(natural).all():
        return points.refuse(f"the fit did not converge from the {n_top} best grid starts")
    residuals = problem.target - problem.model(theta[None, :], False)[0][0]
    r2 = _r2(residuals, problem.target)
    refusal = r2_refusal(r2, problem.law.fitted_space) or bound_refusal(
        problem.free, theta, problem.lower, problem.upper
    )
    if refusal is not None:
        return points.refuse(refusal)
    return _Estimate(points, problem, natural, value, residuals, r2, pending.request)


def _with_replicates(estimate: _Estimate) -> _Estimate:
    """The estimate with its bootstrap replicates drawn and their best starts picked (none when B = 0)."""
    request, points = estimate.request, estimate.points
    if request.bootstrap <= 0:
        return estimate
    reps = _replicates(estimate.problem, points.groups, request.bootstrap, request.seed, points.y_replicates)
    return replace(estimate, reps=reps)


def _continue_stragglers(fits: list[tuple[_Estimate, _Winners]], handover: int) -> None:
    """The replicates the batch left moving, of every fit, refined ``STRAGGLER_STEPS`` more steps together
    from where they stopped (the same objective, bounds and stopping rules); kept where they converge (in
    place). Like the scipy polish it replaces, it starts where the batch stopped and only lowers the
    objective, so it ends at the optimum the polish finds (to the optimisers' tolerances:
    tests/equivalence/test_fit_speed.py).

    The rows of the log-space (Huber) fits stop once at most ``handover`` of them are still moving (0:
    never): those are left as the batch left them, for the scipy polish of the plain path (the same call from
    the same point, so the same result). A step costs about the same for 1 row as for 36 (its numpy calls set
    the cost, ~0.4 ms), and the last few rows are the slow ones: on the benchmark's fit (20 points, B = 1000)
    36 replicates straggled, 8 were still moving after ~500 more steps and then took 2500 more (1 never
    converged): 0.9 s of CPU against 0.2 s for those steps and 8 L-BFGS-B polishes (3-110 ms each;
    tests/unit/test_fits.py holds every row equal). The logistic's rows are not handed over: its
    least-squares polish costs ~40 ms a row (about 100 steps) and gives up on a few the batch converges; on
    the Pythia report's fits handing over 8 took the stragglers' CPU from 7.2 s to 10.6 s."""
    jobs = []
    for estimate, winners in fits:
        which, rows = _straggler_rows(estimate.problem, estimate.reps, winners, STRAGGLER_STEPS)  # type: ignore[arg-type]
        if len(which):
            jobs.append((winners, which, rows))
    for robust, few in ((True, handover), (False, 0)):  # kernels are refined apart anyway
        part = [job for job in jobs if job[2].problem.robust == robust]
        refined = _refine_jobs([rows for _, _, rows in part], few)
        for (winners, which, _), (theta, obj, converged) in zip(part, refined, strict=True):
            _take_continued(winners, which, theta, obj, converged)


def _conclude(estimate: _Estimate, winners: _Winners | None) -> FitResult:
    """A standing estimate with the CIs of its replicates' refined winners (None without a bootstrap), then
    the last checks (``_checked``)."""
    problem, reps = estimate.problem, estimate.reps
    cis, n_ok, n_bad, replicates = {}, 0, 0, np.empty((0, len(problem.law.params)))
    if reps is not None and winners is not None:
        cis, n_ok, n_bad, replicates = _winner_cis(problem, reps, winners, estimate.request.ci)
        cis = {name: ci for name, ci in cis.items() if name not in problem.fixed}  # held, not estimated
    return _checked(
        estimate.points,
        params={name: float(v) for name, v in zip(problem.law.params, estimate.natural, strict=True)},
        ci=cis,
        r2=estimate.r2,
        residuals=estimate.residuals,
        fixed=problem.fixed,
        objective=estimate.value,
        n_bootstrap=n_ok,
        n_bootstrap_failed=n_bad,
        ci_from=(reps.source if cis and reps is not None else ""),
        replicates=replicates if cis else np.empty((0, len(problem.law.params))),
        notes=list(estimate.points.notes),
    )
