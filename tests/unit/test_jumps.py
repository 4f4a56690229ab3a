"""The jump statistic against hand computation, its matrix form against the plain loop, and its test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.jumps import jump_test, largest_miss, miss_weights, misses, misses_matrix


def test_misses_by_hand() -> None:
    u = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    z = np.array([0.0, 1.0, 2.0, 5.0, 5.5])
    usable = np.ones(5, dtype=bool)
    missed = misses(u, z, usable)
    assert np.isnan(missed[:2]).all()  # a line needs two smaller models
    assert missed[2] == pytest.approx(0.0)  # on the line through (0, 0) and (1, 1)
    assert missed[3] == pytest.approx(2.0)  # line through 0, 1, 2 predicts 3
    # line through (1, 1), (2, 2), (3, 5): slope 2, intercept -4/3 at u = 4: 6.667
    assert missed[4] == pytest.approx(5.5 - (2.0 * 4 - 4.0 / 3.0))
    assert largest_miss(missed) == (pytest.approx(2.0), 3)


def test_unusable_points_are_skipped_not_predicted() -> None:
    u = np.arange(6.0)
    z = np.array([np.nan, 1.0, 2.0, np.nan, 4.0, 9.0])
    usable = np.isfinite(z)
    missed = misses(u, z, usable)
    assert np.isnan(missed[[0, 1, 2, 3]]).all()
    assert missed[4] == pytest.approx(0.0)  # line through u = 1, 2
    assert missed[5] == pytest.approx(4.0)  # line through u = 1, 2, 4 predicts 5


def test_matrix_form_equals_the_loop() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = int(rng.integers(3, 15))
        u = np.sort(rng.uniform(0, 6, m))
        usable = rng.random(m) > 0.2
        z = rng.normal(size=(20, m))
        window = int(rng.integers(2, 6))
        fast = misses_matrix(u, z, usable, window)
        plain = np.vstack([misses(u, row, usable, window) for row in z])
        np.testing.assert_allclose(fast, plain, rtol=1e-9, atol=1e-9)
        assert miss_weights(u, usable, window).shape == (m, m)


def test_jump_test_p_values() -> None:
    rng = np.random.default_rng(1)
    null = rng.normal(0.0, 0.1, size=(1000, 6))
    null[:, :2] = np.nan
    big = np.array([np.nan, np.nan, 0.0, 0.1, 3.0, 0.0])
    p, at = jump_test(big, null, math.log(2))
    assert at == 4 and p < 1e-6  # 23 null sds beyond the effect: far into the fitted tail
    small = np.array([np.nan, np.nan, 0.0, 0.1, 0.7, 0.0])
    p_small, _ = jump_test(small, null, math.log(2))
    assert 0.2 < p_small <= 1.0  # a miss of log 2 plus nothing: no evidence beyond the effect
    precise = null.copy()
    precise[:, 3] *= 0.01  # model 3 is measured 100x more precisely
    p_precise, at_precise = jump_test(np.array([np.nan, np.nan, 0.0, 0.9, 1.2, 0.0]), precise, math.log(2))
    assert at_precise == 3 and p_precise < 1e-6  # its factor-2.5 miss beats the noisier factor-3.3 one


def test_jump_test_is_calibrated_under_its_null() -> None:
    """Curves whose true largest miss is exactly the effect: p is (conservatively) uniform."""
    rng = np.random.default_rng(2)
    null = rng.normal(0.0, 0.2, size=(2000, 7))
    effect = math.log(2)
    ps = []
    for _ in range(300):
        observed = effect + rng.normal(0.0, 0.2, 7)
        observed[:2] = np.nan
        ps.append(jump_test(observed, null[:, :], effect)[0])
    ps = np.array(ps)
    assert np.mean(ps < 0.05) <= 0.05 + 0.03
    assert np.mean(ps < 0.5) <= 0.5 + 0.08


def _misses_with_polyfit(u: np.ndarray, z: np.ndarray, usable: np.ndarray, window: int = 3) -> np.ndarray:
    """``misses`` as first written, with ``np.polyfit``."""
    out = np.full(z.shape, np.nan)
    for k in range(z.size):
        prior = np.flatnonzero(usable[:k])[-window:]
        if not usable[k] or prior.size < 2 or np.ptp(u[prior]) == 0:
            continue
        with np.errstate(all="ignore"):
            slope, intercept = np.polyfit(u[prior], z[prior], 1)
            out[k] = z[k] - (intercept + slope * u[k])
    return out


def test_line_fit_and_misses_equal_polyfit_exactly() -> None:
    from analysis.jumps import line_fit

    rng = np.random.default_rng(5)
    for size in (2, 3, 5, 27):
        for _ in range(200):
            x = np.sort(rng.uniform(6, 12, size))
            if rng.random() < 0.2:
                x = np.log10(np.arange(1, size + 1.0))
            y = rng.normal(size=size) * 10 ** rng.uniform(-3, 3)
            assert line_fit(x, y) == tuple(np.polyfit(x, y, 1))
    for _ in range(300):
        size = int(rng.integers(1, 30))
        u = np.sort(rng.uniform(6, 12, size))
        u[rng.random(size) < 0.1] = u[0]  # repeated scales
        z = rng.normal(size=size)
        usable = rng.random(size) < 0.8
        for window in (3, size):
            expected = _misses_with_polyfit(u, z, usable, window)
            np.testing.assert_array_equal(misses(u, z, usable, window), expected)


def _terms(u: np.ndarray, z: np.ndarray, usable: np.ndarray, window: int) -> np.ndarray:
    """Per point, the sum of the sizes of the terms its miss is made of (|C_ik z_i| over i)."""
    weights = np.nan_to_num(miss_weights(u, usable, window))
    return (np.abs(np.where(usable, z, 0.0))[:, None] * np.abs(weights)).sum(axis=0)


def _random_curve(rng: np.random.Generator, spread_scales: bool) -> tuple[np.ndarray, ...]:
    size = int(rng.integers(0, 32))
    # spread: log10 of model sizes at least 2.3% apart, as real families are; else any ascending scales
    # (nearly equal ones make an ill-conditioned line)
    spread = 6 + np.cumsum(rng.uniform(0.01, 0.5, size))
    u = spread if spread_scales else np.sort(rng.uniform(6, 12, size))
    if size and rng.random() < 0.3:
        u[rng.random(size) < 0.3] = u[0]  # repeated scales: windows of one u have no line
        u.sort()
    usable = rng.random(size) < 0.8
    z = np.cumsum(rng.normal(size=size)) * 10 ** rng.uniform(-3, 3) + rng.normal() * 10 ** rng.uniform(-3, 3)
    z[~usable] = rng.choice([np.nan, np.inf, -np.inf, 1e300], size=int((~usable).sum()))  # never read
    return u, z, usable


def test_fast_misses_equal_the_loop() -> None:
    """The closed-form product equals the lstsq loop on which points are defined, and on the values to
    1e-12 of the size of the terms each miss is made of (both sum the same terms, rounded differently;
    nearly equal scales in a window magnify the rounding of either, there to 1e-9)."""
    from analysis.jumps import misses_fast

    rng = np.random.default_rng(7)
    for trial in range(3000):
        spread_scales = trial % 2 == 0
        u, z, usable = _random_curve(rng, spread_scales)
        for window in (0, 1, 2, 3, 5, max(u.size, 1)):
            plain, fast = misses(u, z, usable, window), misses_fast(u, z, usable, window)
            assert np.array_equal(np.isnan(plain), np.isnan(fast)), (u, usable, window)
            defined = ~np.isnan(plain)
            bound = (1e-12 if spread_scales else 1e-9) * _terms(u, z, usable, window)[defined]
            assert (np.abs(fast - plain)[defined] <= bound).all(), (u, z, usable, window)


def test_fast_misses_by_hand_and_at_the_float_limits() -> None:
    from analysis.jumps import misses_fast

    u = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    z = np.array([0.0, 1.0, 2.0, 5.0, 5.5])
    usable = np.ones(5, dtype=bool)
    expected = [np.nan, np.nan, 0.0, 2.0, 5.5 - 20 / 3]
    np.testing.assert_allclose(misses_fast(u, z, usable), expected, atol=1e-15)
    assert np.isnan(misses_fast(u, z, usable, window=1)).all()  # one prior point draws no line
    np.testing.assert_allclose(misses_fast(np.array([1.0, 1.0, 1.0, 2.0]), z[:4], usable[:4]), [np.nan] * 4)
    huge = np.array([1e300, -1e300, 1e300, 1e308, 2.0])  # the product would overflow: the loop's numbers
    np.testing.assert_array_equal(misses_fast(u, huge, usable), misses(u, huge, usable))
    with np.errstate(divide="ignore"):
        at_zero = np.log10(np.array([0.0, 1e6, 1e7, 1e8, 1e9]))  # a scale of 0: u = -inf
    for procedure in (misses, misses_fast):  # lstsq refuses an infinite scale; the fast path takes the loop
        with pytest.raises(np.linalg.LinAlgError):
            procedure(at_zero, z, usable)


def test_vectorised_weights_equal_the_column_by_column_ones() -> None:
    from analysis.jumps import _miss_weights_plain

    rng = np.random.default_rng(8)
    for trial in range(2000):
        u, _, usable = _random_curve(rng, trial % 2 == 0)
        for window in (0, 1, 2, 3, max(u.size, 1)):
            fast, plain = miss_weights(u, usable, window), _miss_weights_plain(u, usable, window)
            assert np.array_equal(np.isnan(fast), np.isnan(plain))
            if window <= 3:  # windows of up to 7 points are summed in the plain order: bit-equal
                np.testing.assert_array_equal(fast, plain)
            else:  # a column's weights sum to 0 (-1/m + 1 each): each is exact to the largest's rounding
                size = np.nanmax(np.abs(plain), axis=0, initial=0.0)
                np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-13 * max(size.max(), 1.0))
