"""Fits recover the parameters they were generated with, refuse when they cannot, and backtest honestly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis import fits as F
from analysis.fits import (
    backtest,
    bootstrap,
    fit_law,
    fit_points,
    fit_table,
    held_out,
    held_out_rows,
    holds_out_largest,
    optimizer,
    problems,
    procedure,
)
from analysis.fits.laws import joint, logistic, saturating
from analysis.options import FitSettings
from analysis.schema import MetricSpec, PointSet

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CHINCHILLA = DATA / "chinchilla" / "tidy.csv"
PYTHIA = DATA / "pythia" / "tidy.csv"


def refine(
    problem: problems._Problem,
    starts: np.ndarray,
    weights: np.ndarray,
    max_iter: int = 200,
    settle: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The optimizer's refinement of many starts (each row with its own weights) on one problem."""
    k = len(starts)
    rows = optimizer._Rows(problem, starts, weights, np.full(k, max_iter), np.full(k, settle))
    return optimizer._refine_jobs([rows])[0]


def lognormal_noise(rng: np.random.Generator, y: np.ndarray, sigma: float) -> np.ndarray:
    return y * np.exp(rng.normal(0.0, sigma, y.shape))


# --------------------------------------------------------------------------------------------- recovery


def test_power_recovers_exactly_and_with_noise():
    x = np.logspace(6, 11, 12)
    exact = fit_law(x, 3.0 * x**-0.2, "power")
    assert exact.ok and exact.r2_space == "log"
    assert exact.params["a"] == pytest.approx(3.0, rel=1e-10)
    assert exact.params["b"] == pytest.approx(-0.2, rel=1e-10)
    assert exact.r2 == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noisy = fit_law(x, lognormal_noise(rng, 3.0 * x**-0.2, 0.02), "power", bootstrap=500, seed=1)
    assert noisy.params["b"] == pytest.approx(-0.2, abs=0.01)
    lo, hi = noisy.ci["b"]
    assert lo < -0.2 < hi and hi - lo < 0.03
    assert noisy.n_bootstrap + noisy.n_bootstrap_failed == 500


def test_saturating_recovers_exactly_and_with_noise():
    x = np.logspace(7, 10, 20)
    y = saturating(x, 1.7, 400.0, 0.34)
    exact = fit_law(x, y, "saturating")
    assert exact.ok
    assert exact.params == pytest.approx({"E": 1.7, "A": 400.0, "alpha": 0.34}, rel=1e-4)
    np.testing.assert_allclose(exact.predict(x), y, rtol=1e-6)
    rng = np.random.default_rng(3)
    xs = np.logspace(7, 11, 40)
    noisy = fit_law(
        xs, lognormal_noise(rng, saturating(xs, 1.7, 400.0, 0.34), 0.005), "saturating", bootstrap=300
    )
    assert noisy.params["alpha"] == pytest.approx(0.34, abs=0.03)
    assert noisy.params["E"] == pytest.approx(1.7, abs=0.05)
    for name, truth in (("E", 1.7), ("alpha", 0.34)):
        lo, hi = noisy.ci[name]
        assert lo < truth < hi, name


def test_joint_recovers_generated_parameters():
    rng = np.random.default_rng(5)
    n_ = 10 ** rng.uniform(7, 10, 120)
    d_ = 10 ** rng.uniform(9, 12, 120)
    truth = {"E": 1.8, "A": 480.0, "alpha": 0.35, "B": 2000.0, "beta": 0.37}
    loss = joint(n_, d_, *truth.values())
    exact = fit_law(n_, loss, "joint", x2=d_)
    assert exact.ok and exact.x2 == "x2"
    assert exact.params == pytest.approx(truth, rel=1e-3)
    noisy = fit_law(n_, lognormal_noise(rng, loss, 0.005), "joint", x2=d_)
    assert noisy.params["alpha"] == pytest.approx(0.35, abs=0.03)
    assert noisy.params["beta"] == pytest.approx(0.37, abs=0.03)
    assert noisy.params["E"] == pytest.approx(1.8, abs=0.1)


def test_logistic_recovers_with_fixed_and_free_floor():
    x = np.logspace(7, 11, 9)
    y = logistic(x, 0.25, 0.9, 3.0, 9.0)
    fixed = fit_law(x, y, "logistic", floor=0.25)
    assert fixed.ok and fixed.fixed == ("floor",) and fixed.r2_space == "linear"
    assert fixed.params == pytest.approx({"floor": 0.25, "ceil": 0.9, "k": 3.0, "x0": 9.0}, rel=1e-5)
    free = fit_law(x, y, "logistic")
    assert free.params == pytest.approx({"floor": 0.25, "ceil": 0.9, "k": 3.0, "x0": 9.0}, rel=1e-4)
    rng = np.random.default_rng(2)
    noisy = fit_law(x, y + rng.normal(0, 0.01, x.size), "logistic", floor=0.25, bootstrap=300)
    assert noisy.params["x0"] == pytest.approx(9.0, abs=0.1)
    assert noisy.params["ceil"] == pytest.approx(0.9, abs=0.03)
    lo, hi = noisy.ci["x0"]
    assert lo < 9.0 < hi
    assert "floor" not in noisy.ci  # held fixed, not estimated: no CI


