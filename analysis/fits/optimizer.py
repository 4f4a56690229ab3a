"""The optimizer: start-grid scoring, batched damped Gauss-Newton refinement, a scipy polish; it knows no law.

Search: every point of the start grid is scored at once (numpy); the ``REFINE_TOP`` best starts are refined
together by a batched damped Gauss-Newton on the same objective (reweighted for the Huber loss,
Levenberg-Marquardt damping, bounds by projection), and the best of them is polished by one scipy call
(L-BFGS-B, or least_squares for the logistic); the lower objective is kept. Why not one L-BFGS-B per start:
measured on the 240 Chinchilla points, L-BFGS-B from the 5 best starts took 1.3-2.6 s of CPU (70-270
iterations each, the Huber kink slows it), the batched refinement 0.08 s to the same optimum, and the
L-BFGS-B polish from there 8 ms.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from analysis import threads
from analysis.fits.problems import Kernel, _irls_weight, _Problem, _psi, _rho

_BATCH_MAX_ITER = 200  # Gauss-Newton steps for a point estimate (converges in ~100-200 here)
_PERFECT_RESIDUAL = 1e-6  # a fit within this at every point is done (log-space laws; point and replicates)
_GRID_CHUNK_ENTRIES = 1 << 22  # replicate rows x grid starts x points scored at once (32 MB)


def _grid_losses(
    problem: _Problem, weights: np.ndarray, targets: np.ndarray | None = None, expand: bool = True
) -> np.ndarray:
    """Objective of every grid start under each weight vector: (R, S) for weights (R, n): a matrix product.

    With ``targets`` (R, n) each row has its own target (a replicate curve): scored in chunks of rows, each
    (row, start, point) residual formed. ``expand`` (the fast path) scores a least-squares problem's rows by
    expanding the square instead (``_squared_grid_losses``): three matrix products.
    """
    pred, _ = problem.model(problem.grid, False)
    if targets is not None and not problem.robust and expand:
        return _squared_grid_losses(pred, weights, targets)
    if targets is not None:
        chunk = max(1, _GRID_CHUNK_ENTRIES // max(pred.size, 1))
        out = np.empty((len(weights), len(problem.grid)))
        for lo in range(0, len(weights), chunk):
            with np.errstate(invalid="ignore", over="ignore"):
                per_point = _rho(targets[lo : lo + chunk, None, :] - pred[None, :, :], problem.robust)
            per_point = np.where(np.isfinite(per_point), per_point, np.inf)
            out[lo : lo + chunk] = (weights[lo : lo + chunk, None, :] * per_point).sum(axis=2)
        return np.where(np.isfinite(out), out, np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        per_point = _rho(problem.target - pred, problem.robust)  # (S, n)
    per_point = np.where(np.isfinite(per_point), per_point, np.inf)
    finite = np.isfinite(per_point).all(axis=1)
    losses = weights @ np.where(finite[:, None], per_point, 0.0).T
    losses[:, ~finite] = np.inf
    return losses


def _squared_grid_losses(pred: np.ndarray, weights: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """sum_i w_i (t_i - p_i)^2 / 2 of every row (target t, weights w) and grid start (predictions p,
    (S, n)) as (w t^2) 1' - 2 (w t) p' + w (p^2)': 3 matrix products instead of R x S x n residuals (the
    aggregate table's replicates scored 200 x 336 x n residuals per fit, 40% of its fit stage). The same
    values up to rounding of order 1e-16 x sum w t^2 (tests/equivalence/test_fit_speed.py): only the choice
    of starts among near-exact ties could differ, and tied starts refine to the same optimum. A start whose
    prediction is not finite somewhere scores inf, as in the plain scoring."""
    finite = np.isfinite(pred).all(axis=1)
    p = np.where(finite[:, None], pred, 0.0)
    wt = weights * targets
    with np.errstate(invalid="ignore", over="ignore"):
        out = (wt * targets).sum(axis=1)[:, None] - 2.0 * (wt @ p.T) + weights @ (p * p).T
    out = np.maximum(0.5 * out, 0.0)  # rounding may leave a perfect start a hair below 0
    out[:, ~finite] = np.inf
    return np.where(np.isfinite(out), out, np.inf)


def _polish(
    problem: _Problem,
    start: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    target: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """One scipy refinement from ``start``: L-BFGS-B (Huber objective) or bounded least_squares (logistic),
    within the problem's bounds or the ``lower``/``upper`` given (equal bounds pin a parameter: only the
    log-space laws pin one, and L-BFGS-B takes them), on the problem's points or with a replicate's
    ``weights`` (multiplicities) and ``target``.

    scipy is imported here, on the first polish, not with the module: the interface process reads fit results
    (and the hold-out rule) from this module and must not load scipy (seconds of import holding the GIL).
    """
    from scipy.optimize import least_squares, minimize

    lower = problem.lower if lower is None else lower
    upper = problem.upper if upper is None else upper
    target = problem.target if target is None else target
    w = np.ones(len(target)) if weights is None else np.asarray(weights, dtype=float)
    if problem.robust:

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            pred, jac = problem.model(theta[None, :], True)
            r = target - pred[0]
            psi = w * _psi(r, True)
            return float(w @ _rho(r, True)), -np.array([psi @ column[0] for column in jac])

        res = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lower, upper, strict=True)),
            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
        )
        # a line search that cannot improve a point with ~0 projected gradient (a perfect fit) converged too
        grad = np.where((res.x <= lower) & (res.jac > 0), 0.0, res.jac)
        grad = np.where((res.x >= upper) & (grad < 0), 0.0, grad)
        stationary = bool(np.max(np.abs(grad)) <= 1e-6 * (1.0 + abs(res.fun)))
        return np.asarray(res.x, dtype=float), float(res.fun), bool(res.success) or stationary

    root_w = np.sqrt(w)

    def residual(theta: np.ndarray) -> np.ndarray:
        return root_w * (problem.model(theta[None, :], False)[0][0] - target)

    def jacobian(theta: np.ndarray) -> np.ndarray:
        columns = problem.model(theta[None, :], True)[1]
        return root_w[:, None] * np.stack([column[0] for column in columns], axis=1)

    res = least_squares(
        residual,
        start,
        jac=jacobian,
        bounds=(lower, upper),
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


@dataclass(frozen=True, eq=False)
class _Batch:
    """Problems of one kernel refined together, one row each: ``target`` (K, n), each ``data`` column (K, n)
    or (K, 1), bounds and ``starts`` (K, p), ``weights`` (K, n), iteration ``limits`` (K,) and ``settle``
    flags (K,). Rows may come from different fits (points padded to a common n with weight 0)."""

    kernel: Kernel
    robust: bool
    target: np.ndarray
    data: tuple[np.ndarray, ...]
    lower: np.ndarray
    upper: np.ndarray
    starts: np.ndarray
    weights: np.ndarray
    limits: np.ndarray
    settle: np.ndarray
    handover: int = 0  # stop once at most this many rows are still moving (they stay not converged)

    def take(self, rows: np.ndarray, width: int) -> _Batch:
        """The given rows, on their first ``width`` points."""
        return replace(
            self,
            target=self.target[rows, :width],
            data=tuple(column[rows, :width] for column in self.data),
            lower=self.lower[rows],
            upper=self.upper[rows],
            starts=self.starts[rows],
            weights=self.weights[rows, :width],
            limits=self.limits[rows],
            settle=self.settle[rows],
        )


def _refine_rows(batch: _Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refine a batch of (start, weights) problems at once by damped reweighted Gauss-Newton.

    Returns theta (K, p), objective (K,) and converged (K,), one row per problem of the batch.

    Each problem minimises sum_i w_i rho(r_i). A step solves (J'WJ + lam diag(J'WJ)) s = J'W r with the IRLS
    weights of the loss, is projected onto the bounds and is kept only if the true objective falls (then lam
    shrinks, else it grows). A problem converges when a kept step improves it by less than 1e-10 (relative),
    when a rejected step promised less than 1e-12 (relative: nothing left to gain at machine precision, or the
    bounds block every descent direction) or when no step improves it any more (lam explodes); a problem
    marked in ``settle`` also converges once its fit is perfect (objective at most that of a 1e-6 residual at
    every point): an exact power law fitted by the saturating law otherwise crawls toward E = 0 with ~1% gains
    per step until its limit. One still moving after its ``limits`` steps has not converged. Finished problems
    leave the working set, so the late iterations only pay for the few still moving.

    With ``batch.handover`` > 0 the refinement stops as soon as at most that many problems are still moving:
    they are returned where they are, not converged, for the caller to finish one by one (a step of a handful
    of rows costs what a step of hundreds does, see ``_refine_jobs``).
    """
    theta_out = np.clip(batch.starts.astype(float), batch.lower, batch.upper)
    obj_out = np.full(len(theta_out), np.inf)
    converged = np.zeros(len(theta_out), dtype=bool)

    with np.errstate(all="ignore"):
        work = _working_set(batch, theta_out)
        obj_out[work.rows] = work.obj
        for iteration in range(int(work.limit.max(initial=0))):
            if work.active.sum() <= batch.handover:  # none left, or few enough to hand over
                break
            h, g, bad = _normal_equations(work, batch.robust)
            finished_ok = _step(work, batch.kernel, batch.robust, g, _solve_symmetric(h, g)) & ~bad
            done = (finished_ok | bad | (work.limit <= iteration + 1)) & work.active
            if done.any():
                finished = work.rows[done]
                theta_out[finished], obj_out[finished] = work.theta[done], work.obj[done]
                converged[finished] = finished_ok[done]
                work.active &= ~done
            if (~work.active).sum() * 8 > len(work.active):  # copying the working set costs about one step
                work = work.only(work.active)
        still = work.rows[work.active]
        theta_out[still], obj_out[still] = work.theta[work.active], work.obj[work.active]
    return theta_out, obj_out, converged


