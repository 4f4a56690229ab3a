"""The aggregate points of groups with one row per model, computed at once (``_single_points``), equal the
per-group procedure's (``_grouped_points``): every column, every replicate, in the same order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.metrics import spec_for
from analysis.options import ResampleSettings
from analysis.resampling import points as P
from analysis.resampling.points import compute_points
from analysis.schema import ResultTable, ScoredSamples


def _aggregates(seed: int) -> pl.DataFrame:
    """Groups of every kind: 0/1 rows with n (some at 0 and 1), rows with a stderr, rows with neither,
    missing values and scales, an infinite value, and groups where no model or only some have noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for family in ("fam", "fam checkpoints"):
        for task in ("t1", "t2 5-shot", "t3"):
            for metric in ("acc", "acc_norm", "ppl", "score"):
                models = rng.integers(1, 7)
                for j in range(models):
                    binary = metric.startswith("acc")
                    value = float(rng.choice([0.0, 1.0])) if rng.random() < 0.15 else float(rng.random())
                    if not binary:
                        value *= 20
                    if rng.random() < 0.05:
                        value = None
                    n = int(rng.integers(1, 500)) if binary and rng.random() < 0.6 else None
                    stderr = float(rng.random() * 0.05) if rng.random() < 0.7 else None
                    if metric == "score" and task == "t3":
                        stderr = None  # a group without any noise
                    if metric == "ppl" and task == "t1" and j == 0:
                        value = float("inf")
                    rows.append(
                        {
                            "family": family,
                            "model": f"m{j}",
                            "task": task,
                            "params": float(10 ** (6 + j)) if rng.random() < 0.95 else None,
                            "tokens": float(rng.integers(1, 10) * 1e9),
                            "flops": None,
                            "loss": None,
                            "metric": metric,
                            "value": value,
                            "n": n,
                            "stderr": stderr,
                        }
                    )
    schema = {
        "family": pl.Utf8,
        "model": pl.Utf8,
        "task": pl.Utf8,
        "params": pl.Float64,
        "tokens": pl.Float64,
        "flops": pl.Float64,
        "loss": pl.Float64,
        "metric": pl.Utf8,
        "value": pl.Float64,
        "n": pl.Int64,
        "stderr": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _prepared(aggregates: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """The frame ``_aggregate_points`` hands both paths, and the specs it completes."""
    frame = aggregates.with_columns(pl.lit("", dtype=pl.Utf8).alias("replicate"))
    specs = {m: spec_for(m) for m in frame["metric"].unique().to_list()}
    return frame, specs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "settings",
    [
        ResampleSettings(bootstrap=200),
        ResampleSettings(bootstrap=0),
        ResampleSettings(bootstrap=50, ci=0.8, unit="seed"),
    ],
)
def test_single_row_groups_equal_the_per_group_procedure(seed: int, settings: ResampleSettings) -> None:
    frame, specs = _prepared(_aggregates(seed))
    scored = ScoredSamples(pl.DataFrame(), chance={("t1", "acc"): 0.25})
    fast_reps: dict = {}
    fast, fast_fixed = P._single_points(frame, scored, settings, specs, fast_reps)
    rows: list[dict] = []
    plain_reps: dict = {}
    plain_fixed = P._grouped_points(frame, scored, settings, specs, rows, plain_reps)
    plain = P._rows_to_frame(rows)
    order = ["family", "task", "metric", "model"]
    assert_frame_equal(fast.sort(order), plain.sort(order), check_exact=True)
    assert fast_fixed == plain_fixed
    assert list(fast_reps) == sorted(plain_reps, key=lambda k: tuple(map(str, k)))
    for key, reps in plain_reps.items():
        assert fast_reps[key].models == reps.models
        np.testing.assert_array_equal(fast_reps[key].values, reps.values)
    assert (len(plain_reps) > 0) == (settings.bootstrap > 0)


def test_groups_with_replicates_still_take_the_per_group_procedure() -> None:
    """A table mixing groups with and without replicates: the points equal the per-group procedure's alone."""
    aggregates = _aggregates(3)
    seeds = aggregates.filter(pl.col("task") == "t1").with_columns(
        pl.col("value") * 0.9, pl.lit("seed2").alias("replicate")
    )
    table = ResultTable(
        aggregates=pl.concat(
            [aggregates.with_columns(pl.lit("seed1").alias("replicate")), seeds], how="vertical"
        )
    )
    settings = ResampleSettings(bootstrap=100, unit="seed")
    scored = ScoredSamples(pl.DataFrame())
    points = compute_points(scored, table, settings)
    frame = table.aggregates.with_columns(pl.col("replicate").fill_null(""))
    specs = {m: spec_for(m) for m in frame["metric"].unique().to_list()}
    rows: list[dict] = []
    plain_reps: dict = {}
    P._grouped_points(frame, scored, settings, specs, rows, plain_reps)
    plain = P._rows_to_frame(rows).sort(["family", "task", "metric", *P.MODEL_ORDER], nulls_last=True)
    later = ["resolved", "items_to_resolve", "items_at"]  # set after both paths, on the whole frame
    assert_frame_equal(points.frame.drop(later), plain.drop(later), check_exact=True)
    assert list(points.replicates) == sorted(plain_reps, key=lambda k: tuple(map(str, k)))
    for key, reps in plain_reps.items():
        np.testing.assert_array_equal(points.replicates[key].values, reps.values)
    assert points.frame.filter(pl.col("task") == "t1")["n_replicates"].max() == 2