def test_saturating_on_a_pure_power_law_sends_the_floor_to_zero():
    x = np.logspace(7, 11, 9)
    fit = fit_law(x, (x / 5.66e6) ** -0.4, "saturating")  # the mirage model's CE: no irreducible term
    assert fit.ok, fit.message
    assert fit.params["alpha"] == pytest.approx(0.4, rel=1e-4)
    assert fit.params["E"] < 1e-4
    np.testing.assert_allclose(fit.predict(x), (x / 5.66e6) ** -0.4, rtol=1e-4)


def test_shape_parameters_at_a_search_bound_are_refused_with_the_reason():
    x = np.logspace(7, 11, 9)
    step = np.where(x < 1e9, 0.25, 1.0)
    fit = fit_law(x, step, "logistic", floor=0.25)
    assert not fit.ok and fit.params == {}
    assert "k at its bound 30 per decade" in fit.message and "steepness is not measured" in fit.message
    rising_loss = fit_law(x, np.linspace(1.0, 2.0, 9), "saturating")  # a law that can only fall
    assert not rising_loss.ok
    assert "rise with x" in rising_loss.message and "--law power" in rising_loss.message


def test_decreasing_logistic_has_negative_k():
    x = np.logspace(7, 11, 9)
    fit = fit_law(x, logistic(x, 0.0, 0.8, -2.0, 9.5), "logistic", floor=0.0)
    assert fit.params["k"] == pytest.approx(-2.0, rel=1e-4)


def test_batched_refinement_reaches_the_lbfgs_optimum():
    """The replicates' optimiser and L-BFGS-B agree on the unresampled data: replicates refit the same way."""
    rng = np.random.default_rng(11)
    x = np.logspace(7, 10, 20)
    problem = problems._saturating_problem(x, lognormal_noise(rng, saturating(x, 1.7, 400.0, 0.34), 0.01))
    start = problem.grid[np.argmin(optimizer._grid_losses(problem, np.ones((1, 20)))[0])]
    lbfgs_theta, lbfgs_value, ok = optimizer._polish(problem, start)
    batch_theta, batch_value, converged = refine(problem, start[None, :], np.ones((1, 20)))
    assert ok and converged[0]
    assert batch_value[0] == pytest.approx(lbfgs_value, rel=1e-7)
    np.testing.assert_allclose(batch_theta[0], lbfgs_theta, atol=1e-4)


# Optima and CIs pinned to the values of the original (unbatched, np.linalg.solve) search, so a speed-up of
# the refinement cannot silently move a result. Objectives to 1e-6 relative, CIs of well-posed fits to 1e-4.
_NOISY_X = np.logspace(8, 11, 8)
_PINNED = {
    "saturating": (
        lambda: (np.logspace(7, 10, 20), None, None),
        lambda x: lognormal_noise(np.random.default_rng(8), saturating(x, 1.7, 400.0, 0.34), 0.01),
        0.10846865667015257,
        {"E": 1.644936, "A": 207.554176, "alpha": 0.299695},
        {"E": (1.5786898, 1.7278741), "A": (105.64134, 358.40722), "alpha": (0.25808315, 0.33704351)},
    ),
    "logistic": (
        lambda: (_NOISY_X, None, 0.25),
        lambda x: logistic(x, 0.25, 0.9, 2.0, 9.7) + np.random.default_rng(5).normal(0, 0.02, 8),
        0.0003456821457931286,
        {"floor": 0.25, "ceil": 0.851646, "k": 2.335208, "x0": 9.583595},
        {"ceil": (0.76533567, 0.86764482), "k": (2.1424963, 3.0721244), "x0": (9.4116875, 9.6478011)},
    ),
}


@pytest.mark.parametrize("law", sorted(_PINNED))
def test_optimum_and_cis_are_pinned(law):
    axes, make_y, objective, params, cis = _PINNED[law]
    x, x2, floor = axes()
    fit = fit_law(x, make_y(x), law, x2=x2, floor=floor, bootstrap=200)
    assert fit.ok and fit.n_bootstrap + fit.n_bootstrap_failed == 200 and fit.n_bootstrap_failed <= 1
    assert fit.objective == pytest.approx(objective, rel=1e-6)
    assert fit.params == pytest.approx(params, rel=1e-5, abs=1e-6)
    for name, (lo, hi) in cis.items():
        assert fit.ci[name] == pytest.approx((lo, hi), rel=1e-4), name


def test_joint_optimum_is_pinned():
    n_, d_ = (a.ravel() for a in np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5)))
    y = lognormal_noise(np.random.default_rng(3), joint(n_, d_, 1.69, 406.4, 0.34, 410.7, 0.28), 0.01)
    fit = fit_law(n_, y, "joint", x2=d_, bootstrap=200)
    assert fit.objective == pytest.approx(0.16514386587579172, rel=1e-6)
    expected = {"E": 1.726686, "A": 325.880437, "alpha": 0.324226, "B": 891.160642, "beta": 0.321083}
    assert fit.params == pytest.approx(expected, rel=1e-5)
    assert fit.ci["alpha"] == pytest.approx((0.30346797, 0.45255997), rel=1e-4)
    assert fit.ci["beta"] == pytest.approx((0.20960569, 0.39945000), rel=1e-4)


