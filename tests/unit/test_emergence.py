"""Emergence scores match hand computation, trends are flagged on constructed curves, p-values are honest."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.emergence import (
    ZERO_DENOMINATOR_CONVENTION,
    classify_trend,
    emergence_score,
    emergence_scores,
    score_emergence,
)
from analysis.schema import PointSet, Replicates

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PYTHIA = DATA / "pythia" / "tidy.csv"


def mirage_curves(length: int, n_models: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """docs/science.md section 2, c = 1e9, alpha = -0.4, N = 1e6..1e12: exact match and -TED over L tokens."""
    sizes = np.logspace(6, 12, n_models)
    p = np.exp(-((sizes / 1e9) ** -0.4))
    return p**length, -length * (1.0 - p)


# --------------------------------------------------------------------------------------------- the score


def test_scores_of_hand_computed_curves():
    assert emergence_score(np.array([0.0, 1.0, 2.0, 3.0])) == pytest.approx(3.0)  # line: range / step
    # steps .1 .1 .8: median squared step .01 -> range 1 / .1
    assert emergence_score(np.array([0.0, 0.1, 0.2, 1.0])) == pytest.approx(10.0)
    # max first, min second: sign -1; steps -2, 1: median of 4, 1 is 2.5
    assert emergence_score(np.array([3.0, 1.0, 2.0])) == pytest.approx(-2.0 / math.sqrt(2.5))
    assert emergence_score(np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_zero_denominator_and_flat_curves():
    assert emergence_score(np.array([0.0, 0.0, 0.0, 1.0])) == math.inf
    assert emergence_score(np.array([1.0, 0.0, 0.0, 0.0])) == -math.inf
    assert emergence_score(np.full(5, 0.3)) == 0.0
    assert "+inf" in ZERO_DENOMINATOR_CONVENTION and "0.0 for a flat curve" in ZERO_DENOMINATOR_CONVENTION
    assert math.isnan(emergence_score(np.array([0.0, np.nan, 1.0])))
    assert math.isnan(emergence_score(np.array([1.0])))


def test_mirage_model_exact_match_scores_far_above_edit_distance_for_long_targets():
    exact_match, minus_ted = mirage_curves(length=5)
    assert emergence_score(exact_match) > 3.0 * emergence_score(minus_ted)
    assert emergence_score(exact_match) == pytest.approx(38.71, abs=0.01)
    assert emergence_score(minus_ted) == pytest.approx(10.49, abs=0.01)


def test_mirage_model_scores_are_equal_for_one_token():
    exact_match, minus_ted = mirage_curves(length=1)  # acc = p, -TED = p - 1: a shift
    assert emergence_score(exact_match) == pytest.approx(emergence_score(minus_ted), rel=1e-12)


# --------------------------------------------------------------------------------------------- trends


SCALES = np.logspace(7, 11, 9)


def tight(y: np.ndarray, width: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    return y - width, y + width


def test_inverse_and_rising_trends():
    falling = np.linspace(0.8, 0.3, 9) + np.array([0, 0.02, -0.01, 0.01, 0, -0.02, 0.01, 0, 0])
    trend = classify_trend(SCALES, falling, *tight(falling, 0.1))
    assert trend.flag == "inverse" and trend.spearman < -0.9 and trend.spearman_p < 0.05
    assert classify_trend(SCALES, -falling).flag == "rising"


def test_u_shaped_and_inverted_u_need_ci_support():
    u = np.array([0.8, 0.6, 0.45, 0.35, 0.3, 0.35, 0.5, 0.65, 0.8])
    assert classify_trend(SCALES, u, *tight(u)).flag == "u_shaped"
    assert classify_trend(SCALES, -u, *tight(-u)).flag == "inverted_u"
    # the same dip inside wide intervals is not supported
    wide = classify_trend(SCALES, u, *tight(u, 0.3))
    assert wide.flag not in ("u_shaped", "inverted_u")
    # without point CIs no u-shape is claimed, and the note says so
    bare = classify_trend(SCALES, u)
    assert bare.flag == "none" and "no point CIs" in bare.note


def test_inverse_that_turns_u_shaped_is_u_shaped():
    """Wei et al. (2022): many inverse-scaling tasks recover at larger scale."""
    y = np.array([0.7, 0.6, 0.5, 0.42, 0.36, 0.33, 0.45, 0.6, 0.62])
    assert classify_trend(SCALES, y, *tight(y)).flag == "u_shaped"


def test_flat_trends():
    noisy_flat = 0.5 + np.array([0.01, -0.01, 0.0, 0.02, -0.02, 0.01, 0.0, -0.01, 0.01])
    assert classify_trend(SCALES, noisy_flat, *tight(noisy_flat, 0.05)).flag == "flat"
    assert classify_trend(SCALES, np.full(9, 0.25)).flag == "flat"
    assert classify_trend(SCALES[:2], np.array([0.1, 0.2])).flag == "none"


# --------------------------------------------------------------------------------------------- the stage


def curve(family: str, task: str, metric: str, values, direction: int = 1, kind: str = "continuous", **cols):
    return [
        {
            "family": family,
            "model": f"{family}-{i}",
            "task": task,
            "metric": metric,
            "params": float(10 ** (7 + i)),
            "value": float(v),
            "lo": float(v) - 0.01,
            "hi": float(v) + 0.01,
            "direction": direction,
            "kind": kind,
        }
        | cols
        for i, v in enumerate(values)
    ]


def point_set(rows: list[dict], replicates: dict | None = None) -> PointSet:
    frame = pl.DataFrame(rows).with_columns(pl.col("params").cast(pl.Float64))
    return PointSet(frame=frame, replicates=replicates or {})


def test_score_emergence_orients_and_skips_rows_without_scale():
    loss = [4.0, 3.9, 3.85, 3.8, 1.5]  # lower is better: a late drop is a late jump
    rows = curve("f", "t", "token_loss", loss, direction=-1)
    rows.append({**rows[0], "model": "f-unknown", "params": None})
    result = score_emergence(point_set(rows), x="params")
    row = result.row(0, named=True)
    assert row["score"] == pytest.approx(emergence_score(-np.array(loss)))
    assert row["score"] > 0 and row["n_models"] == 5 and row["scale"] == "log"
    assert "skipped 1 models with no params" in row["note"]
    assert row["lo"] is None  # no replicates: no score CI
    slope, intercept = np.polyfit([8.0, 9.0, 10.0], -np.log(loss[1:4]), 1)
    assert row["jump_at"] == "f-4" and row["jump"] == pytest.approx(-np.log(1.5) - (intercept + 11 * slope))
    assert row["status"] == "jump"  # the point intervals (+-0.01) give the noise: far beyond it


def test_score_ci_comes_from_the_paired_replicates():
    values = np.array([0.0, 0.05, 0.1, 0.6, 0.9])
    rng = np.random.default_rng(0)
    reps = values + rng.normal(0, 0.02, size=(500, 5))
    models = tuple(f"f-{i}" for i in range(5))
    shuffled = (
        models[3],
        models[0],
        models[4],
        models[1],
        models[2],
    )  # replicate order need not be scale order
    column = {m: reps[:, i] for i, m in enumerate(models)}
    replicate_values = np.stack([column[m] for m in shuffled], axis=1)
    points = point_set(
        curve("f", "t", "exact_match", values, kind="discontinuous"),
        {("f", "t", "exact_match"): Replicates(shuffled, replicate_values)},
    )
    row = score_emergence(points).row(0, named=True)
    expected = np.quantile(emergence_scores(reps), [0.025, 0.975], method="inverted_cdf")
    assert (row["lo"], row["hi"]) == pytest.approx(tuple(expected))
    assert row["lo"] < row["score"] < row["hi"]


@pytest.mark.skipif(not PYTHIA.exists(), reason=f"{PYTHIA} is absent (shared data not checked out)")
def test_pythia_final_checkpoint_scored():
    final = pl.read_csv(PYTHIA).filter((pl.col("step") == 143000) & (pl.col("shots") == 0))
    frame = final.select(
        pl.when(pl.col("dedup") == 1)
        .then(pl.lit("pythia-deduped"))
        .otherwise(pl.lit("pythia"))
        .alias("family"),
        "model",
        "task",
        "metric",
        pl.col("params_total").cast(pl.Float64).alias("params"),
        "value",
        (pl.col("value") - 1.96 * pl.col("stderr")).alias("lo"),
        (pl.col("value") + 1.96 * pl.col("stderr")).alias("hi"),
        pl.when(pl.col("metric") == "ppl").then(-1).otherwise(1).alias("direction"),
        pl.when(pl.col("metric") == "ppl")
        .then(pl.lit("continuous"))
        .otherwise(pl.lit("discontinuous"))
        .alias("kind"),
    )
    result = score_emergence(PointSet(frame=frame))
    lambada = result.filter((pl.col("family") == "pythia") & (pl.col("task") == "lambada_openai"))
    acc = lambada.filter(pl.col("metric") == "acc").row(0, named=True)
    ppl = lambada.filter(pl.col("metric") == "ppl").row(0, named=True)
    assert acc["n_models"] == 8 and acc["trend"] == "rising" and acc["spearman"] > 0.95
    assert ppl["trend"] == "rising" and ppl["score"] > 0  # perplexity falls with size: oriented, it rises
    assert ppl["scale"] == "log" and acc["scale"] == "logit"
    assert result["p_adjusted"].null_count() < result.height  # the point CIs give a noise estimate


def test_curves_not_judged_on_the_axis_draw_no_replicates():
    """``not on this axis`` and ``tied scales`` rows come before the replicates are read: a tree of
    checkpoints on x=params draws none of its (many) replicate matrices; the rows are what ``judge`` gives."""
    from analysis.emergence import JudgeSettings, curves, judge, refusal

    drawn: list[int | None] = []

    def draw(count: int | None) -> np.ndarray:
        drawn.append(count)
        return np.full((4, 5), 0.5)

    flat = curve("a", "t", "acc", [0.1, 0.2, 0.3, 0.4, 0.5])
    for row in flat:
        row["params"] = 1e9 if row["model"] != "a-4" else 1e10  # two distinct values: not on this axis
    tied = curve("b", "t", "acc", [0.1, 0.2, 0.3, 0.4, 0.5])
    tied[2]["params"] = tied[1]["params"]
    models = tuple(f"{f}-{i}" for f in "ab" for i in range(5))
    replicates = {
        (f, "t", "acc"): Replicates(models[i * 5 : i * 5 + 5], draw=draw) for i, f in enumerate("ab")
    }
    points = point_set(flat + tied, replicates)
    result = score_emergence(points)
    assert result["status"].to_list() == ["not on this axis", "tied scales"]
    assert drawn == []
    judged = point_set(curve("a", "t", "acc", [0.1, 0.2, 0.3, 0.4, 0.5]), replicates)
    assert score_emergence(judged)["status"].to_list() != ["not on this axis"] and drawn == [None]
    settings = JudgeSettings()
    for c in curves(points, "params", replicates=False):
        row = refusal(c, settings)
        assert row is not None
        assert row == judge(c, None, None, settings, np.random.default_rng(0))