@dataclass(eq=False)
class _WorkingSet:
    """The problems of ``_refine_rows`` still being refined, one row each, and their state.

    ``rows`` says which input problem each row is; finished rows stay (``active`` False) until compacting the
    set is worth a copy.
    """

    rows: np.ndarray
    theta: np.ndarray
    obj: np.ndarray
    resid: np.ndarray
    jac: list[np.ndarray]
    w: np.ndarray
    target: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    data: tuple[np.ndarray, ...]
    lam: np.ndarray  # Levenberg-Marquardt damping
    limit: np.ndarray  # iteration limit
    floor: np.ndarray  # the objective's scale below which relative gains are measured against it
    perfect_obj: np.ndarray  # objective of a perfect fit (settling rows), else -1
    active: np.ndarray

    def only(self, keep: np.ndarray) -> _WorkingSet:
        """The rows where ``keep`` is True."""
        return _WorkingSet(
            rows=self.rows[keep],
            theta=self.theta[keep],
            obj=self.obj[keep],
            resid=self.resid[keep],
            jac=[column[keep] for column in self.jac],
            w=self.w[keep],
            target=self.target[keep],
            lower=self.lower[keep],
            upper=self.upper[keep],
            data=tuple(column[keep] for column in self.data),
            lam=self.lam[keep],
            limit=self.limit[keep],
            floor=self.floor[keep],
            perfect_obj=self.perfect_obj[keep],
            active=self.active[keep],
        )