def test_free_floor_logistic_keeps_its_optimum_and_a_four_point_scan_is_refused():
    rng = np.random.default_rng(5)
    rng.normal(0, 0.02, 8)  # the draw the fixed-floor case above uses
    y = logistic(_NOISY_X, 0.1, 0.8, 3.0, 9.2) + rng.normal(0, 0.02, 8)
    free = fit_law(_NOISY_X, y, "logistic", bootstrap=200)
    assert free.objective == pytest.approx(0.0014970195281412352, rel=1e-6)
    assert free.params == pytest.approx(
        {"floor": 0.135834, "ceil": 0.795972, "k": 3.124953, "x0": 9.259158}, rel=1e-5
    )
    # an ObsScaling curve (4 models): x0 ends at its search bound, two decades above the data: refused
    x4, y4 = np.array([5.6e8, 1.1e9, 3.0e9, 7.1e9]), np.array([0.019, 0.022, 0.0255, 0.0475])
    scan = fit_law(x4, y4, "logistic", floor=0.0, bootstrap=200)
    assert not scan.ok and "x0 at its bound two decades above the data" in scan.message


def test_identical_bootstrap_replicates_are_fitted_once_with_the_same_result():
    """Deduplicating replicates is exact: CIs equal those of refitting every replicate separately."""
    x, y = np.array([5.6e8, 1.1e9, 3.0e9, 7.1e9, 2e10]), np.array([0.01, 0.02, 0.03, 0.2, 0.6])
    problem = problems._logistic_problem(x, y, 0.0)
    groups = np.arange(5)
    reps = bootstrap._replicates(problem, groups, 200, 0)
    assert len(reps.usable) < 200  # 5 points: many repeated multisets among 200 draws
    theta, obj, converged = refine(problem, reps.starts, reps.weights, optimizer._BATCH_MAX_ITER)
    cis, n_ok, _, _ = bootstrap._replicate_cis(problem, reps, theta, obj, converged, 0.95)
    counts = bootstrap._counts(0, 5, 200)
    losses = optimizer._grid_losses(problem, counts)
    best = np.argpartition(losses, reps.top - 1, axis=1)[:, : reps.top]
    full_theta, full_obj, _ = refine(
        problem,
        problem.grid[best.ravel()],
        np.repeat(counts, reps.top, axis=0),
        optimizer._BATCH_MAX_ITER,
    )
    winner = full_theta.reshape(200, reps.top, -1)[np.arange(200), full_obj.reshape(200, -1).argmin(axis=1)]
    natural = problem.to_natural(winner)[reps.usable[reps.copy_of]]
    assert n_ok == len(natural)
    lo, hi = np.percentile(natural, [2.5, 97.5], axis=0)
    assert cis["k"] == pytest.approx((lo[2], hi[2]), rel=1e-9)
    assert cis["x0"] == pytest.approx((lo[3], hi[3]), rel=1e-9)


def test_bootstrap_is_seeded():
    x = np.logspace(7, 10, 12)
    y = lognormal_noise(np.random.default_rng(0), saturating(x, 2.0, 50.0, 0.3), 0.01)
    first = fit_law(x, y, "saturating", bootstrap=100, seed=4)
    again = fit_law(x, y, "saturating", bootstrap=100, seed=4)
    other = fit_law(x, y, "saturating", bootstrap=100, seed=5)
    assert first.ci == again.ci
    assert first.ci != other.ci


def test_saturating_fit_with_1000_bootstrap_on_20_points_keeps_nearly_every_replicate():
    """The benchmark's fit job (its time is measured by ``emergence-tui bench``, not here)."""
    x = np.logspace(7, 10, 20)
    y = lognormal_noise(np.random.default_rng(8), saturating(x, 1.7, 400.0, 0.34), 0.01)
    fit = fit_law(x, y, "saturating", bootstrap=1000)
    assert fit.ok and fit.n_bootstrap >= 990


# --------------------------------------------------------------------------------------------- refusing


def test_too_few_points_refuse_without_numbers():
    fit = fit_law(np.array([1e8, 1e9, 1e10]), np.array([3.0, 2.5, 2.2]), "saturating")
    assert not fit.ok
    assert fit.params == {} and fit.ci == {}
    assert "needs at least 4 points" in fit.message
    assert np.isnan(fit.predict(np.array([1e9]))).all()
    assert not fit_law(np.array([1e8]), np.array([3.0]), "power").ok


def test_single_scale_and_nonpositive_values_refuse():
    same_x = fit_law(np.full(6, 1e9), np.linspace(2, 3, 6), "saturating")
    assert not same_x.ok and "distinct scales" in same_x.message
    zeros = fit_law(np.logspace(7, 10, 6), np.array([3.0, 2.0, 1.0, 0.5, 0.0, 0.0]), "saturating")
    assert not zeros.ok and "needs y > 0" in zeros.message
    no_tokens = fit_law(np.logspace(7, 10, 8), np.linspace(3, 2, 8), "joint")
    assert not no_tokens.ok and "tokens" in no_tokens.message


def test_missing_values_are_dropped_and_counted():
    x = np.array([1e7, 1e8, np.nan, 1e9, 1e10, 1e11])
    fit = fit_law(x, 2.0 * np.nan_to_num(x, nan=1.0) ** 0.1, "power")
    assert fit.ok and fit.n_points == 5 and "dropped 1 points" in fit.message


