"""Items needed to resolve a rate, against the rule of three and a brute-force exact search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.resampling.intervals import exact_interval
from analysis.resolution import MAX_ITEMS, items_to_resolve, resolved


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
