"""Binomial intervals against scipy's binomtest and the rule of three."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.resampling.intervals import exact_interval, normal_interval, wilson_interval

CASES = [(0, 10), (1, 10), (5, 10), (10, 10), (3, 500), (0, 1000), (999, 1000), (37, 120)]


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
@pytest.mark.parametrize(("method", "interval"), [("wilson", wilson_interval), ("exact", exact_interval)])
def test_matches_scipy_binomtest(method: str, interval, level: float) -> None:
    k = np.array([c[0] for c in CASES])
    n = np.array([c[1] for c in CASES])
    lo, hi = interval(k, n, level)
    for i, (ki, ni) in enumerate(CASES):
        expected = stats.binomtest(ki, ni).proportion_ci(confidence_level=level, method=method)
        assert lo[i] == pytest.approx(expected.low, abs=1e-10)
        assert hi[i] == pytest.approx(expected.high, abs=1e-10)


@pytest.mark.parametrize("n", [100, 500, 10_000])
def test_zero_successes_follow_rule_of_three(n: int) -> None:
    for interval in (wilson_interval, exact_interval):
        lo, hi = interval(0, n)
        assert lo == 0.0
        # two-sided 95%: exact gives -ln(0.025)/n = 3.69/n, Wilson z^2/(n+z^2) = 3.84/n; one-sided rule: 3/n
        assert 3.0 / n < hi < 4.0 / n
    _, hi_exact = exact_interval(0, n)
    assert hi_exact == pytest.approx(1.0 - 0.025 ** (1.0 / n), rel=1e-9)


def test_empty_and_full() -> None:
    lo, hi = wilson_interval(np.array([0, 7]), np.array([0, 7]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert hi[1] == 1.0 and lo[1] < 1.0
    lo, hi = exact_interval(7, 7)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 7))


def test_non_integer_k_is_monotone_between_neighbours() -> None:
    lo, _ = wilson_interval(np.array([3.0, 3.5, 4.0]), 50)
    assert lo[0] < lo[1] < lo[2]


def test_normal_interval() -> None:
    lo, hi = normal_interval(0.5, 0.1, 0.95)
    assert lo == pytest.approx(0.5 - 0.1959964, abs=1e-6)
    assert hi == pytest.approx(0.5 + 0.1959964, abs=1e-6)


def test_bad_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 10, 1.5)


# ------------------------------------------------------------------------------ exact coverage near 0 and 1


def jeffreys_interval(k: np.ndarray, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed Jeffreys interval (lo = 0 at k = 0, hi = 1 at k = n): the alternative weighed against."""
    tail = (1.0 - level) / 2.0
    lo = np.where(k > 0, stats.beta.ppf(tail, k + 0.5, n - k + 0.5), 0.0)
    hi = np.where(k < n, stats.beta.ppf(1.0 - tail, k + 0.5, n - k + 0.5), 1.0)
    return lo, hi


def exact_coverage(interval, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Coverage P(lo(K) <= p <= hi(K)), K ~ Binomial(n, p), summed over the pmf (no simulation), at p from 0
    to 0.5: a fine grid plus both sides of every interval end, where the coverage jumps (its infimum lies
    there or at a grid point between ends, where it is smooth)."""
    k = np.arange(n + 1)
    lo, hi = interval(k, n, level)
    ends = np.concatenate([lo, hi])
    ends = ends[(ends > 0) & (ends < 0.5)]
    grid = np.concatenate(
        [np.linspace(0.0, 0.5, 1001), np.geomspace(1e-6, 0.05, 200), ends * (1 - 1e-9), ends * (1 + 1e-9)]
    )
    p = np.unique(grid)
    pmf = stats.binom.pmf(k[None, :], n, p[:, None])
    covered = (lo[None, :] <= p[:, None]) & (p[:, None] <= hi[None, :])
    return p, (pmf * covered).sum(axis=1)


COVERAGE_TOLERANCE = 1e-9  # Clopper-Pearson is never below the level; the tolerance is float rounding only


@pytest.mark.parametrize("n", [10, 30, 100, 1000])
def test_the_exact_interval_covers_at_least_the_level_near_0(n: int) -> None:
    """The 0/1 points' interval: coverage >= 0.95 - 1e-9 at every p in [0, 0.5] (by symmetry also [0.5, 1]).
    Wilson and Jeffreys, narrower, fall well below the level near p ~ 1/n (measured minima in
    docs/science.md section 4)."""
    p, coverage = exact_coverage(exact_interval, n)
    assert coverage.min() >= 0.95 - COVERAGE_TOLERANCE, (p[coverage.argmin()], coverage.min())
    assert coverage[p == 0.0] == pytest.approx(1.0)  # 0 of n always has lo = 0
    if n <= 100:  # why the exact interval was chosen (at n = 1000 too: docs/science.md section 4)
        for other, worst in ((wilson_interval, 0.85), (jeffreys_interval, 0.91)):
            assert exact_coverage(other, n)[1].min() < worst


def test_the_exact_interval_is_symmetric_so_the_table_holds_near_1() -> None:
    k = np.arange(31)
    lo, hi = exact_interval(k, 30)
    np.testing.assert_allclose(lo, 1.0 - hi[::-1], atol=1e-12)