# --------------------------------------------------------------------------------------------- backtest


def test_backtest_predicts_held_out_points_of_an_exact_law():
    x = np.logspace(7, 11, 10)
    y = saturating(x, 1.7, 400.0, 0.34)
    bt = backtest(x, y, "saturating", holdout=3)
    assert bt.fit.ok and bt.fit.n_points == 7
    np.testing.assert_allclose(bt.x, x[-3:])
    np.testing.assert_allclose(bt.predicted, y[-3:], rtol=1e-5)
    assert bt.extrapolated.all()
    assert bt.error_space == "log" and bt.smooth_scale == "log"  # positive values: judged as a loss
    assert bt.mae < 1e-5
    assert bt.last_value == pytest.approx(y[6])
    assert bt.mae_last_value == pytest.approx(np.mean(np.abs(np.log(y[-3:]) - np.log(y[6]))))
    assert bt.mae_chance is None
    assert bt.mae < bt.mae_smooth < bt.mae_last_value  # the law knows its floor; the log-log line does not
    assert bt.predictable


def test_backtest_against_chance_and_largest_false():
    x = np.logspace(7, 11, 9)
    y = logistic(x, 0.25, 0.9, 3.0, 9.0)
    bt = backtest(x, y, "logistic", holdout=2, floor=0.25, chance=0.25)
    assert bt.error_space == "linear" and bt.smooth_scale == "logit"
    assert bt.mae_chance == pytest.approx(np.mean(np.abs(y[-2:] - 0.25)))
    assert bt.mae < bt.mae_last_value < bt.mae_chance
    losses = np.linspace(4.0, 2.0, 9)  # a loss axis: the best models have the smallest x
    bt_loss = backtest(losses, y, "logistic", holdout=2, floor=0.25, largest=False)
    np.testing.assert_allclose(bt_loss.x, [2.0, 2.25])
    assert bt_loss.last_value == pytest.approx(y[6])


def test_backtest_with_too_little_training_data_says_so():
    x = np.logspace(7, 9, 4)
    bt = backtest(x, saturating(x, 1.0, 5.0, 0.3), "saturating", holdout=2)
    assert not bt.ok and np.isnan(bt.predicted).all() and np.isnan(bt.mae)


def test_the_hold_out_rule_takes_whole_scales_among_points_with_values():
    x = np.array([1.0, 2.0, 2.0, 3.0, 4.0, np.nan])
    y = np.array([0.1, 0.2, 0.3, 0.4, np.nan, 0.5])  # x = 4 has no value: it is not a point
    assert held_out(x, y, 1).tolist() == [False, False, False, True, False, False]
    assert held_out(x, y, 2).tolist() == [False, True, True, True, False, False]  # both points at x = 2
    assert held_out(x, y, 1, largest=False).tolist() == [True, False, False, False, False, False]
    assert not held_out(x, y, 0).any() and held_out(x, y, 9).sum() == 4
    assert holds_out_largest("params") and holds_out_largest("flops") and not holds_out_largest("loss")


def test_held_out_rows_apply_the_rule_per_group_and_on_a_loss_axis_the_smallest_losses():
    frame = pl.DataFrame(
        {
            "family": ["a", "a", "a", "a", "b", "b", "a", "a"],
            "task": ["t"] * 6 + ["u", "u"],
            "metric": ["m"] * 8,
            "model": ["a1", "a2", "a3", "a4", "b1", "b2", "a1", "a2"],
            "params": [1e7, 1e8, 1e9, 1e10, 1e7, 1e8, 1e7, 1e8],
            "loss": [4.0, 3.0, 2.5, 2.0, 3.5, 4.5, 4.0, 3.0],
            "value": [0.1, 0.2, 0.3, None, 0.1, 0.2, 0.1, 0.2],  # a4 has no value: not a point
        }
    )
    by_params = [False, False, True, False, False, True, False, True]
    assert held_out_rows(frame, "params", 1).to_list() == by_params
    by_loss = [False, False, True, False, True, False, False, True]  # the smallest loss of each group
    assert held_out_rows(frame, "loss", 1).to_list() == by_loss
    assert not held_out_rows(frame, "params", 0).any() and held_out_rows(frame.head(0), "loss", 1).len() == 0


def test_the_fit_stage_holds_out_the_rows_the_rule_names_also_on_a_loss_axis():
    losses = np.linspace(4.0, 2.0, 7)
    rows = curve_rows("a", "t", "exact_match", np.logspace(7, 10, 7), logistic(losses, 0.0, 1.0, -40.0, 0.45))
    points = make_points([row | {"loss": loss} for row, loss in zip(rows, losses, strict=True)])
    frame = points.frame.with_columns(pl.Series("loss", losses))
    fits = fit_points(PointSet(frame=frame), FitSettings(x="loss", holdout=2, bootstrap=0))
    held = frame.filter(held_out_rows(frame, "loss", 2))["loss"].to_numpy()
    np.testing.assert_array_equal(np.sort(fits.backtests[("a", "t", "exact_match")].x), np.sort(held))
    np.testing.assert_allclose(np.sort(held), [2.0, 2.0 + 2.0 / 6])


