"""The mirage simulator: simulated means sit inside binomial/bootstrap intervals of the closed forms."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.errors import InputError
from analysis.resampling.intervals import wilson_interval
from analysis.simulate import mc_grade_probability, mirage_curves, simulate, write_samples

C, ALPHA, LENGTH, CHOICES, ITEMS = 5.66e6, -0.4, 8, 4, 2000
SIZES = np.geomspace(1e7, 1e11, 5)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return simulate(C, ALPHA, SIZES, LENGTH, CHOICES, ITEMS, seed=1)


def generation_scores(frame: pl.DataFrame) -> pl.DataFrame:
    """Exact match and wrong-token counts per row, counted with numpy (independent of metrics.py)."""
    rows = frame.filter(pl.col("task") == "generation").sort("params", maintain_order=True)
    target = np.array(rows["target"].to_list(), dtype=f"S{LENGTH}").view("S1").reshape(-1, LENGTH)
    prediction = np.array(rows["prediction"].to_list(), dtype=f"S{LENGTH}").view("S1").reshape(-1, LENGTH)
    wrong = (target != prediction).sum(axis=1)
    return rows.select("params").with_columns(
        exact=pl.Series(wrong == 0).cast(pl.Float64), wrong=pl.Series(wrong)
    )


def test_rows_and_columns(frame: pl.DataFrame) -> None:
    assert frame.height == len(SIZES) * ITEMS * 2
    assert set(frame["task"].unique()) == {"generation", "choice"}
    assert frame.group_by("model", "task").len()["len"].to_list() == [ITEMS] * (2 * len(SIZES))
    generation = frame.filter(pl.col("task") == "generation")
    assert (generation["target"].str.len_chars() == LENGTH).all()
    assert generation["target"].str.contains("^[a-z]+$").all()
    choice = frame.filter(pl.col("task") == "choice")
    assert choice["choice_logliks"].list.len().unique().to_list() == [CHOICES]
    probabilities = np.exp(np.vstack(choice["choice_logliks"].to_list()))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


def test_exact_match_and_edit_distance_match_closed_forms(frame: pl.DataFrame) -> None:
    curves = mirage_curves(C, ALPHA, SIZES, LENGTH, CHOICES)
    scores = (
        generation_scores(frame)
        .group_by("params")
        .agg(
            pl.col("exact").sum().alias("k"),
            pl.col("wrong").mean().alias("ted"),
            pl.col("wrong").std().alias("sd"),
        )
    )
    scores = scores.sort("params")
    lo, hi = wilson_interval(scores["k"].to_numpy(), ITEMS, 0.999)
    assert np.all((lo <= curves["exact_match"]) & (curves["exact_match"] <= hi))
    ted, half = scores["ted"].to_numpy(), 3.3 * scores["sd"].to_numpy() / np.sqrt(ITEMS)
    assert np.all(np.abs(ted - curves["token_edit_distance"]) <= half)
    # the same p(N): exact match goes from under 1% to over 80% (the jump the mirage paper explains)
    assert curves["exact_match"][0] < 0.01 < 0.8 < curves["exact_match"][-1]


def test_token_logprobs_give_the_token_loss(frame: pl.DataFrame) -> None:
    generation = (
        frame.filter(pl.col("task") == "generation")
        .group_by("params")
        .agg(pl.col("target_logprobs").list.mean().mean().alias("mean_logprob"))
    )
    generation = generation.sort("params")
    np.testing.assert_allclose(-generation["mean_logprob"].to_numpy(), (SIZES / C) ** ALPHA, rtol=1e-12)


def test_item_spread_keeps_the_mean_token_loss_and_matches_the_closed_forms() -> None:
    spread = 0.5
    rows = simulate(C, ALPHA, SIZES[:3], 4, 4, 20_000, seed=5, spread=spread)
    generation = rows.filter(pl.col("task") == "generation").with_columns(
        (-pl.col("target_logprobs").list.mean()).alias("loss"),
        (pl.col("target") == pl.col("prediction")).cast(pl.Float64).alias("exact"),
    )
    per_model = generation.group_by("params").agg(
        pl.col("loss").mean().alias("mean"), pl.col("loss").std().alias("sd"), pl.col("exact").mean()
    )
    per_model = per_model.sort("params")
    expected = (SIZES[:3] / C) ** ALPHA
    np.testing.assert_allclose(per_model["mean"].to_numpy(), expected, rtol=0.015)
    np.testing.assert_allclose(
        per_model["sd"].to_numpy(), expected * np.sqrt(np.exp(spread**2) - 1), rtol=0.05
    )
    curves = mirage_curves(C, ALPHA, SIZES[:3], 4, 4, spread=spread)
    lo, hi = wilson_interval(per_model["exact"].to_numpy() * 20_000, 20_000, 0.999)
    assert np.all((lo <= curves["exact_match"]) & (curves["exact_match"] <= hi))
    # an item's exact-match chance is the product of its token probabilities: p_i^L = exp(sum of log-probs)
    sequence = generation.select(pl.col("target_logprobs").list.sum().exp().alias("p"), "params", "exact")
    by_model = sequence.group_by("params").agg(pl.col("p").mean(), pl.col("exact").mean()).sort("params")
    np.testing.assert_allclose(by_model["p"].to_numpy(), curves["exact_match"], rtol=0.03)


def test_true_emergence_divides_the_loss_from_the_jump_on() -> None:
    curves = mirage_curves(C, ALPHA, SIZES, 4, 4, jump_at=SIZES[2], jump_factor=10.0)
    plain = mirage_curves(C, ALPHA, SIZES, 4, 4)
    np.testing.assert_allclose(curves["token_loss"][:2], plain["token_loss"][:2])
    np.testing.assert_allclose(curves["token_loss"][2:], plain["token_loss"][2:] / 10.0)
    rows = simulate(C, ALPHA, SIZES, 4, 4, 200, seed=1, jump_at=SIZES[2], jump_factor=10.0)
    loss = (
        rows.filter(pl.col("task") == "generation")
        .group_by("params")
        .agg((-pl.col("target_logprobs").list.mean()).mean())
    )
    np.testing.assert_allclose(loss.sort("params")["target_logprobs"].to_numpy(), curves["token_loss"])


def test_choice_probability_and_grade(frame: pl.DataFrame) -> None:
    c, alpha = 2e8, -0.37
    sizes = np.geomspace(1e8, 1e10, 5)
    choice = simulate(c, alpha, sizes, 3, CHOICES, ITEMS, seed=2).filter(pl.col("task") == "choice")
    logliks = np.vstack(choice["choice_logliks"].to_list())
    correct = choice["correct_choice"].to_numpy()
    p_correct = np.exp(logliks[np.arange(len(correct)), correct])
    grade = (logliks.argmax(axis=1) == correct).astype(float)
    per_model = choice.select("params").with_columns(p=pl.Series(p_correct), grade=pl.Series(grade))
    per_model = per_model.group_by("params").agg(pl.col("p").mean(), pl.col("grade").sum()).sort("params")
    curves = mirage_curves(c, alpha, sizes, 3, CHOICES)
    np.testing.assert_allclose(per_model["p"].to_numpy(), curves["choice_prob"], rtol=1e-12)
    lo, hi = wilson_interval(per_model["grade"].to_numpy(), ITEMS, 0.999)
    assert np.all((lo <= curves["mc_grade"]) & (curves["mc_grade"] <= hi))


def test_mc_grade_closed_form_by_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.ones(3), size=200_000).max(axis=1)
    for p in (0.2, 0.3, 0.4, 0.5):
        assert mc_grade_probability(p, 4) == pytest.approx((p > (1 - p) * shares).mean(), abs=0.005)
    assert mc_grade_probability(0.25, 4) == pytest.approx(0.0, abs=1e-12)
    assert mc_grade_probability(0.5, 4) == 1.0
    np.testing.assert_array_equal(mc_grade_probability(np.array([0.4, 0.6]), 2), [0.0, 1.0])


def test_inverse_scaling_and_determinism() -> None:
    curves = mirage_curves(2.2e10, 0.3, SIZES, 5, 4)
    assert np.all(np.diff(curves["token_loss"]) > 0) and np.all(np.diff(curves["exact_match"]) < 0)
    first = simulate(2.2e10, 0.3, SIZES, 5, 4, 50, seed=3, family="f", task_prefix="inv_")
    assert first.equals(simulate(2.2e10, 0.3, SIZES, 5, 4, 50, seed=3, family="f", task_prefix="inv_"))
    assert not first.equals(simulate(2.2e10, 0.3, SIZES, 5, 4, 50, seed=4, family="f", task_prefix="inv_"))
    assert set(first["task"]) == {"inv_generation", "inv_choice"} and set(first["family"]) == {"f"}


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_write_samples_round_trips(tmp_path, suffix: str) -> None:
    frame = simulate(C, ALPHA, SIZES[:2], 4, 3, 5, seed=0)
    path = write_samples(frame, tmp_path / f"sim{suffix}")
    if suffix == ".parquet":
        back = pl.read_parquet(path)
    elif suffix == ".jsonl":
        back = pl.read_ndjson(path, schema=frame.schema)
    else:
        back = pl.read_csv(path)
        lists = back["choice_logliks"].drop_nulls().str.json_decode(pl.List(pl.Float64))
        np.testing.assert_array_equal(
            np.vstack(lists.to_list()), np.vstack(frame["choice_logliks"].drop_nulls().to_list())
        )
        return
    assert back.equals(frame)


def test_bad_arguments_raise() -> None:
    with pytest.raises(InputError, match="--c"):
        simulate(-1.0, ALPHA, SIZES, 4, 4, 10, seed=0)
    with pytest.raises(InputError, match="--params"):
        simulate(C, ALPHA, [1e7, -5], 4, 4, 10, seed=0)
    with pytest.raises(InputError, match="--choices"):
        simulate(C, ALPHA, SIZES, 4, 1, 10, seed=0)
    with pytest.raises(InputError, match="unknown output format"):
        write_samples(simulate(C, ALPHA, SIZES, 4, 4, 2, seed=0), "out.xlsx")


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_end_to_end_simulate_load_score_points(tmp_path, suffix: str) -> None:
    """The simulator's file goes through the loader and metrics like a user's file; points match p(N)."""
    from analysis.loading import load
    from analysis.metrics import score_samples
    from analysis.options import LoadOptions, MetricOptions, ResampleSettings
    from analysis.resampling import compute_points

    c, alpha, sizes, length, choices, items = 2e8, -0.37, np.geomspace(1e8, 1e11, 4), 4, 4, 1500
    path = write_samples(simulate(c, alpha, sizes, length, choices, items, seed=8), tmp_path / f"sim{suffix}")
    table = load([path], LoadOptions())
    scored = score_samples(table, MetricOptions())
    points = compute_points(scored, table, ResampleSettings(bootstrap=300, seed=1)).frame.sort("params")
    curves = mirage_curves(c, alpha, sizes, length, choices)

    def metric(name: str) -> pl.DataFrame:
        rows = points.filter(pl.col("metric") == name)
        assert rows.height == len(sizes) and rows["n"].to_list() == [items] * len(sizes)
        return rows

    exact = metric("exact_match")
    k = exact["value"].to_numpy() * items
    lo, hi = wilson_interval(k, items, 0.999)
    assert np.all((lo <= curves["exact_match"]) & (curves["exact_match"] <= hi))
    for name, expected in (("token_edit_distance", curves["token_edit_distance"]), ("brier", None)):
        rows = metric(name)
        if expected is None:
            expected = curves["brier_multiclass"]
        assert np.all(np.abs(rows["value"].to_numpy() - expected) <= 3.5 * rows["stderr"].to_numpy())
        assert ((rows["lo"] <= rows["value"]) & (rows["value"] <= rows["hi"])).all()
    np.testing.assert_allclose(metric("token_loss")["value"].to_numpy(), curves["token_loss"], rtol=1e-9)
    np.testing.assert_allclose(metric("choice_prob")["value"].to_numpy(), curves["choice_prob"], rtol=1e-9)
    grade = metric("mc_grade")
    lo, hi = wilson_interval(grade["value"].to_numpy() * items, items, 0.999)
    assert np.all((lo <= curves["mc_grade"] + 1e-12) & (curves["mc_grade"] <= hi + 1e-12))


def test_sample_data_is_what_the_script_builds() -> None:
    from pathlib import Path

    from polars.testing import assert_frame_equal

    from analysis.sample_data import FILE_NAME, OUTPUT, build

    path = Path(OUTPUT) / FILE_NAME
    shipped = pl.read_parquet(path)
    # exp/log may differ in the last bit between numpy builds: the numbers, not the bytes, must agree
    assert_frame_equal(shipped, build(), check_exact=False, rel_tol=1e-12)
    assert path.stat().st_size < 3_000_000
    sizes = np.sort(shipped["params"].unique().to_numpy())
    assert len(sizes) >= 8 and sizes[-1] / sizes[0] >= 1e3
    assert set(shipped["family"]) == {"toy-lm"}
    counts = shipped.group_by("model", "task").len()["len"]
    assert counts.min() >= 1000
    assert set(shipped["task"]) == {"long_answer", "multiple_choice", "inverse_scaling", "true_jump"}
    inverse = (
        shipped.filter(pl.col("task") == "inverse_scaling")
        .group_by("params")
        .agg((-pl.col("target_logprobs").list.mean()).mean().alias("loss"))
    )
    assert np.all(np.diff(inverse.sort("params")["loss"].to_numpy()) > 0)
    spread = shipped.filter(pl.col("task") == "long_answer", pl.col("model") == "1B")["target_logprobs"]
    assert spread.list.first().std() > 0.1  # items differ: intervals are honest, never zero-width


def test_measured_accuracy_reads_zero_below_the_one_over_n_floor() -> None:
    """An n-item test set cannot see an accuracy far below 1/n: it reads 0; near 1/2 it reads close."""
    from analysis.simulate import measured_accuracy

    readings = measured_accuracy([1e-6, 0.5], items=100, seed=0)
    assert readings[0] == 0.0
    assert abs(readings[1] - 0.5) < 0.15
    assert (measured_accuracy([0.3] * 5, 100, seed=1) == measured_accuracy([0.3] * 5, 100, seed=1)).all()
