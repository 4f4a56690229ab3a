"""Fitting scaling laws to points: procedures, bootstrap CIs, backtests and the ``fit_points`` stage.

Procedures (SCIENCE.md section 6):

* ``power``: least squares of log y on log x (closed form, also for every bootstrap replicate at once).
* ``saturating`` and ``joint``: the robust fit of Hoffmann et al. (2022, Approach 3) as replicated by
  Besiroglu et al. (2024): positive constants parameterised by their logs, log y predicted as a log-sum-exp
  of the terms, Huber loss (delta = 1e-3) on log residuals, L-BFGS-B. Log x and log y are centred on their
  means internally (the constants are converted back), which decorrelates a constant from its exponent and
  makes the start grid data-adaptive.
* ``logistic``: bounded least squares in linear space (scipy ``least_squares``, trf); the floor is fixed
  when given.

Search: every point of the start grid is scored at once (numpy); the ``REFINE_TOP`` best starts are refined
together by a batched damped Gauss-Newton on the same objective (reweighted for the Huber loss,
Levenberg-Marquardt damping, bounds by projection), and the best of them is polished by one scipy call
(L-BFGS-B, or least_squares for the logistic); the lower objective is kept. Why not one L-BFGS-B per start:
measured on the 240 Chinchilla points, L-BFGS-B from the 5 best starts took 1.3-2.6 s of CPU (70-270
iterations each, the Huber kink slows it), the batched refinement 0.08 s to the same optimum, and the
L-BFGS-B polish from there 8 ms.

Many fits at once (``fit_points``, ``fit_table``): every fit is set up first (checks, start grid, replicates),
then the rows of all fits of one law are refined together: each row carries its own target, data, bounds and
fixed floor, points are padded to a common count with weight 0, each row's drawn points are moved to its front
and rows are refined in chunks cut to their width; each fit is then finished (polish, CIs) on its own. Results
equal fitting each triplet alone (to rounding), at one loop per chunk instead of one per fit.

Bootstrap CIs resample the fitted points with replacement (seeded) and refit every replicate from the SAME
start grid, never warm-started from the point estimate. A replicate is a vector of multiplicities on the
original points, so the grid is scored for all replicates in one matrix product and the ``REPLICATE_TOP``
best starts of every replicate are refined in one batch (no scipy polish). Replicates that fail (no finite
optimum, or fewer distinct scales drawn than the law has free parameters) are dropped and counted in
``FitResult.n_bootstrap_failed``. CIs are linear-interpolated percentiles.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from analysis import schema as S
from analysis.errors import InputError
from analysis.laws import Law, default_law, evaluate, get_law
from analysis.options import FitSettings

HUBER_DELTA = 1e-3
REFINE_TOP = 5  # grid starts refined with L-BFGS-B for a point estimate
REPLICATE_TOP = 3  # grid starts refined (batched) per bootstrap replicate
_BATCH_MAX_ITER = 200  # Gauss-Newton steps for a point estimate (converges in ~100-200 here)
_REPLICATE_MAX_ITER = 100  # per replicate: leaves ~1e-4 in exponents, far inside any CI (measured)
_PERFECT_RESIDUAL = 1e-6  # a replicate fitted to within this at every point is done (log-space laws)
_LOG_BOUND = 60.0  # bound on centred log constants: exp(+-60) covers any sane range
_MAX_EXPONENT = 10.0
_LOGISTIC_MAX_K = 30.0  # per decade of x

TABLE_TASK = (
    "*"  # task label of fits made directly on a table (fit_table): the fit pools no tasks, it has none
)


# --------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class FitResult:
    """One fitted law. When ``ok`` is False, ``params``/``ci`` are empty and ``message`` says why.

    ``r2`` and ``residuals`` are in the fitted space named by ``r2_space``: ``"log"`` (log y - log y_hat) for
    power/saturating/joint, ``"linear"`` (y - y_hat) for logistic. ``fixed`` names parameters that were held
    fixed (the logistic floor at chance). ``x_range``/``x2_range`` are the fitted ranges, used to flag
    extrapolation.
    """

    law: str
    x: str
    params: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    r2: float | None = None
    r2_space: str = "log"
    residuals: np.ndarray = field(default_factory=lambda: np.empty(0))
    n_points: int = 0
    ok: bool = False
    message: str = ""
    x2: str | None = None
    fixed: tuple[str, ...] = ()
    x_range: tuple[float, float] | None = None
    x2_range: tuple[float, float] | None = None
    objective: float | None = None
    n_bootstrap: int = 0  # replicates that gave a fit
    n_bootstrap_failed: int = 0  # replicates dropped

    def predict(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        """The fitted law at x (and x2 for the joint law); all NaN when the fit is not ok."""
        x = np.asarray(x, dtype=float)
        if not self.ok:
            return np.full(np.broadcast(x, x if x2 is None else np.asarray(x2)).shape, np.nan)
        return evaluate(self.law, self.params, x, None if x2 is None else np.asarray(x2, dtype=float))

    def extrapolates(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        """True where a prediction at x (x2) lies outside the range the law was fitted on."""
        x = np.asarray(x, dtype=float)
        if self.x_range is None:
            return np.ones(x.shape, dtype=bool)
        outside = (x < self.x_range[0]) | (x > self.x_range[1])
        if x2 is not None and self.x2_range is not None:
            x2 = np.asarray(x2, dtype=float)
            outside = outside | (x2 < self.x2_range[0]) | (x2 > self.x2_range[1])
        return outside

    def summary(self) -> str:
        """A one-line description: parameters with CIs and R^2, or why there are none."""
        if not self.ok:
            return f"{self.law}: no fit ({self.message})"
        parts = []
        for name, value in self.params.items():
            text = f"{name}={value:.4g}"
            if name in self.ci:
                lo, hi = self.ci[name]
                text += f" [{lo:.4g}, {hi:.4g}]"
            elif name in self.fixed:
                text += " (fixed)"
            parts.append(text)
        r2 = "n/a" if self.r2 is None else f"{self.r2:.3f}"
        return f"{self.law}: {' '.join(parts)}; R2({self.r2_space})={r2}, n={self.n_points}"


def _failed(law: Law, x_name: str, n: int, message: str, x2_name: str | None = None) -> FitResult:
    return FitResult(
        law=law.name,
        x=x_name,
        x2=x2_name,
        r2_space=law.fitted_space,
        n_points=n,
        ok=False,
        message=message,
    )


# ------------------------------------------------------------------------------------------ objective


def _rho(r: np.ndarray, robust: bool) -> np.ndarray:
    """Per-point loss: Huber(delta)/delta on residuals when robust (so its slope is at most 1), else r^2/2."""
    if not robust:
        return 0.5 * r * r
    a = np.abs(r)
    inner = np.minimum(a, HUBER_DELTA)  # quadratic up to delta, then linear: no branch, no masked select
    return inner * (a - 0.5 * inner) * (1.0 / HUBER_DELTA)


def _psi(r: np.ndarray, robust: bool) -> np.ndarray:
    """Derivative of ``_rho``."""
    return np.clip(r / HUBER_DELTA, -1.0, 1.0) if robust else r


def _irls_weight(r: np.ndarray, robust: bool) -> np.ndarray:
    """psi(r)/r: the weight that turns the Huber problem into a weighted least-squares step."""
    if not robust:
        return np.ones_like(r)
    return 1.0 / np.maximum(np.abs(r), HUBER_DELTA)


# A kernel maps parameters theta (K, p) and the law's data columns (each (K, n), or (1, n) shared by all
# rows) to predictions (K, n) in the fitted space and, when asked, the Jacobian d prediction / d theta as a
# list of p columns (K, n) each (columns, not a stacked array: the batched refinement forms J'WJ entry by
# entry, far cheaper than batched matrix products on tiny systems). Data are arguments, not closure state,
# so rows of many fits (different points, even different fixed floors) can be refined in one batch.
Kernel = Callable[[np.ndarray, tuple[np.ndarray, ...], bool], tuple[np.ndarray, list[np.ndarray] | None]]


@dataclass(frozen=True, eq=False)
class _Problem:
    """A law set up on data: internal parameters, fitted-space target, start grid, bounds, map back."""

    law: Law
    kernel: Kernel
    data: tuple[np.ndarray, ...]  # the kernel's data columns for this fit, each (1, n)
    target: np.ndarray  # (n,)
    grid: np.ndarray  # (S, p)
    lower: np.ndarray  # (p,)
    upper: np.ndarray  # (p,)
    robust: bool
    to_natural: Callable[[np.ndarray], np.ndarray]  # theta (K, p) -> law params (K, len(law.params))
    fixed: tuple[str, ...] = ()
    free: tuple[str, ...] = ()  # law parameter named by each theta column (a log-constant names its constant)

    @property
    def n_free(self) -> int:
        return self.grid.shape[1]

    def model(self, theta: np.ndarray, jac: bool) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Predictions (and Jacobian columns) of parameter rows theta (K, p) on this fit's points."""
        return self.kernel(theta, self.data, jac)