# --------------------------------------------------------------------------------------------- stages


def make_points(rows: list[dict], specs: dict[str, MetricSpec] | None = None) -> PointSet:
    """A PointSet frame with the DESIGN.md columns (only what the fit stage reads is filled in)."""
    frame = pl.DataFrame(rows).with_columns(
        pl.col("params", "tokens", "value").cast(pl.Float64),
        pl.lit(None, dtype=pl.Float64).alias("flops"),
        pl.lit(None, dtype=pl.Float64).alias("loss"),
    )
    return PointSet(frame=frame, specs=specs or {})


def curve_rows(family: str, task: str, metric: str, params, values, **extra) -> list[dict]:
    return [
        {
            "family": family,
            "model": f"{family}-{i}",
            "task": task,
            "metric": metric,
            "params": p,
            "tokens": None,
        }
        | {"value": v}
        | extra
        for i, (p, v) in enumerate(zip(params, values, strict=True))
    ]


def test_fit_points_per_family_with_default_laws_and_skipped_rows():
    params = np.logspace(7, 11, 9)
    rows = (
        curve_rows(
            "a", "t", "token_loss", params, saturating(params, 1.5, 300.0, 0.3), direction=-1, chance=None
        )
        + curve_rows(
            "b", "t", "token_loss", params, saturating(params, 2.5, 300.0, 0.2), direction=-1, chance=None
        )
        + curve_rows(
            "a", "t", "mc_grade", params, logistic(params, 0.25, 0.8, 2.5, 9.5), direction=1, chance=0.25
        )
    )
    rows.append({**rows[0], "model": "a-unknown", "params": None})
    fits = fit_points(make_points(rows), FitSettings(bootstrap=50, holdout=2))
    loss_a = fits.results[("a", "t", "token_loss")]
    assert loss_a.law == "saturating" and loss_a.params["E"] == pytest.approx(1.5, rel=1e-3)
    assert "skipped 1 points with no params" in loss_a.message
    assert fits.results[("b", "t", "token_loss")].params["E"] == pytest.approx(2.5, rel=1e-3)  # never pooled
    grade = fits.results[("a", "t", "mc_grade")]
    assert grade.law == "logistic" and grade.fixed == ("floor",) and grade.params["floor"] == 0.25
    assert grade.params["x0"] == pytest.approx(9.5, rel=1e-4)
    assert any("skipped 1 points" in note for note in fits.notes)
    frame = fits.frame
    assert frame.height == 3
    assert set(frame.columns) >= {
        "family",
        "task",
        "metric",
        "law",
        "x",
        "params",
        "ci",
        "r2",
        "ok",
        "message",
    }
    row = frame.filter(pl.col("metric") == "mc_grade").row(0, named=True)
    assert {p["name"] for p in row["params"]} == {"floor", "ceil", "k", "x0"}
    assert row["holdout"] == 2 and row["backtest_mae"] < row["backtest_mae_last_value"]
    assert fits.backtests[("a", "t", "mc_grade")].extrapolated.all()
    record = next(r for r in fits.to_records() if r["metric"] == "token_loss" and r["family"] == "a")
    assert record["params"].keys() == {"E", "A", "alpha"} and "backtest" in record
    assert all(isinstance(v, list) and len(v) == 2 for v in record["ci"].values())


def test_fits_refined_together_equal_fits_made_one_by_one():
    """fit_points refines every triplet in shared batches (points padded, floors per row, zero weights cut):
    each result must be that of fit_law/backtest on the triplet alone."""
    rng = np.random.default_rng(21)
    rows = []
    for family, n_models, floor in (("a", 9, 0.25), ("b", 6, 0.1), ("c", 12, 0.5)):
        params = np.logspace(7, 11, n_models)
        loss = lognormal_noise(rng, saturating(params, 1.5, 300.0, 0.3), 0.02)
        grade = logistic(params, floor, 0.9, 2.0, 9.3) + rng.normal(0, 0.02, n_models)
        rows += curve_rows(family, "t", "token_loss", params, loss, direction=-1, chance=None)
        rows += curve_rows(family, "t", "mc_grade", params, grade, direction=1, chance=floor)
    rows += curve_rows("d", "t", "token_loss", [1e8, 1e9], [2.0, 1.5], direction=-1, chance=None)  # refused
    settings = FitSettings(bootstrap=40, holdout=2, seed=3)
    fits = fit_points(make_points(rows), settings)
    assert len(fits.results) == 7 and not fits.results[("d", "t", "token_loss")].ok
    for (family, task, metric), together in fits.results.items():
        curve = [r for r in rows if (r["family"], r["metric"]) == (family, metric)]
        x = np.array([r["params"] for r in curve])
        y = np.array([r["value"] for r in curve])
        law = "saturating" if metric == "token_loss" else "logistic"
        floor = curve[0]["chance"]
        alone = fit_law(x, y, law, floor=floor, bootstrap=40, seed=3, x_name="params")
        assert together.ok == alone.ok and together.message == alone.message
        if not alone.ok:
            continue
        assert together.objective == pytest.approx(alone.objective, rel=1e-9)
        assert together.params == pytest.approx(alone.params, rel=1e-6)
        for name, interval in alone.ci.items():
            assert together.ci[name] == pytest.approx(interval, rel=1e-6), (family, metric, name)
        assert (together.n_bootstrap, together.n_bootstrap_failed) == (
            alone.n_bootstrap,
            alone.n_bootstrap_failed,
        )
        bt = backtest(x, y, law, 2, floor=floor, chance=floor, x_name="params")
        assert fits.backtests[(family, task, metric)].mae == pytest.approx(bt.mae, rel=1e-6)