def _working_set(batch: _Batch, theta: np.ndarray) -> _WorkingSet:
    """The problems whose start has a finite objective, ready to refine (the others never move)."""
    robust = batch.robust
    pred, jac = batch.kernel(theta, batch.data, True)
    resid = batch.target - pred
    obj = _row_dot(batch.weights, _rho(resid, robust))
    rows = np.flatnonzero(np.isfinite(obj))  # which input problem each working row is
    w = batch.weights[rows]
    return _WorkingSet(
        rows=rows,
        theta=theta[rows],
        obj=obj[rows],
        resid=resid[rows],
        jac=[column[rows] for column in jac],
        w=w,
        target=batch.target[rows],
        lower=batch.lower[rows],
        upper=batch.upper[rows],
        data=tuple(column[rows] for column in batch.data),
        lam=np.full(len(rows), 1e-3),
        limit=batch.limits[rows],
        floor=1e-9 * w.sum(axis=1),  # a fit perfect to ~1e-6 in every residual counts as done
        perfect_obj=np.where(
            batch.settle[rows], w.sum(axis=1) * _rho(np.array(_PERFECT_RESIDUAL), robust), -1.0
        ),
        active=np.ones(len(rows), dtype=bool),
    )


def _normal_equations(
    work: _WorkingSet, robust: bool
) -> tuple[list[list[np.ndarray]], list[np.ndarray], np.ndarray]:
    """The damped system (J'WJ + lam diag(J'WJ)) s = J'W r of every row (lower triangle of H, and g) with the
    IRLS weights of the loss and the parameters held at their bounds; and the rows whose system is not
    finite."""
    p = work.theta.shape[1]
    w_irls = work.w * _irls_weight(work.resid, robust) if robust else work.w
    jw = [column * w_irls for column in work.jac]
    h = [[_row_dot(jw[i], work.jac[j]) for j in range(i + 1)] for i in range(p)]
    g = [_row_dot(column, work.resid) for column in jw]
    diag = [h[i][i] for i in range(p)]
    tiny = 1e-12 * (1.0 + np.maximum.reduce(diag)) if p > 1 else 1e-12 * (1.0 + diag[0])
    for i in range(p):
        h[i][i] = diag[i] * (1.0 + work.lam) + tiny
    _hold_at_bounds(work, h, g)
    bad = ~np.isfinite(sum(diag) + sum(g))
    return h, g, bad


