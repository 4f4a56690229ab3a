"""The vectorised emergence score equals the scalar one it is built from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.emergence import emergence_score, emergence_scores

ROOT = Path(__file__).resolve().parents[2]


def test_vectorised_scores_equal_the_scalar_ones():
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(200, 7))
    curves[0] = [0, 0, 0, 0, 0, 1, 1]  # zero denominator inside a batch
    curves[1] = 2.0
    np.testing.assert_array_equal(emergence_scores(curves), [emergence_score(c) for c in curves])


def _scores_plain(y: np.ndarray) -> np.ndarray:
    """``emergence_scores`` as first written: np.median, max - min, NaN rows' size from the other values."""
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.abs(np.where(np.isnan(y), 0.0, y)).max(axis=1, keepdims=True)
        y = y / np.where((size > 0) & np.isfinite(size), size, 1.0)
        span = y.max(axis=1) - y.min(axis=1)
        sign = np.sign(np.argmax(y, axis=1) - np.argmin(y, axis=1)).astype(float)
        denominator = np.sqrt(np.median(np.diff(y, axis=1) ** 2, axis=1))
        score = sign * span / denominator
    zero = denominator == 0
    score[zero] = np.where(span[zero] > 0, np.copysign(np.inf, sign[zero]), 0.0)
    score[np.isnan(y).any(axis=1)] = np.nan
    return score


def test_vectorised_scores_equal_the_plain_formula_bit_for_bit():
    rng = np.random.default_rng(4)
    for _ in range(500):
        shape = (int(rng.integers(1, 50)), int(rng.integers(2, 30)))
        y = rng.normal(size=shape) * 10 ** rng.uniform(-300, 300)
        for special in (np.nan, np.inf, -np.inf, 0.0):
            y[rng.random(y.shape) < 0.02] = special
        y[0] = y[0, 0]  # a flat row
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(emergence_scores(y), _scores_plain(y))


def test_row_medians_equal_numpys_bit_for_bit():
    """One sort per row gives np.median's numbers: odd and even widths, NaN rows, infinities, overflow."""
    from analysis.emergence import _row_medians

    rng = np.random.default_rng(1)
    for _ in range(1000):
        rows, width = int(rng.integers(1, 20)), int(rng.integers(1, 30))
        values = rng.normal(size=(rows, width)) * 10 ** rng.uniform(-300, 300)
        for special in (np.nan, np.inf, -np.inf, 0.0, 1.7e308):  # -0.0 and 0.0 tie: either may be "middle"
            values[rng.random((rows, width)) < 0.03] = special
        with np.errstate(over="ignore"):
            fast, plain = _row_medians(values), np.median(values, axis=1)
        np.testing.assert_array_equal(fast, plain)
        assert (np.signbit(fast) == np.signbit(plain)).all()


def test_spearman_equals_scipys_bit_for_bit():
    """Ties (average ranks), |rho| = 1, constant inputs, NaN, infinities, 0 to 2 points: scipy's numbers."""
    import warnings

    from scipy.stats import spearmanr

    from analysis.emergence import spearman

    rng = np.random.default_rng(2)
    for _ in range(5000):
        n = int(rng.integers(0, 30))
        a, b = np.sort(rng.uniform(6, 12, n)), rng.normal(size=n)
        kind = rng.integers(6)
        if kind == 0:
            b = np.round(b)  # ties
        elif kind == 1:
            b = np.sort(b) * rng.choice([-1.0, 1.0])  # rho = +-1: t infinite, p = 0
        elif kind == 2 and n:
            b[rng.integers(n)] = rng.choice([np.nan, np.inf, -np.inf])
        elif kind == 3:
            b[:] = 0.3  # constant
        if rng.random() < 0.2:
            a = np.round(a)  # ties in the scale too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on constant input and 0/0 at n = 2
            expected = spearmanr(a, b)
        got = spearman(a, b)
        np.testing.assert_array_equal(got, (float(expected.statistic), float(expected.pvalue)))


def test_score_interval_equals_numpys_inverted_cdf_quantiles():
    from analysis.emergence import _quantiles

    rng = np.random.default_rng(3)
    for _ in range(3000):
        samples = rng.normal(size=int(rng.integers(0, 1200)))
        for special in (np.nan, np.inf, -np.inf):
            samples[rng.random(samples.size) < 0.05] = special
        level = float(rng.choice([0.95, 0.9, 0.8, 0.5, 0.99, 0.999, float(rng.uniform(0.01, 0.999))]))
        finite = samples[~np.isnan(samples)]
        tail = (1.0 - level) / 2.0
        expected = (
            (None, None)
            if finite.size < 2
            else tuple(float(v) for v in np.quantile(finite, [tail, 1.0 - tail], method="inverted_cdf"))
        )
        assert _quantiles(samples, level) == expected


def _same_curve(fast, plain) -> None:
    for name in ("family", "task", "metric", "kind", "direction", "binary", "chance", "models", "skipped"):
        assert getattr(fast, name) == getattr(plain, name), name
    for name in ("x", "y", "lo", "hi", "n", "stderr"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name), err_msg=name)
        assert getattr(fast, name).dtype == getattr(plain, name).dtype
    if plain.replicates is None:
        assert fast.replicates is None
    else:
        np.testing.assert_array_equal(fast.replicates, plain.replicates)


@pytest.mark.parametrize("x", ["params", "tokens"])
@pytest.mark.parametrize("ci", [0.95, 0.8])
def test_curves_read_at_once_equal_the_curve_by_curve_reading(x: str, ci: float) -> None:
    """Per-sample points (the sample data) and aggregate rows of every kind, missing scales and values."""
    from analysis.emergence import _curves_plain, curves
    from analysis.loading import load
    from analysis.metrics import score_samples
    from analysis.options import LoadOptions, MetricOptions, ResampleSettings
    from analysis.resampling import compute_points
    from analysis.schema import ResultTable
    from tests.equivalence.test_aggregate_points import _aggregates

    sample = load([str(ROOT / "sample_data" / "toy_family.parquet")], LoadOptions())
    table = ResultTable(samples=sample.samples, aggregates=_aggregates(4), prescored=sample.prescored)
    points = compute_points(score_samples(table, MetricOptions()), table, ResampleSettings(bootstrap=100))
    fast, plain = curves(points, x, ci), _curves_plain(points, x, ci)
    assert len(fast) == len(plain) > 20
    assert any(c.skipped for c in plain) and any(c.replicates is None for c in plain)
    for a, b in zip(fast, plain, strict=True):
        _same_curve(a, b)