def test_fit_points_law_override_and_axis():
    params = np.logspace(7, 11, 9)
    rows = curve_rows("a", "t", "token_loss", params, 4.0 * params**-0.05, direction=-1, chance=None)
    fits = fit_points(make_points(rows), FitSettings(law="power", bootstrap=0))
    fit = fits.results[("a", "t", "token_loss")]
    assert fit.law == "power" and fit.x == "params" and fit.params["b"] == pytest.approx(-0.05)
    from analysis.errors import InputError

    with pytest.raises(InputError, match="compute"):
        fit_points(make_points(rows), FitSettings(x="compute"))


def test_fit_points_on_the_loss_column_fits_once_per_family():
    params = np.logspace(7, 11, 9)
    rows = []
    for metric in ("exact_match", "token_loss"):  # the loss repeats on every metric row of a model
        rows += curve_rows("a", "t", metric, params, np.zeros(9), direction=1, chance=None)
    points = make_points(rows)
    frame = points.frame.with_columns(pl.Series("loss", np.tile(saturating(params, 1.9, 80.0, 0.25), 2)))
    fits = fit_points(PointSet(frame=frame), FitSettings(bootstrap=0), y="loss")
    assert list(fits.results) == [("a", F.TABLE_TASK, "loss")]
    fit = fits.results[("a", F.TABLE_TASK, "loss")]
    assert fit.law == "saturating" and fit.n_points == 9
    assert fit.params == pytest.approx({"E": 1.9, "A": 80.0, "alpha": 0.25}, rel=1e-3)


# --------------------------------------------------------------------------------------------- real data


@pytest.mark.skipif(not CHINCHILLA.exists(), reason=f"{CHINCHILLA} is absent (shared data not checked out)")
def test_chinchilla_joint_fit_replicates_epoch():
    """Besiroglu et al. 2024: E 1.82, A 482, B 2085, alpha 0.35, beta 0.37 on 240 points (5 outliers out)."""
    table = (
        pl.read_csv(CHINCHILLA)
        .filter(pl.col("epoch_excluded_outlier") == 0)
        .rename({"params_N": "params", "tokens_D": "tokens"})
    )
    fits = fit_table(table, y="loss", law="joint", settings=FitSettings(bootstrap=0))
    fit = fits.results[("default", F.TABLE_TASK, "loss")]
    assert fit.ok and fit.n_points == 240
    assert fit.params["alpha"] == pytest.approx(0.35, abs=0.01)
    assert fit.params["beta"] == pytest.approx(0.37, abs=0.01)
    assert fit.params["E"] == pytest.approx(1.82, abs=0.05)
    assert fit.params["A"] == pytest.approx(482.0, rel=0.15)
    assert fit.params["B"] == pytest.approx(2085.0, rel=0.15)
    assert fit.r2 > 0.99


@pytest.mark.skipif(not PYTHIA.exists(), reason=f"{PYTHIA} is absent (shared data not checked out)")
def test_pythia_final_checkpoint_lambada_fits():
    final = pl.read_csv(PYTHIA).filter(
        (pl.col("step") == 143000) & (pl.col("shots") == 0) & (pl.col("task") == "lambada_openai")
    )
    rows = [
        {
            "family": "pythia-deduped" if r["dedup"] else "pythia",
            "model": r["model"],
            "task": r["task"],
            "metric": r["metric"],
            "params": float(r["params_total"]),
            "tokens": None,
            "value": r["value"],
            "direction": -1 if r["metric"] == "ppl" else 1,
            "chance": None,
        }
        for r in final.iter_rows(named=True)
    ]
    fits = fit_points(make_points(rows), FitSettings(bootstrap=100))
    acc = fits.results[("pythia", "lambada_openai", "acc")]
    ppl = fits.results[("pythia", "lambada_openai", "ppl")]
    assert acc.law == "logistic" and acc.ok and acc.n_points == 8 and acc.r2 > 0.95
    assert ppl.law == "saturating" and ppl.ok and ppl.r2 > 0.95
    assert 0.0 < acc.params["ceil"] <= 1.0
    assert ppl.params["alpha"] > 0


def test_a_joint_fit_on_points_without_tokens_names_tokens_not_params():
    params = np.logspace(7, 11, 9)
    rows = curve_rows("a", "t", "token_loss", params, saturating(params, 1.5, 300.0, 0.3), direction=-1)
    fits = fit_points(make_points(rows), FitSettings(law="joint", bootstrap=0))
    message = fits.results[("a", "t", "token_loss")].message
    assert "skipped 9 points with no tokens value" in message and "no params" not in message