def _hold_at_bounds(work: _WorkingSet, h: list[list[np.ndarray]], g: list[np.ndarray]) -> None:
    """Hold a parameter at a bound that descent pushes outward: its row and column of the system become the
    identity's and its gradient 0, so the others are solved for alone. Gauss-Newton then stays fast along the
    bound, where the clipped full step would crawl."""
    p = len(g)
    held = [
        ((work.theta[:, i] <= work.lower[:, i]) & (g[i] < 0))
        | ((work.theta[:, i] >= work.upper[:, i]) & (g[i] > 0))
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


def _step(
    work: _WorkingSet, kernel: Kernel, robust: bool, g: list[np.ndarray], step: np.ndarray
) -> np.ndarray:
    """Try ``step`` projected onto the bounds, keep it where the objective falls (shrinking lam, else growing
    it) and say which rows are done (a tiny gain, a stall, a perfect fit or an exploded lam)."""
    cand = np.clip(work.theta + step, work.lower, work.upper)
    cand_pred, cand_jac = kernel(cand, work.data, True)
    cand_resid = work.target - cand_pred
    cand_obj = _row_dot(work.w, _rho(cand_resid, robust))
    better = cand_obj < work.obj  # False for NaN
    scale = np.maximum(np.abs(work.obj), work.floor)
    gain = (work.obj - cand_obj) / scale
    promised = sum(gi * (ci - ti) for gi, ci, ti in zip(g, cand.T, work.theta.T, strict=True)) / scale
    if better.any():
        work.theta[better], work.obj[better] = cand[better], cand_obj[better]
        work.resid, work.jac = _take_better(better, [work.resid, *work.jac], [cand_resid, *cand_jac])
    work.lam = np.where(better, work.lam / 3.0, work.lam * 5.0)
    # |promise| tiny: at a stationary point (or boxed in by the bounds); a NaN promise (singular
    # system) or a negative one (the projection onto the bounds turned the step uphill) lets lam grow
    stalled = ~better & (np.abs(promised) < 1e-12)
    perfect = work.obj <= work.perfect_obj  # every residual within ~1e-6: further steps only polish rounding
    return (better & (gain < 1e-10)) | stalled | perfect | (work.lam > 1e10)


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


_CHUNK_ROWS = 8192  # rows per _refine_rows call after compaction (smaller chunks: tighter widths)
_THREADS = 2  # chunks refined at once


def _refine_compacted(batch: _Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_refine_rows`` without the work on points of weight 0 (a bootstrap replicate misses ~37% of its
    points, padding adds more): each row's drawn points are moved to its front (the data are per row, so
    any order is fine), rows are sorted by how many they have and refined in chunks cut to that width."""
    n = batch.weights.shape[1]
    missing = batch.weights == 0
    drawn = n - missing.sum(axis=1)
    if missing.any():  # item replicates of equal-sized fits draw every point: nothing to move
        drawn_first = np.argsort(missing, axis=1, kind="stable")
        batch = replace(
            batch,
            target=np.take_along_axis(batch.target, drawn_first, axis=1),
            weights=np.take_along_axis(batch.weights, drawn_first, axis=1),
            data=tuple(
                np.take_along_axis(column, drawn_first, axis=1) if column.shape[1] == n else column
                for column in batch.data
            ),
        )
    by_width = np.argsort(drawn, kind="stable")
    thetas = np.empty(batch.starts.shape)
    values = np.empty(len(batch.starts))
    converged = np.empty(len(batch.starts), dtype=bool)

    def refine_chunk(lo: int) -> None:
        rows = by_width[lo : lo + _CHUNK_ROWS]
        width = max(int(drawn[rows].max()), 1)
        with np.errstate(all="ignore"):  # error state is per thread
            thetas[rows], values[rows], converged[rows] = _refine_rows(batch.take(rows, width))

    chunks = range(0, len(batch.starts), _CHUNK_ROWS)
    if len(chunks) < 2:
        for lo in chunks:
            refine_chunk(lo)
    else:  # chunks are independent and numpy releases the GIL in its loops: both cores refine
        with threads.pool(_THREADS) as pool:
            list(pool.map(refine_chunk, chunks))
    return thetas, values, converged


@dataclass(frozen=True, eq=False)
class _Rows:
    """Rows to refine on one problem: each a start, weights on the problem's points and its own limits."""

    problem: _Problem
    starts: np.ndarray  # (K, p)
    weights: np.ndarray  # (K, n)
    limits: np.ndarray  # (K,) iteration limits
    settle: np.ndarray  # (K,) rows that may stop once their fit is perfect (see ``_refine_rows``)
    lower: np.ndarray | None = None  # (K, p) bounds of each row (None: the problem's); equal bounds pin
    upper: np.ndarray | None = None
    targets: np.ndarray | None = None  # (K, n) each row's own target (None: the problem's)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's lower and upper bounds, (K, p) each."""
        shape = self.starts.shape
        lower = np.broadcast_to(self.problem.lower, shape) if self.lower is None else self.lower
        upper = np.broadcast_to(self.problem.upper, shape) if self.upper is None else self.upper
        return lower, upper


_BATCH_ROWS = 1 << 16  # rows refined together: bounds the batch's memory (~n x 8 bytes x 40 arrays per row)


def _refine_jobs(jobs: list[_Rows], handover: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Refine the rows of many problems: problems sharing a kernel are stacked (points padded to a common n
    with weight 0, each row carrying its own target, data and bounds) and refined in one ``_refine_rows``
    call.

    ``handover`` > 0 stops each such call once at most that many of its rows are still moving; those come
    back not converged, where they are. A batch step costs about the same for 1 row as for a few dozen (its
    ~20 numpy calls, not the rows, set its cost), so a tail of a few rows moving for hundreds of steps costs
    more than finishing them one by one with scipy (``_polish``)."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(jobs)
    by_kernel: dict[tuple[Kernel, bool], list[int]] = {}
    for i, item in enumerate(jobs):
        by_kernel.setdefault((item.problem.kernel, item.problem.robust), []).append(i)
    for (kernel, robust), members in by_kernel.items():
        batch: list[int] = []
        size = 0
        for position, i in enumerate(members):
            batch.append(i)
            size += len(jobs[i].starts)
            if size >= _BATCH_ROWS or position == len(members) - 1:
                stacked = _refine_stacked(kernel, robust, [jobs[j] for j in batch], handover)
                for j, result in zip(batch, stacked, strict=True):
                    out[j] = result
                batch, size = [], 0
    return out  # type: ignore[return-value]


def _refine_stacked(
    kernel: Kernel, robust: bool, jobs: list[_Rows], handover: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One ``_refine_rows`` call over the rows of several problems of one kernel, split back per problem."""
    n_max = max(len(item.problem.target) for item in jobs)

    def padded(row: np.ndarray, k: int) -> np.ndarray:
        """(1, n) or (n,) repeated over k rows and padded with its last value to n_max (or (1, 1) kept)."""
        row = np.asarray(row).reshape(1, -1)
        if row.shape[1] > 1 or n_max == 1:
            row = np.pad(row, ((0, 0), (0, n_max - row.shape[1])), mode="edge")
        return np.broadcast_to(row, (k, row.shape[1]))

    sizes = [len(item.starts) for item in jobs]
    n_data = len(jobs[0].problem.data)
    target = np.concatenate(
        [
            padded(item.problem.target, k) if item.targets is None else _pad_rows(item.targets, n_max)
            for item, k in zip(jobs, sizes, strict=True)
        ]
    )
    data = tuple(
        np.concatenate([padded(item.problem.data[c], k) for item, k in zip(jobs, sizes, strict=True)])
        for c in range(n_data)
    )
    lower = np.concatenate([item.bounds()[0] for item in jobs])
    upper = np.concatenate([item.bounds()[1] for item in jobs])
    weights = np.concatenate(
        [np.pad(item.weights, ((0, 0), (0, n_max - item.weights.shape[1]))) for item in jobs]
    )
    starts = np.concatenate([item.starts for item in jobs])
    limits = np.concatenate([item.limits for item in jobs])
    settle = np.concatenate([item.settle for item in jobs])
    batch = _Batch(kernel, robust, target, data, lower, upper, starts, weights, limits, settle, handover)
    thetas, values, converged = _refine_compacted(batch)
    bounds = np.cumsum([0, *sizes])
    return [(thetas[lo:hi], values[lo:hi], converged[lo:hi]) for lo, hi in itertools.pairwise(bounds)]


def _pad_rows(rows: np.ndarray, width: int) -> np.ndarray:
    """(K, n) rows padded with their last value to ``width`` columns (padded points get weight 0)."""
    return np.pad(rows, ((0, 0), (0, width - rows.shape[1])), mode="edge")
