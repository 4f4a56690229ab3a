"""The law problems: each law set up on its data as internal parameters, a kernel, a start grid, bounds.

The robust loss (Huber, delta = ``HUBER_DELTA``, on log residuals) is part of a problem's objective. The
problems know no optimizer: ``analysis.fits.optimizer`` minimises any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis.fits.laws import Law, get_law

HUBER_DELTA = 1e-3
_LOG_BOUND = 60.0  # bound on centred log constants: exp(+-60) covers any sane range
_MAX_EXPONENT = 10.0
_LOGISTIC_MAX_K = 30.0  # per decade of x


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
    zero_column: int | None = None  # a log-constant whose lower bound means "the constant is 0" (E)
    centre: float = 0.0  # log-space laws: the mean log y subtracted from the target (``to_target``)

    def to_target(self, y: np.ndarray) -> np.ndarray:
        """Values y (any shape) in the fitted space of this problem's target: centred log y, or y itself."""
        y = np.asarray(y, dtype=float)
        if self.law.fitted_space != "log":
            return y
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(y) - self.centre

    def pinned_at_zero(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds (rows, p) that pin ``zero_column`` at its lower bound: the law without that constant."""
        lower = np.tile(self.lower, (rows, 1))
        upper = np.tile(self.upper, (rows, 1))
        upper[:, self.zero_column] = lower[:, self.zero_column]
        return lower, upper

    def at_zero(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` rows with ``zero_column`` moved to its lower bound (where a pinned refinement starts)."""
        theta = np.array(theta, dtype=float)
        theta[:, self.zero_column] = self.lower[self.zero_column]
        return theta

    def natural(self, theta: np.ndarray, at_zero: np.ndarray | None = None) -> np.ndarray:
        """Law parameters of theta rows; rows marked ``at_zero`` get exactly 0 for the pinned constant."""
        natural = self.to_natural(theta)
        if at_zero is not None and self.zero_column is not None and at_zero.any():
            natural[at_zero, self.law.params.index(self.free[self.zero_column])] = 0.0
        return natural

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
        zero_column=0,
        centre=mu_y,
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
        zero_column=0,
        centre=mu_y,
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

    Bounds: a rate in [0, 1] keeps floor and ceil in [0, 1]; other data get ceil <= max + range, and a free
    floor >= 0 when the data are non-negative (a distance cannot fall below 0), else >= min - range. k is
    bounded by +-30 per decade, x0 to two decades beyond the data.
    """
    lx = np.log10(x)
    y_min, y_max = float(y.min()), float(y.max())
    span = max(y_max - y_min, 1e-9)
    is_rate = y_min >= 0.0 and y_max <= 1.0 and (floor is None or 0.0 <= floor <= 1.0)
    ceil_max = 1.0 if is_rate else y_max + span
    floor_min = 0.0 if y_min >= 0.0 else y_min - span
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


def _problem_for(
    law: str, x: np.ndarray, x2: np.ndarray | None, y: np.ndarray, floor: float | None
) -> _Problem:
    """The problem of a searched law (saturating, joint or logistic) on its points."""
    if law == "saturating":
        return _saturating_problem(x, y)
    if law == "joint":
        return _joint_problem(x, x2, y)
    return _logistic_problem(x, y, floor)
