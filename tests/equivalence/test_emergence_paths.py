"""The vectorised emergence score equals the scalar one it is built from."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from analysis.emergence import emergence_score, emergence_scores


def test_vectorised_scores_equal_the_scalar_ones():
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(200, 7))
    curves[0] = [0, 0, 0, 0, 0, 1, 1]  # zero denominator inside a batch
    curves[1] = 2.0
    np.testing.assert_array_equal(emergence_scores(curves), [emergence_score(c) for c in curves])


def _assert_same_curves(fast: list, plain: list) -> None:
    assert len(fast) == len(plain) > 0
    for a, b in zip(fast, plain, strict=True):
        for field in (
            "family",
            "task",
            "metric",
            "kind",
            "direction",
            "binary",
            "chance",
            "models",
            "skipped",
        ):
            assert getattr(a, field) == getattr(b, field), (a.metric, field)
        for field in ("x", "y", "lo", "hi", "n", "stderr"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
        if b.replicates is None:
            assert a.replicates is None
        else:
            np.testing.assert_array_equal(a.replicates, b.replicates)


@pytest.mark.parametrize("axis", ["params", "tokens"])
def test_curves_from_sliced_arrays_equal_a_frame_per_curve(axis: str) -> None:
    """On the sample data (per-sample points with replicates; tokens known for some models only, so rows
    drop out of the curve and are counted) and on aggregate points with missing intervals."""
    from analysis.emergence import curves, plain_curves
    from analysis.loading import load
    from analysis.options import LoadOptions, MetricOptions, ResampleSettings
    from analysis.pipeline import Pipeline
    from tui.inputs import default_paths

    table = load(default_paths([]), LoadOptions())
    pipeline = Pipeline(table)
    points = pipeline.points(MetricOptions(), ResampleSettings(bootstrap=50))
    frame = points.frame
    if axis == "tokens":  # a model without tokens: left out of its curves and counted in ``skipped``
        frame = frame.with_columns(
            pl.when(pl.col("model") == frame["model"][0]).then(None).otherwise(pl.col(axis)).alias(axis)
        )
    frame = frame.with_columns(  # some points without an interval: value +- z se, or no interval at all
        pl.when(pl.int_range(pl.len()) % 7 == 3).then(None).otherwise(pl.col("lo")).alias("lo")
    )
    shuffled = replace(points, frame=frame.sample(fraction=1.0, shuffle=True, seed=3))
    _assert_same_curves(curves(shuffled, axis, 0.9), plain_curves(shuffled, axis, 0.9))
    assert any(c.skipped for c in plain_curves(shuffled, axis)) == (axis == "tokens")