def test_a_fit_that_misses_the_small_values_by_ratio_says_so():
    """A logistic fitted in linear space can follow the large values and miss the small ones by a factor:
    R² in log space below 0.5 gives a note; a fit good in both spaces gets none."""
    x = np.logspace(7, 11, 9)
    y = np.array([1e-5, 0.02, 1e-5, 0.03, 1e-5, 0.55, 0.8, 0.88, 0.9])  # small values scattered by ratio
    poor = fit_law(x, y, "logistic")
    assert poor.ok and poor.r2_linear > 0.9 and poor.r2_log < 0.5
    assert f"R² {poor.r2_log:.2f} in log space: the law misses the curve's small values" in poor.message
    good = fit_law(x, logistic(x, 0.25, 0.9, 3.0, 9.0), "logistic", floor=0.25)
    assert "space: the law misses" not in good.message


def _straggler_states(
    monkeypatch: pytest.MonkeyPatch, request: object, batch_stragglers: bool, handover: int
) -> tuple[bootstrap._Winners, bootstrap._Winners, bootstrap._Winners, object]:
    """One fit on the plain path (``batch_stragglers`` False: scipy polishes every straggler) or the fast one
    with that ``handover``: each replicate's winner as the batch left it, as the scipy polish finds it, as
    its CIs take it (copies), and the fit."""
    states: dict[str, list[bootstrap._Winners]] = {"batch": [], "polish": [], "cis": []}

    def copied(winners: bootstrap._Winners) -> bootstrap._Winners:
        return bootstrap._Winners(
            *(a.copy() for a in (winners.theta, winners.obj, winners.ok, winners.at_zero))
        )

    continue_ = procedure._continue_stragglers
    polish, cis = procedure._polish_stragglers, procedure._winner_cis

    def before_continue(fits: list, handover: int) -> None:
        states["batch"].append(copied(fits[0][1]))
        continue_(fits, handover)

    def at_polish(problem: object, reps: object, winners: bootstrap._Winners) -> None:
        states["polish"].append(copied(winners))
        polish(problem, reps, winners)  # type: ignore[arg-type]

    def at_cis(problem: object, reps: object, winners: bootstrap._Winners, level: float) -> object:
        states["cis"].append(copied(winners))
        return cis(problem, reps, winners, level)  # type: ignore[arg-type]

    monkeypatch.setattr(procedure, "STRAGGLER_HANDOVER", handover)
    monkeypatch.setattr(procedure, "_continue_stragglers", before_continue)
    monkeypatch.setattr(procedure, "_polish_stragglers", at_polish)
    monkeypatch.setattr(procedure, "_winner_cis", at_cis)
    fit = procedure._fit_many([request], batch_stragglers=batch_stragglers)[0]  # type: ignore[list-item]
    monkeypatch.undo()
    batch = (states["batch"] or states["polish"])[0]
    return batch, states["polish"][0], states["cis"][0], fit


def _straggler_paths(
    monkeypatch: pytest.MonkeyPatch, request: object
) -> tuple[dict[str, bootstrap._Winners], dict[str, np.ndarray], dict[str, object]]:
    """One fit's replicates on three paths: ``plain`` (scipy polishes every straggler), ``fast`` (the batch
    continues them and hands the last ``STRAGGLER_HANDOVER`` to scipy, then continues those scipy does not
    converge) and ``full`` (the continuation without hand-over, scipy for what it leaves). Asserts that every
    fast row ends exactly where the plain or the full path leaves it: a row handed over where the plain path's
    polish does (or, when that fails, where the full continuation does, to rounding), a row the continuation
    converged and every row of the full path alike. Returns the winners, the rows by fate and the fits."""
    handover = procedure.STRAGGLER_HANDOVER
    batch, _, plain, plain_fit = _straggler_states(monkeypatch, request, False, handover)
    batch_fast, handed, fast, fast_fit = _straggler_states(monkeypatch, request, True, handover)
    _, _, full, full_fit = _straggler_states(monkeypatch, request, True, 0)
    np.testing.assert_array_equal(batch.theta, batch_fast.theta)
    moving = np.flatnonzero(~batch.ok & np.isfinite(batch.obj))
    left = np.flatnonzero(~handed.ok & np.isfinite(handed.obj))
    np.testing.assert_array_equal(handed.theta[left], batch.theta[left])  # where the batch left them
    polished, refused = left[plain.ok[left]], left[~plain.ok[left]]
    continued = np.setdiff1d(moving, left)
    settled = np.setdiff1d(np.arange(len(batch.ok)), moving)
    for name in ("theta", "obj", "ok"):
        np.testing.assert_array_equal(getattr(fast, name)[polished], getattr(plain, name)[polished])
        np.testing.assert_array_equal(getattr(fast, name)[continued], getattr(full, name)[continued])
        np.testing.assert_array_equal(getattr(fast, name)[settled], getattr(plain, name)[settled])
    np.testing.assert_array_equal(fast.ok, full.ok)
    # continued alone, on its own drawn points rather than padded to the batch's width: the same steps up
    # to rounding, which a flat valley carries into the 6th digit of theta
    np.testing.assert_allclose(fast.obj[refused], full.obj[refused], rtol=1e-9)
    np.testing.assert_allclose(fast.theta[refused], full.theta[refused], rtol=1e-5)
    assert (fast.ok | ~plain.ok).all()  # the fast path converges every replicate the plain path does
    assert fast_fit.params == plain_fit.params == full_fit.params  # type: ignore[attr-defined]
    winners = {"batch": batch, "plain": plain, "fast": fast, "full": full}
    rows = {"moving": moving, "left": left, "refused": refused, "continued": continued}
    return winners, rows, {"plain": plain_fit, "fast": fast_fit, "full": full_fit}


