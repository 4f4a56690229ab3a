"""Verdicts on data simulated with known truth: no emergence (the mirage model), real emergence (the
per-token loss itself drops), smooth losses, saturation, too few scales, and the jump test's false alarms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from analysis.emergence import score_emergence
from analysis.formats.finalize import finalize
from analysis.mirage import task_verdicts
from analysis.options import LoadOptions, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from analysis.schema import MetricSpec, PointSet, ResultTable
from analysis.simulate import simulate

NINE = np.geomspace(1e7, 1e11, 9)
CONTINUOUS = ("token_loss", "token_prob", "token_edit_distance", "brier", "choice_prob")


def analyse(frame: pl.DataFrame, bootstrap: int = 200, ci: float = 0.95) -> tuple[pl.DataFrame, pl.DataFrame]:
    table = finalize(ResultTable(samples=frame), LoadOptions(), "simulated")
    return Pipeline(table).emergence(MetricOptions(), ResampleSettings(bootstrap=bootstrap, ci=ci), "params")


def status(emergence: pl.DataFrame, task: str, metric: str) -> str:
    return emergence.filter((pl.col("task") == task) & (pl.col("metric") == metric))["status"].item()


def category(verdicts: pl.DataFrame, task: str) -> str:
    return verdicts.filter(pl.col("task") == task)["category"].item()


GRID = list(itertools.product([3e8, 3e9], [-0.4, -0.7], [1, 3, 5, 20], [2, 4]))


# the tests of mirage_grid share an xdist group: the 32 simulated pipelines once, on one worker
SHARED_MIRAGE_GRID = pytest.mark.xdist_group("mirage_grid")


@pytest.fixture(scope="module")
def mirage_grid() -> list[tuple[tuple, pl.DataFrame, pl.DataFrame]]:
    """The mirage model (no emergence: the per-token loss is a power law) over a grid of c, alpha, L, K at
    n = 1000 items with item heterogeneity."""
    out = []
    for i, (c, alpha, length, choices) in enumerate(GRID):
        frame = simulate(c, alpha, NINE, length, choices, 1000, seed=i, spread=0.5)
        out.append(((c, alpha, length, choices), *analyse(frame)))
    return out


@SHARED_MIRAGE_GRID
def test_every_continuous_metric_of_the_mirage_model_is_smooth(mirage_grid) -> None:
    for params, emergence, _ in mirage_grid:
        for metric in CONTINUOUS:
            task = "choice" if metric in ("brier", "choice_prob") else "generation"
            assert status(emergence, task, metric) == "smooth", (params, metric)


@SHARED_MIRAGE_GRID
def test_long_exact_match_over_nine_scales_is_a_mirage(mirage_grid) -> None:
    """L >= 5 (and L = 3 on the steeper alpha) rises sharply within the scales: a mirage; L = 3 at alpha -0.4
    rises by about 0.13 per half decade from 1e8 on, which no plot shows as a jump: smooth, never a jump."""
    for (c, alpha, length, choices), _, verdicts in mirage_grid:
        if length >= 5 or (length == 3 and alpha == -0.7):
            assert category(verdicts, "generation") == "mirage", (c, alpha, length, choices)
        elif length == 3:
            assert category(verdicts, "generation") in ("mirage", "smooth"), (c, alpha, length, choices)
    sentence = mirage_grid[-1][2].filter(pl.col("task") == "generation")["verdict"].item()
    assert sentence.startswith("mirage: exact_match looks like a jump")
    assert "token_edit_distance, token_loss, token_prob and seq_prob follow" in sentence  # every partner


@SHARED_MIRAGE_GRID
def test_one_token_exact_match_gets_the_same_call_as_its_edit_distance(mirage_grid) -> None:
    for params, emergence, _ in mirage_grid:
        if params[2] == 1:
            em = status(emergence, "generation", "exact_match")
            assert em == status(emergence, "generation", "token_edit_distance") == "smooth", params


@SHARED_MIRAGE_GRID
def test_multiple_choice_grade_of_the_mirage_model_is_never_a_surviving_jump(mirage_grid) -> None:
    for params, _, verdicts in mirage_grid:
        assert category(verdicts, "choice") in ("mirage", "smooth"), params


@pytest.mark.parametrize("length,choices", [(3, 2), (20, 4)])
def test_true_emergence_survives_and_the_continuous_metrics_jump_too(length: int, choices: int) -> None:
    frame = simulate(1e9, -0.5, NINE, length, choices, 1000, seed=5, spread=0.5, jump_at=1e9, jump_factor=10)
    emergence, verdicts = analyse(frame)
    for metric in ("token_loss", "token_prob", "token_edit_distance", "choice_prob"):
        task = "choice" if metric == "choice_prob" else "generation"
        assert status(emergence, task, metric) == "jump", metric
        row = emergence.filter((pl.col("task") == task) & (pl.col("metric") == metric)).row(0, named=True)
        assert row["jump_at"] == "1B" and row["jump"] == pytest.approx(math.log(10), abs=0.3)
    assert category(verdicts, "generation") == "survives"
    assert category(verdicts, "choice") == "survives"


def aggregate_points(
    values: np.ndarray, scales: np.ndarray, metric: str, direction: int, kind: str = "continuous", **columns
) -> PointSet:
    """Aggregate points of one curve; ``columns`` are per-point arrays (n, stderr, chance)."""
    frame = pl.DataFrame(
        {"family": "f", "model": [f"m{i}" for i in range(len(values))], "task": "t", "metric": metric,
         "params": np.asarray(scales, dtype=float), "value": np.asarray(values, dtype=float),
         "direction": direction, "kind": kind}
        | {k: np.broadcast_to(v, len(values)) for k, v in columns.items()}
    )  # fmt: skip
    binary = "n" in columns and kind == "discontinuous"
    chance = float(np.max(columns["chance"])) if "chance" in columns else None
    return PointSet(frame=frame, specs={metric: MetricSpec(metric, direction, kind, binary, chance)})


SPACINGS = {
    "log-even 9": np.geomspace(1e7, 1e11, 9),
    "uneven 7": np.array([3e6, 1e7, 1.2e7, 5e8, 6e8, 2e10, 1e11]),
    "20 scales": np.geomspace(1e6, 1e12, 20),
    "5 scales": np.geomspace(1e8, 1e10, 5),
}


@pytest.mark.parametrize("spacing", SPACINGS)
def test_power_laws_and_saturating_losses_are_never_jumps(spacing: str) -> None:
    x = SPACINGS[spacing]
    rng = np.random.default_rng(1)
    for law in ("power", "saturating"):
        loss = (x / 1e5) ** -0.3 + (1.7 if law == "saturating" else 0.0)
        noisy = loss * np.exp(rng.normal(0, 0.01, loss.size))
        for values in (loss, noisy):
            row = score_emergence(aggregate_points(values, x, "loss", -1, stderr=0.01 * values)).row(
                0, named=True
            )
            assert row["status"] == "smooth", (law, row["sentence"])


def test_accuracy_that_saturates_early_is_not_a_jump() -> None:
    """Rises smoothly (a logistic in log N: a line on the logit scale), then sits at the ceiling."""
    x = np.geomspace(1e7, 1e11, 9)
    accuracy = 1 / (1 + np.exp(-1.5 * (np.log10(x) - 8.0)))
    rng = np.random.default_rng(2)
    counts = rng.binomial(2000, accuracy)
    points = aggregate_points(counts / 2000, x, "acc", 1, "discontinuous", n=2000)
    emergence = score_emergence(points)
    assert emergence["status"].item() == "smooth"
    assert task_verdicts(emergence, points)["category"].item() == "smooth"


def test_four_scales_with_one_jump_are_too_few() -> None:
    frame = simulate(1e9, -0.5, np.geomspace(1e8, 1e10, 4), 5, 4, 1000, seed=1, jump_at=1e9, jump_factor=30)
    emergence, verdicts = analyse(frame)
    assert set(emergence["status"]) == {"too few scales"}
    assert set(verdicts["category"]) == {"too few scales"}
    assert "cannot tell a step from a bend" in verdicts["verdict"][0]


def test_false_positive_rate_of_jump_calls_over_200_smooth_curves() -> None:
    """200 smooth accuracy curves (logistic in log N, so a line on the logit scale) measured on 300 binomial
    items: jump calls after Benjamini-Hochberg stay within the 5% level (here: none at all or a few)."""
    rng = np.random.default_rng(11)
    x = np.geomspace(1e7, 1e11, 8)
    frames = []
    for k in range(200):
        slope, middle = rng.uniform(0.5, 2.0), rng.uniform(8, 10)
        accuracy = 0.25 + 0.75 / (1 + np.exp(-slope * (np.log10(x) - middle)))
        counts = rng.binomial(300, accuracy)
        points = aggregate_points(counts / 300, x, "acc", 1, "discontinuous", n=300, chance=0.25)
        frames.append(points.frame.with_columns(pl.lit(f"t{k:03d}").alias("task")))
    emergence = score_emergence(PointSet(frame=pl.concat(frames), specs=points.specs), seed=3)
    calls = int((emergence["status"] == "jump").sum())
    assert calls <= 10  # 5% of 200
    assert emergence["p_adjusted"].drop_nulls().len() > 100  # the test ran on most curves


def test_jump_test_finds_a_real_jump_among_the_same_200_curves() -> None:
    x = np.geomspace(1e7, 1e11, 8)
    jumped = np.where(x >= 1e9, 0.9, 0.4)
    counts = np.random.default_rng(0).binomial(300, jumped)
    points = aggregate_points(counts / 300, x, "acc", 1, "discontinuous", n=300, chance=0.25)
    emergence = score_emergence(points)
    row = emergence.row(0, named=True)
    assert row["status"] == "jump" and row["jump_at"] == "m4"
    assert task_verdicts(emergence, points)["category"].item() == "emergent (unchecked)"


def test_resolution_decides_nothing_on_its_own() -> None:
    """One fixed logistic accuracy curve (floor 0) measured on 100 items, 40 times: the points at 0 are below
    resolution and never make a jump (the old breakthroughness rule called 48% of these emergent)."""
    x = np.geomspace(1e7, 1e11, 9)
    truth = 1 / (1 + np.exp(-2.0 * (np.log10(x) - 10.0)))
    rng = np.random.default_rng(4)
    calls = []
    for _ in range(40):
        counts = rng.binomial(100, truth)
        points = aggregate_points(counts / 100, x, "exact_match", 1, "discontinuous", n=100)
        emergence = score_emergence(points)
        calls.append(task_verdicts(emergence, points)["category"].item())
    assert "emergent (unchecked)" not in calls
    assert set(calls) <= {"smooth", "unresolved", "inconclusive"}


def test_ci_setting_reaches_the_emergence_score_interval() -> None:
    frame = simulate(1e9, -0.5, NINE, 5, 4, 300, seed=2, spread=0.5)
    wide = analyse(frame, ci=0.99)[0].filter(pl.col("metric") == "token_prob").row(0, named=True)
    narrow = analyse(frame, ci=0.5)[0].filter(pl.col("metric") == "token_prob").row(0, named=True)
    assert wide["lo"] < narrow["lo"] < narrow["hi"] < wide["hi"]


def test_curves_without_a_shape_get_no_score() -> None:
    one_size = aggregate_points(np.array([0.1, 0.3, 0.5, 0.7]), np.full(4, 1e9), "acc", 1, n=100)
    row = score_emergence(one_size).row(0, named=True)
    assert row["status"] == "not on this axis"
    assert row["score"] is None and row["lo"] is None and row["trend"] is None
    tied = aggregate_points(np.linspace(0.1, 0.9, 6), np.array([1e8, 1e9, 1e9, 1e10, 1e11, 1e12]), "acc", 1)
    row = score_emergence(tied).row(0, named=True)
    assert row["status"] == "tied scales" and "'m1', 'm2' at 1e+09" in row["ties"]
    assert "--map instruction_tuned=variant" in row["sentence"] and row["score"] is None


def test_the_same_numbers_under_two_names_are_judged_once() -> None:
    frame = simulate(3e8, -0.6, NINE, 5, 4, 500, seed=3, spread=0.5)
    choice = frame.filter(pl.col("task") == "choice")
    logliks = np.vstack(choice["choice_logliks"].to_list())
    acc = (logliks.argmax(axis=1) == choice["correct_choice"].to_numpy()).astype(float)
    table = finalize(
        ResultTable(
            samples=frame.with_columns(pl.lit(None, pl.Float64).alias("acc")).update(
                choice.with_columns(pl.Series("acc", acc)), on=["model", "task", "item"]
            ),
            prescored=("acc",),
        ),
        LoadOptions(),
        "simulated",
    )
    emergence, verdicts = Pipeline(table).emergence(
        MetricOptions(), ResampleSettings(bootstrap=100), "params"
    )
    assert status(emergence, "choice", "acc") == "same as mc_grade"
    assert verdicts.filter(pl.col("task") == "choice")["metric"].to_list() == ["mc_grade"]
