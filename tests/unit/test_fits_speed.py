"""The fit search's shortcuts (perfect replicates settle early, ...) give the results of the full search."""

from __future__ import annotations

import numpy as np

from analysis import fits as F


def _pure_power_law_replicates(n_boot: int = 60):
    x = np.logspace(7, 11, 9)
    problem = F._saturating_problem(x, (x / 5.66e6) ** -0.4)  # the mirage model's CE: E = 0 exactly
    return problem, F._replicates(problem, np.arange(9), n_boot, 0)


def test_perfect_replicates_settle_early_with_the_same_law():
    """An exact power law crawls toward E = 0 until the iteration cap; settling stops it once every residual
    is within 1e-6, which leaves A and alpha where the full crawl ends (to the replicates' 1e-4) and E ~0."""
    problem, reps = _pure_power_law_replicates()
    limit = F._REPLICATE_MAX_ITER
    full_theta, full_obj, full_ok = F._refine_batched(problem, reps.starts, reps.weights, limit)
    assert not full_ok.all()  # the crawl this shortcut is for: rows still moving at the cap
    theta, obj, ok = F._refine_rows(
        problem.kernel,
        problem.robust,
        np.broadcast_to(problem.target, reps.weights.shape),
        (np.broadcast_to(problem.data[0], reps.weights.shape),),
        np.broadcast_to(problem.lower, reps.starts.shape),
        np.broadcast_to(problem.upper, reps.starts.shape),
        reps.starts,
        reps.weights,
        limit,
        settle=True,
    )
    assert ok.all()
    perfect = reps.weights.sum(axis=1) * F._rho(np.array(F._PERFECT_RESIDUAL), True)
    assert (obj <= perfect).all() and (full_obj <= perfect).all()
    natural, full_natural = problem.to_natural(theta), problem.to_natural(full_theta)
    np.testing.assert_allclose(natural[:, 1:], full_natural[:, 1:], rtol=1e-4)  # A, alpha
    np.testing.assert_allclose(
        natural[:, 1:], np.broadcast_to([5.66e6**0.4, 0.4], (len(natural), 2)), rtol=1e-4
    )
    assert natural[:, 0].max() < 1e-5 * problem.target.size  # E: ~0 on losses of order 1
