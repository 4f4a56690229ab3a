"""Property-based tests (hypothesis) of the metrics, the resampling and the fits.

Each property is a law the science requires (docs/science.md sections 3, 4 and 6), checked on generated inputs
rather than on hand-picked examples: edit distance is a metric, probabilities stay in range, intervals hold
their point, a seed reproduces, and a law fitted to its own noiseless curve gives its parameters back.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis import schema
from analysis.fits import fit_law
from analysis.fits.laws import evaluate
from analysis.formats.finalize import finalize
from analysis.metrics import (
    BRIER,
    CHOICE_PROB,
    EXACT_MATCH,
    MC_GRADE,
    TOKEN_EDIT_DISTANCE,
    score_samples,
    token_edit_distances,
)
from analysis.options import LoadOptions, MetricOptions, ResampleSettings
from analysis.resampling import compute_points
from analysis.schema import ResultTable

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tokens = st.lists(st.sampled_from(["a", "b", "c", "the", "é", "[b]", "\x1b"]), max_size=8)
texts = st.text(alphabet=st.sampled_from(list("abc xyz12é\t")), max_size=12)


def distances_between(pairs: list[tuple[list[str], list[str]]]) -> list[float]:
    """Token edit distance of each (target tokens, prediction tokens) pair, through the public scorer."""
    frame = pl.DataFrame(
        {
            schema.TARGET_TOKENS: [a for a, _ in pairs],
            schema.PREDICTION_TOKENS: [b for _, b in pairs],
        },
        schema={schema.TARGET_TOKENS: pl.List(pl.Utf8), schema.PREDICTION_TOKENS: pl.List(pl.Utf8)},
    )
    return token_edit_distances(frame).to_list()


# ---------------------------------------------------------------- metrics


@PROPERTY
@given(tokens, tokens, tokens)
def test_token_edit_distance_is_a_metric(a: list[str], b: list[str], c: list[str]) -> None:
    ab, ba, ac, bc, aa = distances_between([(a, b), (b, a), (a, c), (b, c), (a, a)])
    assert ab == ba
    assert aa == 0
    assert (ab == 0) == (a == b)
    assert ac <= ab + bc
    assert abs(len(a) - len(b)) <= ab <= max(len(a), len(b))


def _samples(rows: list[dict]) -> ResultTable:
    frame = pl.DataFrame(rows)
    return finalize(ResultTable(samples=frame), LoadOptions(), "generated")


@PROPERTY
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=8), st.booleans(), st.booleans())
def test_exact_match_implies_zero_edit_distance(
    pairs: list[tuple[str, str]], fold: bool, spaces: bool
) -> None:
    rows = [
        {"model": "m", "task": "t", "item": str(i), "target": t, "prediction": p}
        for i, (t, p) in enumerate(pairs)
    ]
    options = MetricOptions(tokenizer="whitespace" if spaces else "chars", case_fold=fold)
    frame = score_samples(_samples(rows), options).frame.sort(schema.ITEM, descending=False)
    for em, ted in frame.select(EXACT_MATCH, TOKEN_EDIT_DISTANCE).iter_rows():
        assert em in (0.0, 1.0)
        if em == 1.0:
            assert ted == 0.0
        if not spaces:  # over characters the converse holds too: distance 0 means the same normalised text
            assert (ted == 0.0) == (em == 1.0)


logliks = st.lists(
    st.one_of(st.floats(-1e4, 50, allow_nan=False), st.just(-math.inf)), min_size=2, max_size=6
).filter(lambda values: any(math.isfinite(v) for v in values))


@PROPERTY
@given(st.lists(st.tuples(logliks, st.integers(0, 5)), min_size=1, max_size=6))
def test_choice_probability_and_brier_stay_in_range(rows_in: list[tuple[list[float], int]]) -> None:
    rows = [
        {"model": "m", "task": "t", "item": str(i), "choice_logliks": ll, "correct_choice": k % len(ll)}
        for i, (ll, k) in enumerate(rows_in)
    ]
    frame = score_samples(_samples(rows)).frame
    for ll, grade, prob, brier in (
        frame.sort(schema.ITEM)
        .select(pl.col(schema.ITEM).cast(pl.Int64), MC_GRADE, CHOICE_PROB, BRIER)
        .iter_rows()
    ):
        values = rows_in[ll][0]
        assert grade in (0.0, 1.0)
        assert 0.0 <= prob <= 1.0
        assert 0.0 <= brier <= 2.0
        k = rows[ll]["correct_choice"]
        if grade == 1.0:  # the argmax holds at least a uniform share of the mass
            assert prob >= 1.0 / len(values) - 1e-12
        finite = np.array(values, dtype=float)
        q = np.exp(finite - finite.max())
        q /= q.sum()
        assert prob == pytest.approx(q[k], abs=1e-9)
        assert brier == pytest.approx(float(((q - np.eye(len(q))[k]) ** 2).sum()), abs=1e-9)


# ---------------------------------------------------------------- resampling

outcomes = arrays(
    np.float64, st.tuples(st.integers(2, 5), st.integers(1, 25)), elements=st.sampled_from([0.0, 1.0])
)
scores = arrays(
    np.float64, st.tuples(st.integers(2, 5), st.integers(1, 25)), elements=st.floats(-50, 50, allow_nan=False)
)


def _points_for(values: np.ndarray, resample: ResampleSettings) -> pl.DataFrame:
    models, items = values.shape
    rows = [
        {
            "model": f"m{j}",
            "task": "t",
            "params": 10.0 ** (7 + j),
            "item": str(i),
            "score": float(values[j, i]),
        }
        for j in range(models)
        for i in range(items)
    ]
    frame = pl.DataFrame(rows)
    table = finalize(ResultTable(samples=frame, prescored=("score",)), LoadOptions(), "generated")
    return compute_points(score_samples(table), table, resample).frame


@FEW
@given(st.one_of(outcomes, scores), st.integers(0, 2**31), st.sampled_from([0.5, 0.9, 0.95]), st.booleans())
def test_intervals_contain_the_point_and_a_seed_reproduces(
    values: np.ndarray, seed: int, level: float, paired: bool
) -> None:
    resample = ResampleSettings(bootstrap=60, ci=level, seed=seed, paired=paired)
    first = _points_for(values, resample)
    assert first.height == values.shape[0]
    for value, lo, hi, expected in zip(
        first["value"], first["lo"], first["hi"], values.mean(axis=1), strict=True
    ):
        assert value == pytest.approx(expected, abs=1e-12)
        assert lo - 1e-12 <= value <= hi + 1e-12
    again = _points_for(values, resample)
    assert again.equals(first)


# ---------------------------------------------------------------- fits

decades = st.floats(6.0, 10.0)


@FEW
@given(st.floats(0.05, 1e4), st.floats(-1.5, -0.05), decades)
def test_power_law_recovered_from_noiseless_points(a: float, b: float, start: float) -> None:
    x = np.logspace(start, start + 4, 8)
    fit = fit_law(x, a * x**b, "power")
    assert fit.ok, fit.message
    assert fit.params["a"] == pytest.approx(a, rel=1e-4)
    assert fit.params["b"] == pytest.approx(b, rel=1e-4, abs=1e-6)


@FEW
@given(st.floats(0.1, 5.0), st.floats(1.0, 1e3), st.floats(0.1, 0.8), decades)
def test_saturating_law_recovered_from_noiseless_points(
    e: float, a: float, alpha: float, start: float
) -> None:
    x = np.logspace(start, start + 5, 10)
    y = e + a * x ** (-alpha)
    assume(np.ptp(y) > 0.05 * e)  # a curve already flat at its floor identifies only E
    fit = fit_law(x, y, "saturating")
    assert fit.ok, fit.message
    assert np.allclose(fit.predict(x), y, rtol=1e-3)
    assert fit.params["alpha"] == pytest.approx(alpha, rel=0.05)
    assert fit.params["E"] == pytest.approx(e, rel=0.05)


@FEW
@given(st.floats(0.0, 0.3), st.floats(0.6, 1.0), st.floats(0.8, 4.0), st.floats(7.5, 9.5))
def test_logistic_recovered_from_noiseless_points(floor: float, ceil: float, k: float, x0: float) -> None:
    x = np.logspace(6, 11, 12)
    params = {"floor": floor, "ceil": ceil, "k": k, "x0": x0}
    y = evaluate("logistic", params, x)
    fit = fit_law(x, y, "logistic")
    assert fit.ok, fit.message
    assert np.allclose(fit.predict(x), y, atol=1e-3)
    for name, value in params.items():
        assert fit.params[name] == pytest.approx(value, rel=0.05, abs=0.02), name


finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-3, 1e12, allow_nan=False, allow_infinity=False)
small = st.sampled_from([0.0, 0.25, 1.0])  # ties and constant runs, where bounds and grids degenerate


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 12).flatmap(
        lambda n: st.tuples(
            st.one_of(st.lists(positive, min_size=n, max_size=n), st.lists(finite, min_size=n, max_size=n)),
            st.one_of(
                st.lists(st.one_of(small, finite), min_size=n, max_size=n),
                small.map(lambda value, n=n: [value] * n),  # a constant curve
            ),
        )
    ),
    st.sampled_from(["power", "saturating", "logistic", "joint"]),
    st.one_of(st.none(), st.sampled_from([0.0, 0.25])),
)
def test_fits_never_raise_on_random_finite_data(
    xy: tuple[list[float], list[float]], law: str, floor: float | None
) -> None:
    x, y = (np.array(v, dtype=float) for v in xy)
    fit = fit_law(x, y, law, x2=np.abs(x) + 1.0 if law == "joint" else None, floor=floor, bootstrap=5)
    if fit.ok:
        assert all(math.isfinite(v) for v in fit.params.values())
    else:
        assert fit.message and not fit.params