def _benchmark_fit_request() -> object:
    """The benchmark's fit data (E = 1.7 plus the simulator's loss (N / 1e4)^-0.3, 2% noise, 20 sizes),
    B = 300."""
    x = np.geomspace(1e7, 1e11, 20)
    y = saturating(x, 1.7, 1e4**0.3, 0.3) * np.exp(0.02 * np.random.default_rng(2023).standard_normal(20))
    return procedure._FitRequest(x, y, "saturating", bootstrap=300, seed=0)


def test_stragglers_handed_from_the_batch_to_scipy_end_where_the_plain_paths_leave_them(monkeypatch):
    """On the benchmark's fit data the batch leaves 11 replicates moving; the continuation converges 3 and
    hands the last 8 to the scipy polish, which converges them all. Every replicate ends as on the plain path
    to 1e-7 of its objective (1.4e-9 here) and 2e-5 of its fitted log losses; the CIs move by at most 1e-3
    of their width (here not at all)."""
    request = _benchmark_fit_request()
    winners, rows, fits = _straggler_paths(monkeypatch, request)
    moving, left = rows["moving"], rows["left"]
    assert len(moving) == 11 and len(left) == procedure.STRAGGLER_HANDOVER and len(rows["refused"]) == 0
    fast, plain = winners["fast"], winners["plain"]
    assert fast.ok[moving].all() and plain.ok[moving].all()
    np.testing.assert_allclose(fast.obj[moving], plain.obj[moving], rtol=1e-7)
    problem = problems._saturating_problem(request.x, request.y)  # type: ignore[attr-defined]
    fitted = [problem.model(w.theta[moving], False)[0] for w in (fast, plain)]
    np.testing.assert_allclose(fitted[0], fitted[1], atol=2e-5)  # 4e-6 here: a flat valley (A ~ 1e25)
    assert fits["fast"].n_bootstrap == fits["plain"].n_bootstrap  # type: ignore[attr-defined]
    for name, (lo, hi) in fits["plain"].ci.items():  # type: ignore[attr-defined]
        assert fits["fast"].ci[name] == pytest.approx((lo, hi), abs=1e-3 * (hi - lo)), name  # type: ignore[attr-defined]


def test_a_handed_over_straggler_scipy_cannot_converge_gets_the_batch_steps_after_all(monkeypatch):
    """The benchmark's fit data again, with scipy's polish made to give up on replicate 74, one of the 8
    handed over that the full continuation converges: the plain path drops it, the fast one continues it in
    the batch and ends where the full continuation does (to rounding: objective 1e-9, parameters 1e-5)."""
    polish = bootstrap._polish_replicate

    def giving_up(
        problem: object, reps: object, r: int, theta: np.ndarray, value: float, at_zero: bool
    ) -> object:
        if r == 74:
            return theta, value, False
        return polish(problem, reps, r, theta, value, at_zero)  # type: ignore[arg-type]

    monkeypatch.setattr(bootstrap, "_polish_replicate", giving_up)
    winners, rows, fits = _straggler_paths(monkeypatch, _benchmark_fit_request())
    assert rows["refused"].tolist() == [74]
    assert winners["fast"].ok[74] and not winners["plain"].ok[74]
    assert fits["fast"].n_bootstrap == fits["plain"].n_bootstrap + 1  # type: ignore[attr-defined]


def test_the_logistic_stragglers_are_not_handed_over(monkeypatch):
    """An accuracy curve that barely leaves chance (200 replicate curves; the 21st of
    tests/equivalence/test_fit_speed.py's draw): 55 replicates straggle, and the continuation runs until
    every one has converged (or reached its limit) before scipy sees any, as without a hand-over."""
    rng = np.random.default_rng(5)
    x = np.geomspace(7e7, 1.2e10, 8)
    for _ in range(21):
        middle, k = rng.uniform(10.0, 12.0), rng.uniform(0.5, 3.0)
        truth = 0.25 + 0.1 / (1.0 + np.exp(-k * (np.log10(x) - middle)))
        y = np.clip(truth + rng.normal(0, 0.01, len(x)), 0.01, 0.99)
        stderr = np.sqrt(y * (1 - y) / 500)
        curves = np.clip(y + stderr * rng.standard_normal((200, len(x))), 1e-3, 1 - 1e-3)
    request = procedure._FitRequest(x, y, "logistic", bootstrap=200, seed=0, y_replicates=curves)
    handover = procedure.STRAGGLER_HANDOVER
    batch, handed, fast, _ = _straggler_states(monkeypatch, request, True, handover)
    _, full_handed, full, _ = _straggler_states(monkeypatch, request, True, 0)
    assert (~batch.ok & np.isfinite(batch.obj)).sum() == 55
    for name in ("theta", "obj", "ok"):
        np.testing.assert_array_equal(getattr(handed, name), getattr(full_handed, name))
        np.testing.assert_array_equal(getattr(fast, name), getattr(full, name))