def _logsumexp_terms(terms: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """log(sum exp(terms)) and each term's softmax weight (its share), computed stably."""
    top = terms[0]
    for t in terms[1:]:
        top = np.maximum(top, t)
    exps = [np.exp(t - top) for t in terms]
    total = exps[0]
    for e in exps[1:]:
        total = total + e
    return top + np.log(total), [e / total for e in exps]


def _positive_grid(*axes: np.ndarray) -> np.ndarray:
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _saturating_kernel(
    theta: np.ndarray, data: tuple[np.ndarray, ...], jac: bool
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """log y - mu_y = logsumexp(e, a - alpha * u) with u = centred log x."""
    (u,) = data
    e, a, alpha = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
    term = a - alpha * u
    # logsumexp of two terms with one exp: the larger term plus log(1 + exp(-|difference|))
    diff = term - e
    small = np.exp(-np.abs(diff))
    total = 1.0 + small
    pred = np.maximum(term, e) + np.log(total)
    if not jac:
        return pred, None
    w_a = np.where(diff >= 0.0, 1.0, small) / total  # the term's softmax share
    w_e = 1.0 - w_a
    return pred, [w_e, w_a, -u * w_a]


def _saturating_problem(x: np.ndarray, y: np.ndarray) -> _Problem:
    """theta = (e, a, alpha): log y - mu_y = logsumexp(e, a - alpha * (log x - mu_x))."""
    lx, ly = np.log(x), np.log(y)
    mu_x, mu_y = lx.mean(), ly.mean()
    u, t = lx - mu_x, ly - mu_y

    def to_natural(theta: np.ndarray) -> np.ndarray:
        e, a, alpha = theta[:, 0], theta[:, 1], theta[:, 2]
        with np.errstate(over="ignore"):
            return np.stack([np.exp(e + mu_y), np.exp(a + mu_y + alpha * mu_x), alpha], axis=1)

    e_start = np.log(np.array([1e-3, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95]) * y.min()) - mu_y
    a_start = np.log([0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    alpha_start = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])
    return _Problem(
        law=get_law("saturating"),
        kernel=_saturating_kernel,
        data=(u[None, :],),
        target=t,
        grid=_positive_grid(e_start, a_start, alpha_start),
        lower=np.array([-_LOG_BOUND, -_LOG_BOUND, 0.0]),
        upper=np.array([_LOG_BOUND, _LOG_BOUND, _MAX_EXPONENT]),
        robust=True,
        to_natural=to_natural,
        free=("E", "A", "alpha"),
    )


def _joint_kernel(
    theta: np.ndarray, data: tuple[np.ndarray, ...], jac: bool
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """log L - mu = logsumexp(e, a - alpha u, b - beta v) with u, v = centred log params, log tokens."""
    u, v = data
    e, a, alpha, b, beta = (theta[:, i : i + 1] for i in range(5))
    e_full = np.broadcast_to(e, (len(theta), u.shape[1]))
    pred, (w_e, w_a, w_b) = _logsumexp_terms([e_full, a - alpha * u, b - beta * v])
    if not jac:
        return pred, None
    return pred, [w_e, w_a, -u * w_a, w_b, -v * w_b]


def _joint_problem(n_: np.ndarray, d_: np.ndarray, y: np.ndarray) -> _Problem:
    """theta = (e, a, alpha, b, beta): log L - mu = logsumexp(e, a - alpha u, b - beta v), centred logs."""
    ln, ld, ly = np.log(n_), np.log(d_), np.log(y)
    mu_n, mu_d, mu_y = ln.mean(), ld.mean(), ly.mean()
    u, v, t = ln - mu_n, ld - mu_d, ly - mu_y

    def to_natural(theta: np.ndarray) -> np.ndarray:
        e, a, alpha, b, beta = (theta[:, i] for i in range(5))
        with np.errstate(over="ignore"):
            big_a = np.exp(a + mu_y + alpha * mu_n)
            big_b = np.exp(b + mu_y + beta * mu_d)
        return np.stack([np.exp(e + mu_y), big_a, alpha, big_b, beta], axis=1)

    e_start = np.log(np.array([1e-3, 0.3, 0.6, 0.8, 0.95]) * y.min()) - mu_y
    ab_start = np.log([0.01, 0.05, 0.2, 0.5, 1.0])
    exp_start = np.array([0.1, 0.25, 0.4, 0.6, 1.0, 1.5])
    return _Problem(
        law=get_law("joint"),
        kernel=_joint_kernel,
        data=(u[None, :], v[None, :]),
        target=t,
        grid=_positive_grid(e_start, ab_start, exp_start, ab_start, exp_start),
        lower=np.array([-_LOG_BOUND, -_LOG_BOUND, 0.0, -_LOG_BOUND, 0.0]),
        upper=np.array([_LOG_BOUND, _LOG_BOUND, _MAX_EXPONENT, _LOG_BOUND, _MAX_EXPONENT]),
        robust=True,
        to_natural=to_natural,
        free=("E", "A", "alpha", "B", "beta"),
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)): one exp (tanh costs twice as much); exp overflow for z << 0 gives exactly 0."""
    return 1.0 / (1.0 + np.exp(-z))


def _logistic_curve(
    f: np.ndarray, c: np.ndarray, k: np.ndarray, x0: np.ndarray, lx: np.ndarray, jac: bool
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """floor + (ceil - floor) * sigmoid(k (log10 x - x0)) and its columns for (ceil, k, x0)."""
    d = lx - x0
    s = _sigmoid(k * d)
    pred = f + (c - f) * s
    if not jac:
        return pred, None
    slope = (c - f) * s * (1.0 - s)
    return pred, [s, slope * d, -slope * k]


def _logistic_free_kernel(
    theta: np.ndarray, data: tuple[np.ndarray, ...], jac: bool
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """theta = (floor, ceil, k, x0); data = (log10 x,)."""
    (lx,) = data
    f = theta[:, 0:1]
    pred, columns = _logistic_curve(f, theta[:, 1:2], theta[:, 2:3], theta[:, 3:4], lx, jac)
    if columns is not None:
        columns.insert(0, 1.0 - columns[0])
    return pred, columns


def _logistic_fixed_kernel(
    theta: np.ndarray, data: tuple[np.ndarray, ...], jac: bool
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """theta = (ceil, k, x0); data = (log10 x, fixed floor (K or 1, 1))."""
    lx, floor = data
    f = np.broadcast_to(floor, (len(theta), 1))
    return _logistic_curve(f, theta[:, 0:1], theta[:, 1:2], theta[:, 2:3], lx, jac)


def _logistic_problem(x: np.ndarray, y: np.ndarray, floor: float | None) -> _Problem:
    """theta = (ceil, k, x0) with the floor fixed, else (floor, ceil, k, x0); least squares in linear space.

    Bounds: a rate in [0, 1] keeps floor and ceil in [0, 1]; other data get ceil <= max + range. k is bounded
    by +-30 per decade, x0 to two decades beyond the data.
    """
    lx = np.log10(x)
    y_min, y_max = float(y.min()), float(y.max())
    span = max(y_max - y_min, 1e-9)
    is_rate = y_min >= 0.0 and y_max <= 1.0 and (floor is None or 0.0 <= floor <= 1.0)
    ceil_max = 1.0 if is_rate else y_max + span
    floor_min = 0.0 if is_rate else y_min - span
    x0_lo, x0_hi = lx.min() - 2.0, lx.max() + 2.0
    free_floor = floor is None

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, ...]:
        if free_floor:
            return theta[:, 0:1], theta[:, 1:2], theta[:, 2:3], theta[:, 3:4]
        return np.full((len(theta), 1), floor), theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]

    def to_natural(theta: np.ndarray) -> np.ndarray:
        return np.concatenate(unpack(theta), axis=1)

    ceil_start = np.unique([y_max, ceil_max, 0.5 * (y_max + ceil_max)])
    k_start = np.array([-8.0, -3.0, -1.0, -0.3, 0.3, 1.0, 3.0, 8.0])
    x0_start = np.linspace(lx.min(), lx.max(), 7)
    if free_floor:
        grid = _positive_grid(np.unique([y_min, floor_min]), ceil_start, k_start, x0_start)
        lower = np.array([floor_min, y_min, -_LOGISTIC_MAX_K, x0_lo])
        upper = np.array([y_max, ceil_max, _LOGISTIC_MAX_K, x0_hi])
    else:
        ceil_lo = float(floor)
        ceil_hi = max(ceil_max, ceil_lo + span)
        grid = _positive_grid(np.clip(ceil_start, ceil_lo, ceil_hi), k_start, x0_start)
        lower = np.array([ceil_lo, -_LOGISTIC_MAX_K, x0_lo])
        upper = np.array([ceil_hi, _LOGISTIC_MAX_K, x0_hi])
    return _Problem(
        law=get_law("logistic"),
        kernel=_logistic_free_kernel if free_floor else _logistic_fixed_kernel,
        data=(lx[None, :],) if free_floor else (lx[None, :], np.full((1, 1), float(floor))),
        target=y.astype(float),
        grid=grid,
        lower=lower,
        upper=upper,
        robust=False,
        to_natural=to_natural,
        fixed=() if free_floor else ("floor",),
        free=("floor", "ceil", "k", "x0") if free_floor else ("ceil", "k", "x0"),
    )


# ----------------------------------------------------------------------------------------- optimisers


def _grid_losses(problem: _Problem, weights: np.ndarray) -> np.ndarray:
    """Objective of every grid start under each weight vector: (R, S) for weights (R, n): a matrix product."""
    pred, _ = problem.model(problem.grid, False)
    with np.errstate(invalid="ignore", over="ignore"):
        per_point = _rho(problem.target - pred, problem.robust)  # (S, n)
    per_point = np.where(np.isfinite(per_point), per_point, np.inf)
    finite = np.isfinite(per_point).all(axis=1)
    losses = weights @ np.where(finite[:, None], per_point, 0.0).T
    losses[:, ~finite] = np.inf
    return losses


def _polish(problem: _Problem, start: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """One scipy refinement from ``start``: L-BFGS-B (Huber objective) or bounded least_squares (logistic).

    scipy is imported here, on the first polish, not with the module: the interface process reads fit results
    (and the hold-out rule) from this module and must not load scipy (seconds of import holding the GIL).
    """
    from scipy.optimize import least_squares, minimize

    target = problem.target
    if problem.robust:

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            pred, jac = problem.model(theta[None, :], True)
            r = target - pred[0]
            return float(_rho(r, True).sum()), -np.array([_psi(r, True) @ column[0] for column in jac])

        res = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(problem.lower, problem.upper, strict=True)),
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
        )
        # a line search that cannot improve a point with ~0 projected gradient (a perfect fit) converged too
        grad = np.where((res.x <= problem.lower) & (res.jac > 0), 0.0, res.jac)
        grad = np.where((res.x >= problem.upper) & (grad < 0), 0.0, grad)
        stationary = bool(np.max(np.abs(grad)) <= 1e-6 * (1.0 + abs(res.fun)))
        return np.asarray(res.x, dtype=float), float(res.fun), bool(res.success) or stationary

    def residual(theta: np.ndarray) -> np.ndarray:
        return problem.model(theta[None, :], False)[0][0] - target

    def jacobian(theta: np.ndarray) -> np.ndarray:
        return np.stack([column[0] for column in problem.model(theta[None, :], True)[1]], axis=1)

    res = least_squares(
        residual,
        start,
        jac=jacobian,
        bounds=(problem.lower, problem.upper),
        method="trf",
        x_scale="jac",
    )
    return np.asarray(res.x, dtype=float), float(res.cost), bool(res.status > 0)


def _solve_symmetric(h: list[list[np.ndarray]], g: list[np.ndarray]) -> np.ndarray:
    """Solve H s = g for a batch of small symmetric positive-definite systems by an unrolled Cholesky.

    ``h[i][j]`` (j <= i) and ``g[i]`` are (K,) arrays: lower triangle and right-hand side; returns s (K, p).
    Unrolled over p <= 5 with whole-batch vector operations: on hundreds of 3x3 systems this is several times
    faster than ``np.linalg.solve`` on a stacked array. A system that is not positive definite gives NaN.
    """
    p = len(g)
    chol: list[list[np.ndarray]] = [[] for _ in range(p)]
    for i in range(p):
        for j in range(i + 1):
            value = h[i][j]
            for m in range(j):
                value = value - chol[i][m] * chol[j][m]
            chol[i].append(np.sqrt(value) if i == j else value / chol[j][j])
    forward: list[np.ndarray] = []
    for i in range(p):
        value = g[i]
        for m in range(i):
            value = value - chol[i][m] * forward[m]
        forward.append(value / chol[i][i])
    solution: list[np.ndarray] = [forward[0]] * p
    for i in reversed(range(p)):
        value = forward[i]
        for m in range(i + 1, p):
            value = value - chol[m][i] * solution[m]
        solution[i] = value / chol[i][i]
    return np.stack(solution, axis=1)


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum_j a_ij b_ij per row: one pass (a product then ``sum(axis=1)`` over short rows is ~4x slower)."""
    return np.einsum("ij,ij->i", a, b)


def _refine_batched(
    problem: _Problem,
    starts: np.ndarray,
    weights: np.ndarray,
    max_iter: int | np.ndarray = _BATCH_MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refine many (start, weights) problems on one fit's points at once; see ``_refine_rows``."""
    k = len(starts)
    return _refine_rows(
        problem.kernel,
        problem.robust,
        np.broadcast_to(problem.target, (k, len(problem.target))),
        tuple(np.broadcast_to(column, (k, column.shape[1])) for column in problem.data),
        np.broadcast_to(problem.lower, (k, len(problem.lower))),
        np.broadcast_to(problem.upper, (k, len(problem.upper))),
        starts,
        weights,
        max_iter,
    )


def _refine_rows(
    kernel: Kernel,
    robust: bool,
    target: np.ndarray,
    data: tuple[np.ndarray, ...],
    lower: np.ndarray,
    upper: np.ndarray,
    starts: np.ndarray,
    weights: np.ndarray,
    max_iter: int | np.ndarray = _BATCH_MAX_ITER,
    settle: bool | np.ndarray = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refine many (start, weights) problems at once by damped reweighted Gauss-Newton.

    Every argument has one row per problem: target (K, n), each data column (K, n) or (K, 1), bounds (K, p),
    starts (K, p), weights (K, n); so rows may come from different fits of the same kernel (points padded to a
    common n with weight 0). Returns theta (K, p), objective (K,) and converged (K,).

    Each problem minimises sum_i w_i rho(r_i). A step solves (J'WJ + lam diag(J'WJ)) s = J'W r with the IRLS
    weights of the loss, is projected onto the bounds and is kept only if the true objective falls (then lam
    shrinks, else it grows). A problem converges when a kept step improves it by less than 1e-10 (relative),
    when a rejected step promised less than 1e-12 (relative: nothing left to gain at machine precision, or the
    bounds block every descent direction) or when no step improves it any more (lam explodes); a problem
    marked in ``settle`` (one flag, or one per problem) also converges once its fit is perfect (objective at
    most that of a 1e-6 residual at every point): an exact power law fitted by the saturating law otherwise
    crawls toward E = 0 with ~1% gains per step until ``max_iter``. One still moving after ``max_iter`` steps
    (one limit, or one per problem) has not converged. Finished problems leave the working set, so the late
    iterations only pay for the few still moving.
    """
    theta_out = np.clip(starts.astype(float), lower, upper)
    p = theta_out.shape[1]
    obj_out = np.full(len(theta_out), np.inf)
    converged = np.zeros(len(theta_out), dtype=bool)

    with np.errstate(all="ignore"):
        pred, jac = kernel(theta_out, data, True)
        resid = target - pred
        obj = _row_dot(weights, _rho(resid, robust))
        rows = np.flatnonzero(np.isfinite(obj))  # which input problem each working row is
        theta, obj, resid, w = theta_out[rows], obj[rows], resid[rows], weights[rows]
        jac = [column[rows] for column in jac]
        target, lower, upper = target[rows], lower[rows], upper[rows]
        data = tuple(column[rows] for column in data)
        obj_out[rows] = obj
        lam = np.full(len(rows), 1e-3)
        limit = np.broadcast_to(np.asarray(max_iter), (len(theta_out),))[rows]
        floor = 1e-9 * w.sum(axis=1)  # a fit perfect to ~1e-6 in every residual counts as done
        settle_rows = np.broadcast_to(np.asarray(settle), (len(theta_out),))[rows]
        perfect_obj = np.where(settle_rows, w.sum(axis=1) * _rho(np.array(_PERFECT_RESIDUAL), robust), -1.0)
        active = np.ones(len(rows), dtype=bool)  # finished rows wait in the set until it is worth compacting
        for iteration in range(int(limit.max(initial=0))):
            if not active.any():
                break
            w_irls = w * _irls_weight(resid, robust) if robust else w
            jw = [column * w_irls for column in jac]
            h = [[_row_dot(jw[i], jac[j]) for j in range(i + 1)] for i in range(p)]
            g = [_row_dot(column, resid) for column in jw]
            diag = [h[i][i] for i in range(p)]
            tiny = 1e-12 * (1.0 + np.maximum.reduce(diag)) if p > 1 else 1e-12 * (1.0 + diag[0])
            for i in range(p):
                h[i][i] = diag[i] * (1.0 + lam) + tiny
            # a parameter at a bound that descent pushes outward is held there: solving for the others alone
            # keeps Gauss-Newton fast along the bound, where the clipped full step would crawl
            held = [
                ((theta[:, i] <= lower[:, i]) & (g[i] < 0)) | ((theta[:, i] >= upper[:, i]) & (g[i] > 0))
                for i in range(p)
            ]
            for i in range(p):
                if held[i].any():
                    g[i] = np.where(held[i], 0.0, g[i])
                    h[i][i] = np.where(held[i], 1.0, h[i][i])
                    for j in range(p):
                        if j != i:
                            lo, hi = max(i, j), min(i, j)
                            h[lo][hi] = np.where(held[i], 0.0, h[lo][hi])
            bad = ~np.isfinite(sum(diag) + sum(g))
            step = _solve_symmetric(h, g)
            cand = np.clip(theta + step, lower, upper)
            cand_pred, cand_jac = kernel(cand, data, True)
            cand_resid = target - cand_pred
            cand_obj = _row_dot(w, _rho(cand_resid, robust))
            better = cand_obj < obj  # False for NaN
            scale = np.maximum(np.abs(obj), floor)
            gain = (obj - cand_obj) / scale
            promised = sum(gi * (ci - ti) for gi, ci, ti in zip(g, cand.T, theta.T, strict=True)) / scale
            if better.any():
                theta[better], obj[better] = cand[better], cand_obj[better]
                resid, jac = _take_better(better, [resid, *jac], [cand_resid, *cand_jac])
            lam = np.where(better, lam / 3.0, lam * 5.0)
            # |promise| tiny: at a stationary point (or boxed in by the bounds); a NaN promise (singular
            # system) or a negative one (the projection onto the bounds turned the step uphill) lets lam grow
            stalled = ~better & (np.abs(promised) < 1e-12)
            perfect = obj <= perfect_obj  # every residual within ~1e-6: further steps only polish rounding
            finished_ok = ((better & (gain < 1e-10)) | stalled | perfect | (lam > 1e10)) & ~bad
            done = (finished_ok | bad | (limit <= iteration + 1)) & active
            if done.any():
                finished = rows[done]
                theta_out[finished], obj_out[finished] = theta[done], obj[done]
                converged[finished] = finished_ok[done]
                active &= ~done
            if (~active).sum() * 8 > len(active):  # copying the working set costs about one step
                keep = active
                active = active[keep]
                rows, theta, obj, resid, w = rows[keep], theta[keep], obj[keep], resid[keep], w[keep]
                lam, floor, limit = lam[keep], floor[keep], limit[keep]
                perfect_obj = perfect_obj[keep]
                jac = [column[keep] for column in jac]
                target, lower, upper = target[keep], lower[keep], upper[keep]
                data = tuple(column[keep] for column in data)
        theta_out[rows[active]], obj_out[rows[active]] = theta[active], obj[active]
    return theta_out, obj_out, converged


def _take_better(
    better: np.ndarray, current: list[np.ndarray], candidate: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per row, the candidate arrays where ``better`` else the current ones, copying only the minority of
    rows (most steps are usually accepted: the candidate arrays are kept and the rejected rows restored)."""
    if better.sum() * 2 >= len(better):
        worse = ~better
        for old, new in zip(current, candidate, strict=True):
            new[worse] = old[worse]
        merged = candidate
    else:
        for old, new in zip(current, candidate, strict=True):
            old[better] = new[better]
        merged = current
    return merged[0], list(merged[1:])


# --------------------------------------------------------------------------------------------------- fitting


def _multiplicities(rng: np.random.Generator, n: int, replicates: int) -> np.ndarray:
    """How many times each point is drawn in each bootstrap replicate: (B, n) integer counts summing to n."""
    draws = rng.integers(0, n, size=(replicates, n)) + n * np.arange(replicates)[:, None]
    return np.bincount(draws.ravel(), minlength=replicates * n).reshape(replicates, n).astype(float)


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
    counts = _multiplicities(np.random.default_rng(seed), len(problem.target), bootstrap)
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

    problem: _Problem
    starts: np.ndarray  # (K, p): the point estimate's best grid starts first, then the replicates'
    weights: np.ndarray  # (K, n)
    limits: np.ndarray  # (K,) iteration limits
    settle: np.ndarray  # (K,) rows that may stop once their fit is perfect (see ``_refine_rows``)
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
    refined = _refine_pending([prepared[i] for i in waiting])
    for i, (thetas, values, converged) in zip(waiting, refined, strict=True):
        prepared[i] = _finish(prepared[i], thetas, values, converged)
    return prepared


_BATCH_ROWS = 1 << 16  # rows refined together: bounds the batch's memory (~n x 8 bytes x 40 arrays per row)


def _refine_pending(
    pending: list[_Pending],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Refine the rows of many fits: fits sharing a kernel are stacked (points padded to a common n with
    weight 0, each row carrying its own target, data and bounds) and refined in one ``_refine_rows`` call."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(pending)
    by_kernel: dict[tuple[Kernel, bool], list[int]] = {}
    for i, item in enumerate(pending):
        by_kernel.setdefault((item.problem.kernel, item.problem.robust), []).append(i)
    for (kernel, robust), members in by_kernel.items():
        batch: list[int] = []
        size = 0
        for position, i in enumerate(members):
            batch.append(i)
            size += len(pending[i].starts)
            if size >= _BATCH_ROWS or position == len(members) - 1:
                stacked = _refine_stacked(kernel, robust, [pending[j] for j in batch])
                for j, result in zip(batch, stacked, strict=True):
                    out[j] = result
                batch, size = [], 0
    return out  # type: ignore[return-value]


def _refine_stacked(
    kernel: Kernel, robust: bool, pending: list[_Pending]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One ``_refine_rows`` call over the rows of several fits of one kernel, split back per fit."""
    n_max = max(len(item.problem.target) for item in pending)

    def padded(row: np.ndarray, k: int) -> np.ndarray:
        """(1, n) or (n,) repeated over k rows and padded with its last value to n_max (or (1, 1) kept)."""
        row = np.asarray(row).reshape(1, -1)
        if row.shape[1] > 1 or n_max == 1:
            row = np.pad(row, ((0, 0), (0, n_max - row.shape[1])), mode="edge")
        return np.broadcast_to(row, (k, row.shape[1]))

    sizes = [len(item.starts) for item in pending]
    n_data = len(pending[0].problem.data)
    p = pending[0].starts.shape[1]
    target = np.concatenate([padded(item.problem.target, k) for item, k in zip(pending, sizes, strict=True)])
    data = tuple(
        np.concatenate([padded(item.problem.data[c], k) for item, k in zip(pending, sizes, strict=True)])
        for c in range(n_data)
    )
    lower = np.concatenate([np.broadcast_to(item.problem.lower, (len(item.starts), p)) for item in pending])
    upper = np.concatenate([np.broadcast_to(item.problem.upper, (len(item.starts), p)) for item in pending])
    weights = np.concatenate(
        [np.pad(item.weights, ((0, 0), (0, n_max - item.weights.shape[1]))) for item in pending]
    )
    starts = np.concatenate([item.starts for item in pending])
    limits = np.concatenate([item.limits for item in pending])
    settle = np.concatenate([item.settle for item in pending])
    thetas, values, converged = _refine_compacted(
        kernel, robust, target, data, lower, upper, starts, weights, limits, settle
    )
    bounds = np.cumsum([0, *sizes])
    return [(thetas[lo:hi], values[lo:hi], converged[lo:hi]) for lo, hi in itertools.pairwise(bounds)]


_CHUNK_ROWS = 8192  # rows per _refine_rows call after compaction (smaller chunks: tighter widths)
_THREADS = 2  # chunks refined at once


def _refine_compacted(
    kernel: Kernel,
    robust: bool,
    target: np.ndarray,
    data: tuple[np.ndarray, ...],
    lower: np.ndarray,
    upper: np.ndarray,
    starts: np.ndarray,
    weights: np.ndarray,
    limits: np.ndarray,
    settle: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_refine_rows`` without the work on points of weight 0 (a bootstrap replicate misses ~37% of its
    points, padding adds more): each row's drawn points are moved to its front (the data are per row, so
    any order is fine), rows are sorted by how many they have and refined in chunks cut to that width."""
    n = weights.shape[1]
    drawn_first = np.argsort(weights == 0, axis=1, kind="stable")
    drawn = (weights != 0).sum(axis=1)
    target = np.take_along_axis(target, drawn_first, axis=1)
    weights = np.take_along_axis(weights, drawn_first, axis=1)
    data = tuple(
        np.take_along_axis(column, drawn_first, axis=1) if column.shape[1] == n else column for column in data
    )
    by_width = np.argsort(drawn, kind="stable")
    thetas = np.empty(starts.shape)
    values = np.empty(len(starts))
    converged = np.empty(len(starts), dtype=bool)

    def refine_chunk(lo: int) -> None:
        rows = by_width[lo : lo + _CHUNK_ROWS]
        width = max(int(drawn[rows].max()), 1)
        with np.errstate(all="ignore"):  # error state is per thread
            thetas[rows], values[rows], converged[rows] = _refine_rows(
                kernel,
                robust,
                target[rows, :width],
                tuple(column[rows, :width] for column in data),
                lower[rows],
                upper[rows],
                starts[rows],
                weights[rows, :width],
                limits[rows],
                settle[rows],
            )

    chunks = range(0, len(starts), _CHUNK_ROWS)
    if len(chunks) < 2:
        for lo in chunks:
            refine_chunk(lo)
    else:  # chunks are independent and numpy releases the GIL in its loops: both cores refine
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(refine_chunk, chunks))
    return thetas, values, converged


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
        problem=problem,
        starts=starts,
        weights=weights,
        limits=limits,
        settle=settle,
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
    problem, reps, notes, refuse = pending.problem, pending.reps, pending.notes, pending.refuse
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


# --------------------------------------------------------------------------------------------------- backtest


@dataclass(frozen=True, eq=False)
class Backtest:
    """A law fitted on all but the ``holdout`` largest scales, judged on the held-out points.

    Errors are in the metric's units: ``abs_error = |predicted - y|``, ``rel_error = abs_error / |y|``.
    Baselines: the last value (mean y at the largest training scale) and chance (when known), each predicting
    every held-out point. Every held-out prediction is marked in ``extrapolated`` when it lies beyond the
    fitted range.
    """

    fit: FitResult
    holdout: int
    x: np.ndarray
    y: np.ndarray
    predicted: np.ndarray
    abs_error: np.ndarray
    rel_error: np.ndarray
    extrapolated: np.ndarray
    mae: float
    last_value: float
    mae_last_value: float
    chance: float | None = None
    mae_chance: float | None = None
    x2: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.fit.ok

    @property
    def mean_rel_error(self) -> float:
        finite = self.rel_error[np.isfinite(self.rel_error)]
        return float(finite.mean()) if finite.size else float("nan")


def backtest(
    x: np.ndarray,
    y: np.ndarray,
    law: str,
    holdout: int,
    *,
    x2: np.ndarray | None = None,
    floor: float | None = None,
    chance: float | None = None,
    largest: bool = True,
    bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    x_name: str = "x",
    x2_name: str | None = None,
) -> Backtest:
    """Fit on all points except those at the ``holdout`` largest distinct x values and predict those.

    ``largest=False`` holds out the smallest x instead (the most capable models on a loss axis).
    """
    request, held = _holdout_split(
        x,
        y,
        law,
        holdout,
        x2,
        floor,
        largest,
        _FitRequest(x, y, law, x2, floor, bootstrap, ci, seed, x_name, x2_name),
    )
    return _judge_backtest(_fit_many([request])[0], held, chance)


@dataclass(frozen=True, eq=False)
class _HeldOut:
    """The held-out points of a backtest (sorted by x) and the last-value baseline of its training points."""

    holdout: int
    x: np.ndarray
    y: np.ndarray
    x2: np.ndarray | None
    last_value: float


def _queue_fit(
    requests: list[_FitRequest], request: _FitRequest, holdout: int, largest: bool
) -> _HeldOut | None:
    """Queue ``request`` (after its backtest training fit when ``holdout`` > 0); the held-out points."""
    held = None
    if holdout > 0:
        training = replace(request, bootstrap=0, ci=0.95, seed=0)
        bt_request, held = _holdout_split(
            request.x, request.y, request.law, holdout, request.x2, request.floor, largest, training
        )
        requests.append(bt_request)
    requests.append(request)
    return held


def _holdout_split(
    x: np.ndarray,
    y: np.ndarray,
    law: str,
    holdout: int,
    x2: np.ndarray | None,
    floor: float | None,
    largest: bool,
    template: _FitRequest,
) -> tuple[_FitRequest, _HeldOut]:
    """The training fit's request (``template`` restricted to the training points) and the held-out points."""
    if holdout < 1:
        raise InputError(f"--holdout must be at least 1 to backtest, got {holdout}")
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    x2 = None if x2 is None else np.asarray(x2, dtype=float).ravel()
    present = np.isfinite(x) & np.isfinite(y)
    scales = np.unique(x[present])
    held_scales = scales[-holdout:] if largest else scales[:holdout]
    held = present & np.isin(x, held_scales)
    train = present & ~held
    request = replace(
        template, x=x[train], y=y[train], x2=None if x2 is None else x2[train], law=law, floor=floor
    )
    order = np.argsort(x[held], kind="stable")
    hx, hy = x[held][order], y[held][order]
    hx2 = None if x2 is None else x2[held][order]
    train_x = x[train]
    last_value = float("nan")  # no training points (holdout >= the number of scales): the fit refuses
    if train.any():
        edge = train_x.max() if largest else train_x.min()
        last_value = float(y[train][train_x == edge].mean())
    return request, _HeldOut(holdout, hx, hy, hx2, last_value)


def _judge_backtest(fit: FitResult, held: _HeldOut, chance: float | None) -> Backtest:
    """A backtest from the training fit: predictions, errors and baselines on the held-out points."""
    hx, hy, hx2, last_value = held.x, held.y, held.x2, held.last_value
    predicted = fit.predict(hx, hx2)
    abs_error = np.abs(predicted - hy)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_error = np.where(hy != 0, abs_error / np.abs(hy), np.nan)
    mae = float(abs_error.mean()) if hx.size else float("nan")
    return Backtest(
        fit=fit,
        holdout=held.holdout,
        x=hx,
        y=hy,
        x2=hx2,
        predicted=predicted,
        abs_error=abs_error,
        rel_error=rel_error,
        extrapolated=fit.extrapolates(hx, hx2) if fit.ok else np.ones(hx.shape, dtype=bool),
        mae=mae,
        last_value=last_value,
        mae_last_value=float(np.abs(hy - last_value).mean()) if hx.size else float("nan"),
        chance=chance,
        mae_chance=None if chance is None or not hx.size else float(np.abs(hy - chance).mean()),
    )


# --------------------------------------------------------------------------------------------------- stages


@dataclass(frozen=True, eq=False)
class FitSet:
    """The fits of a PointSet: a display frame plus FitResults (and Backtests) by (family, task, metric).

    Frame columns: family, task, metric, law, x, x2, n_points, params (list of {name, value}), ci (list of
    {name, lo, hi}), r2, r2_space, ok, message, summary, holdout, backtest_mae, backtest_mae_last_value,
    backtest_mae_chance, backtest_mean_rel_error. Params come from the fit on all points; backtest fields from
    a separate fit on the training points (``backtests[key].fit``).
    """

    frame: pl.DataFrame
    results: dict[tuple[str, str, str], FitResult] = field(default_factory=dict)
    backtests: dict[tuple[str, str, str], Backtest] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_records(self) -> list[dict]:
        """JSON-ready dicts: family, task, metric, law, x, params {name: value}, ci {name: [lo, hi]}, r2..."""
        records = []
        for (family, task, metric), fit in self.results.items():
            record = {
                "family": family,
                "task": task,
                "metric": metric,
                "law": fit.law,
                "x": fit.x,
                "params": dict(fit.params),
                "ci": {name: [lo, hi] for name, (lo, hi) in fit.ci.items()},
                "r2": fit.r2,
                "r2_space": fit.r2_space,
                "n_points": fit.n_points,
                "ok": fit.ok,
                "message": fit.message,
            }
            if fit.x2 is not None:
                record["x2"] = fit.x2
            bt = self.backtests.get((family, task, metric))
            if bt is not None:
                record["backtest"] = {
                    "holdout": bt.holdout,
                    "mae": _finite_or_none(bt.mae),
                    "mae_last_value": _finite_or_none(bt.mae_last_value),
                    "mae_chance": bt.mae_chance,
                    "points": [
                        {
                            "x": float(a),
                            "y": float(b),
                            "predicted": _finite_or_none(c),
                            "extrapolated": bool(d),
                        }
                        for a, b, c, d in zip(bt.x, bt.y, bt.predicted, bt.extrapolated, strict=True)
                    ],
                }
            records.append(record)
        return json.loads(json.dumps(records, default=float))


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


_FRAME_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "law": pl.Utf8(),
    "x": pl.Utf8(),
    "x2": pl.Utf8(),
    "n_points": pl.Int64(),
    "params": pl.List(pl.Struct({"name": pl.Utf8(), "value": pl.Float64()})),
    "ci": pl.List(pl.Struct({"name": pl.Utf8(), "lo": pl.Float64(), "hi": pl.Float64()})),
    "r2": pl.Float64(),
    "r2_space": pl.Utf8(),
    "ok": pl.Boolean(),
    "message": pl.Utf8(),
    "summary": pl.Utf8(),
    "holdout": pl.Int64(),
    "backtest_mae": pl.Float64(),
    "backtest_mae_last_value": pl.Float64(),
    "backtest_mae_chance": pl.Float64(),
    "backtest_mean_rel_error": pl.Float64(),
}


def _frame_row(key: tuple[str, str, str], fit: FitResult, bt: Backtest | None) -> dict:
    return {
        S.FAMILY: key[0],
        S.TASK: key[1],
        S.METRIC: key[2],
        "law": fit.law,
        "x": fit.x,
        "x2": fit.x2,
        "n_points": fit.n_points,
        "params": [{"name": k, "value": v} for k, v in fit.params.items()],
        "ci": [{"name": k, "lo": lo, "hi": hi} for k, (lo, hi) in fit.ci.items()],
        "r2": fit.r2,
        "r2_space": fit.r2_space,
        "ok": fit.ok,
        "message": fit.message,
        "summary": fit.summary(),
        "holdout": None if bt is None else bt.holdout,
        "backtest_mae": None if bt is None else _finite_or_none(bt.mae),
        "backtest_mae_last_value": None if bt is None else _finite_or_none(bt.mae_last_value),
        "backtest_mae_chance": None if bt is None else bt.mae_chance,
        "backtest_mean_rel_error": None if bt is None else _finite_or_none(bt.mean_rel_error),
    }


def _logistic_floor(values: np.ndarray, chance: float | None, direction: int) -> float | None:
    """The fixed logistic floor: chance for a higher-is-better metric; 0 for a rate with no stated chance."""
    if direction < 0:
        return None
    if chance is not None:
        return float(chance)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        return 0.0
    return None


def fit_points(points: S.PointSet, settings: FitSettings | None = None, *, y: str | None = None) -> FitSet:
    """Fit one law per family x task x metric (families never pooled) against ``settings.x``.

    The law is ``settings.law`` or the metric's default (``analysis.laws.default_law``); the joint law always
    uses params as x and tokens as x2. The logistic floor is fixed at the group's chance level (or 0 for a
    rate without one) for higher-is-better metrics and free otherwise. Rows with no x value are skipped and
    counted in the fit's message and in ``notes``. ``settings.holdout`` > 0 adds a backtest (on a loss axis
    the held-out points are the smallest losses). ``y`` names another column to fit instead of ``value`` (e.g.
    ``"loss"``): that is a per-model quantity, so it is fitted per family via ``fit_table``.
    """
    settings = settings or FitSettings()
    if y is not None and y != S.VALUE:
        per_model = points.frame.unique(subset=[S.FAMILY, S.MODEL], keep="first", maintain_order=True)
        return fit_table(per_model, y=y, law=settings.law, settings=settings)
    frame = points.frame
    law_choice = None if settings.law is None else get_law(settings.law).name
    x_col, x2_col = settings.x, None
    if law_choice == "joint":
        x_col, x2_col = S.PARAMS, S.TOKENS
    for col in (x_col, x2_col):
        if col is not None and col not in frame.columns:
            raise InputError(f"points have no {col!r} column: choose --x from {', '.join(S.SCALES)}")
    results: dict[tuple[str, str, str], FitResult] = {}
    backtests: dict[tuple[str, str, str], Backtest] = {}
    rows = []
    skipped_total, skipped_groups = 0, 0
    # every fit (and backtest fit) is set up first and all are refined together, in shared batches
    requests: list[_FitRequest] = []
    pending: list[tuple[tuple[str, str, str], str, _HeldOut | None, float | None]] = []
    keys = [S.FAMILY, S.TASK, S.METRIC]
    for group in frame.sort([*keys, x_col], nulls_last=True).partition_by(keys, maintain_order=True):
        key = (group[S.FAMILY][0], group[S.TASK][0], group[S.METRIC][0])
        metric = key[2]
        spec = points.specs.get(metric)
        direction = (
            int(group["direction"][0]) if "direction" in group.columns and group["direction"][0] else 0
        )
        if direction == 0 and spec is not None:
            direction = spec.direction
        law = law_choice or default_law(metric, spec)
        has_x = group[x_col].is_not_null() & group[S.VALUE].is_not_null()
        if x2_col is not None:
            has_x &= group[x2_col].is_not_null()
        skipped = int((~has_x).sum())
        used = group.filter(has_x)
        xs = used[x_col].to_numpy().astype(float)
        values = used[S.VALUE].to_numpy().astype(float)
        x2s = used[x2_col].to_numpy().astype(float) if x2_col else None
        chance = None
        if "chance" in used.columns and used["chance"].drop_nulls().len():
            chance = float(used["chance"].drop_nulls()[0])
        elif spec is not None and spec.chance is not None:
            chance = float(spec.chance)
        floor = _logistic_floor(values, chance, direction) if law == "logistic" else None
        request = _FitRequest(
            xs, values, law, x2s, floor, settings.bootstrap, settings.ci, settings.seed, x_col, x2_col
        )
        held = _queue_fit(requests, request, settings.holdout, x_col != S.LOSS)
        note = ""
        if skipped:
            skipped_total += skipped
            skipped_groups += 1
            note = (
                f"skipped {skipped} points with no {x_col}" + (f" or {x2_col}" if x2_col else "") + " value"
            )
        pending.append((key, note, held, chance))
    fitted = iter(_fit_many(requests))
    for key, note, held, chance in pending:
        bt = None if held is None else _judge_backtest(next(fitted), held, chance)
        fit = next(fitted)
        if note:
            fit = _with_note(fit, note)
        results[key] = fit
        if bt is not None:
            backtests[key] = bt
        rows.append(_frame_row(key, fit, bt))
    notes = []
    if skipped_total:
        notes.append(
            f"fits against {x_col}: skipped {skipped_total} points with no {x_col} value "
            f"in {skipped_groups} family x task x metric groups"
        )
    return FitSet(pl.DataFrame(rows, schema=_FRAME_SCHEMA), results, backtests, tuple(notes))


def _with_note(fit: FitResult, note: str) -> FitResult:
    return replace(fit, message="; ".join(m for m in (fit.message, note) if m))


def fit_table(
    frame: pl.DataFrame,
    *,
    y: str = S.LOSS,
    law: str | None = "joint",
    settings: FitSettings | None = None,
    x2: str = S.TOKENS,
    by: tuple[str, ...] | None = None,
) -> FitSet:
    """Fit a column of a table directly, e.g. an aggregate loss table (Chinchilla: loss vs params and tokens).

    One fit per ``by`` group (default: per family when the table has a family column). ``law=None`` means
    ``saturating``. x is ``settings.x``; the joint law uses params and ``x2``. Rows missing a value are
    skipped (counted in the message). Result keys are (family, ``TABLE_TASK``, y).
    """
    settings = settings or FitSettings()
    law = get_law(law or "saturating").name
    x_col = S.PARAMS if law == "joint" else settings.x
    needed = [x_col, y] + ([x2] if law == "joint" else [])
    for col in needed:
        if col not in frame.columns:
            raise InputError(f"the table has no {col!r} column, needed to fit {y} with the {law} law")
    if by is None:
        by = (S.FAMILY,) if S.FAMILY in frame.columns else ()
    groups = frame.partition_by(list(by), maintain_order=True) if by else [frame]
    results: dict[tuple[str, str, str], FitResult] = {}
    backtests: dict[tuple[str, str, str], Backtest] = {}
    rows = []
    pending: list[tuple[tuple[str, str, str], _HeldOut | None]] = []
    requests: list[_FitRequest] = []
    for group in groups:
        family = str(group[by[0]][0]) if by else S.DEFAULT_FAMILY
        key = (family, TABLE_TASK, y)
        xs = group[x_col].cast(pl.Float64).to_numpy()
        ys = group[y].cast(pl.Float64).to_numpy()
        x2s = group[x2].cast(pl.Float64).to_numpy() if law == "joint" else None
        x2_name = x2 if law == "joint" else None
        request = _FitRequest(
            xs, ys, law, x2s, None, settings.bootstrap, settings.ci, settings.seed, x_col, x2_name
        )
        held = _queue_fit(requests, request, settings.holdout, x_col != S.LOSS)
        pending.append((key, held))
    fitted = iter(_fit_many(requests))
    for key, held in pending:
        bt = None if held is None else _judge_backtest(next(fitted), held, None)
        fit = next(fitted)
        results[key] = fit
        if bt is not None:
            backtests[key] = bt
        rows.append(_frame_row(key, fit, bt))
    return FitSet(pl.DataFrame(rows, schema=_FRAME_SCHEMA), results, backtests)
