"""The fit search's shortcuts (perfect replicates settle early, ...) give the results of the full search."""

from __future__ import annotations

import numpy as np

from analysis.fits import bootstrap, optimizer, problems


def _pure_power_law_replicates(n_boot: int = 60):
    x = np.logspace(7, 11, 9)
    problem = problems._saturating_problem(x, (x / 5.66e6) ** -0.4)  # the mirage model's CE: E = 0 exactly
    return problem, bootstrap._replicates(problem, np.arange(9), n_boot, 0)


def test_perfect_replicates_settle_early_with_the_same_law():
    """An exact power law crawls toward E = 0 until the iteration cap; settling stops it once every residual
    is within 1e-6, which leaves A and alpha where the full crawl ends (to the replicates' 1e-4) and E ~0."""
    problem, reps = _pure_power_law_replicates()
    limit = optimizer._BATCH_MAX_ITER

    def refine(settle: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = len(reps.starts)
        rows = optimizer._Rows(problem, reps.starts, reps.weights, np.full(k, limit), np.full(k, settle))
        return optimizer._refine_jobs([rows])[0]

    full_theta, full_obj, full_ok = refine(settle=False)
    assert not full_ok.all()  # the crawl this shortcut is for: rows still moving at the cap
    theta, obj, ok = refine(settle=True)
    assert ok.all()
    perfect = reps.weights.sum(axis=1) * problems._rho(np.array(optimizer._PERFECT_RESIDUAL), True)
    assert (obj <= perfect).all() and (full_obj <= perfect).all()
    natural, full_natural = problem.to_natural(theta), problem.to_natural(full_theta)
    np.testing.assert_allclose(natural[:, 1:], full_natural[:, 1:], rtol=1e-4)  # A, alpha
    np.testing.assert_allclose(
        natural[:, 1:], np.broadcast_to([5.66e6**0.4, 0.4], (len(natural), 2)), rtol=1e-4
    )
    assert natural[:, 0].max() < 1e-5 * problem.target.size  # E: ~0 on losses of order 1


def test_where_the_fit_without_e_is_as_good_e_is_exactly_0_in_the_estimate_and_every_replicate():
    """The E = 0 rows make the stopping point irrelevant: an exact power law gives E = 0 exactly, and its
    CI [0, 0] contains it (the crawl left E = 7e-8 with CI [3.8e-7, 1.4e-6] before)."""
    problem, reps = _pure_power_law_replicates()
    k = len(reps.starts)
    zero_starts, zero_weights, _ = reps.zero_rows(problem)
    lower, upper = problem.pinned_at_zero(len(zero_starts))
    rows = optimizer._Rows(
        problem,
        np.concatenate([reps.starts, zero_starts]),
        np.concatenate([reps.weights, zero_weights]),
        np.full(k + len(zero_starts), optimizer._BATCH_MAX_ITER),
        np.full(k + len(zero_starts), True),
        lower=np.concatenate([np.tile(problem.lower, (k, 1)), lower]),
        upper=np.concatenate([np.tile(problem.upper, (k, 1)), upper]),
    )
    theta, obj, converged = optimizer._refine_jobs([rows])[0]
    cis, n_ok, n_bad, natural = bootstrap._replicate_cis(problem, reps, theta, obj, converged, 0.95)
    assert n_bad == 0 and n_ok == 60
    assert (natural[:, 0] == 0.0).all() and cis["E"] == (0.0, 0.0)
    np.testing.assert_allclose(natural[:, 2], 0.4, rtol=1e-5)


def test_smallest_per_row_picks_the_argpartition_set_in_order():
    rng = np.random.default_rng(4)
    values = rng.random((300, 420))
    values[:5, 7] = -np.inf
    values[10:20] = np.inf  # a replicate only one start can fit: the others are dropped before refining
    values[10:20, 3] = 0.5
    picked = bootstrap._smallest_per_row(values, 3)
    expected = np.sort(np.argpartition(values, 2, axis=1)[:, :3], axis=1)
    finite = np.isfinite(values).sum(axis=1) >= 3
    np.testing.assert_array_equal(np.sort(picked[finite], axis=1), expected[finite])
    chosen = np.take_along_axis(values, picked, axis=1)
    assert (np.diff(chosen[finite], axis=1) >= 0).all()  # smallest first
    assert (picked[10:20, 0] == 3).all() and (picked[:5, 0] == 7).all()
