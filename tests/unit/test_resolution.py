"""Items needed to resolve a rate, against the rule of three and a brute-force exact search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.resampling.intervals import exact_interval
from analysis.resolution import (
    MAX_ITEMS,
    independent_detectable,
    independent_items_needed,
    items_to_resolve,
    normal_detectable,
    normal_items_needed,
    paired_detectable,
    paired_items_needed,
    resolved,
)


@pytest.mark.parametrize("value", [0.1, 0.01, 1e-3, 1e-5])
def test_rule_of_three_above_zero(value: float) -> None:
    """One right item resolves a rate from 0: 95% of test sets have one at n = log(0.05)/log(1 - v) ~ 3/v."""
    n = items_to_resolve(value)
    assert n == math.ceil(math.log(0.05) / math.log1p(-value))
    assert n == pytest.approx(3.0 / value, rel=0.05 if value <= 0.01 else 0.2)
    assert (1 - value) ** n <= 0.05 < (1 - value) ** (n - 1)


def power(n: int, value: float, floor: float) -> float:
    """Share of n-item test sets whose exact interval excludes the floor, by summing the binomial pmf."""
    k = np.arange(n + 1)
    lo, _ = exact_interval(k, n)
    return float(stats.binom.pmf(k, n, value)[lo > floor].sum())


@pytest.mark.parametrize("value,floor", [(0.35, 0.25), (0.3, 0.25), (0.6, 0.5), (0.55, 0.5)])
def test_above_chance_matches_an_exact_search(value: float, floor: float) -> None:
    n = items_to_resolve(value, floor)
    assert power(n, value, floor) >= 0.95
    assert power(n - 1, value, floor) < 0.95 or power(n - 2, value, floor) < 0.95  # the first, up to sawtooth


def test_a_rate_below_float_resolution_needs_the_cap_not_an_overflow() -> None:
    assert items_to_resolve(5e-324) == MAX_ITEMS
    assert items_to_resolve(1e-15) == MAX_ITEMS


def test_nothing_resolves_a_rate_at_the_floor() -> None:
    assert items_to_resolve(0.25, 0.25) is None
    assert items_to_resolve(0.0) is None
    assert items_to_resolve(float("nan")) is None


def test_resolved_points() -> None:
    lo, hi = np.array([0.0, 0.001, np.nan]), np.array([0.004, 0.01, np.nan])
    assert resolved(lo, hi, 0.0).tolist() == [False, True, False]
    lo, hi = np.array([0.2, 0.3, 0.01]), np.array([0.3, 0.4, 0.05])
    assert resolved(lo, hi, 0.25).tolist() == [False, True, True]  # below chance, known to be below


# ------------------------------------------------------------------------ differences of two models
# the two-sided level 0.95 and 80% power unless a case says otherwise


@pytest.mark.parametrize(
    "p1,p2,level,power",
    [(0.3, 0.35, 0.95, 0.8), (0.01, 0.05, 0.95, 0.8), (0.5, 0.4, 0.9, 0.9), (0.9, 0.97, 0.99, 0.8)],
)
def test_two_proportions_sample_size_is_statsmodels_normal_approximation(
    p1: float, p2: float, level: float, power: float
) -> None:
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    expected = samplesize_proportions_2indep_onetail(p2 - p1, p1, power, alpha=1 - level)
    assert independent_items_needed(p1, p2, level, power) == math.ceil(expected)
    # the textbook form (Fleiss, no continuity correction), written out
    z_a, z_b = stats.norm.ppf(0.5 + level / 2), stats.norm.ppf(power)
    pbar = (p1 + p2) / 2
    by_hand = (z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    assert independent_items_needed(p1, p2, level, power) == math.ceil(by_hand / (p2 - p1) ** 2)


@pytest.mark.parametrize("difference,discordant", [(0.05, 0.1), (-0.02, 0.3), (0.2, 0.2), (0.01, 0.011)])
def test_paired_sample_size_is_mcnemars_normal_approximation(difference: float, discordant: float) -> None:
    """Connor (1987): n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2, statsmodels' one-tail form."""
    from statsmodels.stats.power import normal_sample_size_one_tail

    expected = normal_sample_size_one_tail(
        abs(difference), 0.8, 0.025, std_null=math.sqrt(discordant),
        std_alternative=math.sqrt(discordant - difference**2),
    )  # fmt: skip
    assert paired_items_needed(difference, discordant) == math.ceil(expected)


def test_normal_sample_size_is_statsmodels_one_sample_z_test() -> None:
    from statsmodels.stats.power import NormalIndPower

    for difference, sd in ((0.28, 1.0), (0.05, 0.4), (1.0, 3.0)):
        expected = NormalIndPower().solve_power(effect_size=difference / sd, alpha=0.05, power=0.8, ratio=0)
        assert normal_items_needed(difference, sd) == math.ceil(expected)
        # the minimum detectable difference at n is what n items resolve: (z_a + z_b) sd / sqrt(n)
        assert normal_detectable(sd, expected) == pytest.approx(difference, rel=1e-3)


@pytest.mark.parametrize("n", [50, 400, 10_000])
def test_detectable_differences_are_what_that_many_items_resolve(n: int) -> None:
    for discordant in (0.0, 0.05, 0.3):
        d = paired_detectable(discordant, n)
        assert paired_items_needed(d, discordant) <= n < paired_items_needed(d * 0.999, discordant)
    for p1, up in ((0.0, True), (0.3, True), (0.9, False)):
        d = independent_detectable(p1, n, up=up)
        p2 = p1 + d if up else p1 - d
        assert independent_items_needed(p1, p2) <= n
        assert independent_items_needed(p1, p1 + (p2 - p1) * 0.999) > n
    # no discordant item observed: the difference could be all one-way (psi = d), so n d = (z_a + z_b
    # sqrt(1 - d))^2, about (z_a + z_b)^2 / n
    d = float(paired_detectable(0.0, n))
    assert (1.959964 + 0.841621 * math.sqrt(1 - d)) ** 2 / d == pytest.approx(n, abs=1.0)


def test_nothing_is_detectable_with_no_items_and_no_difference_needs_no_items() -> None:
    assert np.isnan(paired_detectable(0.2, 0))
    assert np.isnan(paired_items_needed(0.0, 0.2))
    assert np.isnan(independent_items_needed(0.3, 0.3))
    assert np.isnan(independent_detectable(0.99, 10))  # from 0.99, 10 items cannot show any rise


def test_a_rate_below_float_resolution_needs_more_than_a_trillion_items() -> None:
    assert items_to_resolve(5e-324) == items_to_resolve(1e-300) == 10**12
