"""Adjacent steps: McNemar against the exact binomial test, Newcombe's interval against published values, the
false-positive rate of both step tests on equal models, tie groups, and the verdict clause."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from analysis.options import MetricOptions, ResampleSettings
from analysis.resampling import compute_points
from analysis.resolution import paired_detectable, paired_items_needed
from analysis.schema import MetricSpec, ResultTable, ScoredSamples
from analysis.steps import (
    STEP_SCHEMA,
    adjacent_steps,
    mcnemar_p,
    paired_difference_interval,
    step_outcomes,
    tie_groups,
)

SPECS = {
    "right": MetricSpec("right", 1, "discontinuous", binary=True),
    "score": MetricSpec("score", 1, "continuous"),
}


def scored(values: dict[str, np.ndarray], tasks: int = 1) -> ScoredSamples:
    """Per-sample rows of ``tasks`` tasks: ``values[metric]`` is (tasks, items, models)."""
    shape = next(iter(values.values())).shape
    t, i, m = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), np.arange(shape[2]), indexing="ij")
    frame = pl.DataFrame(
        {
            "family": "f",
            "model": [f"m{j}" for j in m.ravel()],
            "task": [f"t{j:03d}" for j in t.ravel()],
            "params": 10.0 ** (7 + m.ravel()),
            "item": [f"i{j}" for j in i.ravel()],
            **{metric: v.ravel().astype(float) for metric, v in values.items()},
        }
    )
    return ScoredSamples(frame=frame, specs={m: SPECS[m] for m in values})


def steps_of(samples: ScoredSamples, **settings: object) -> pl.DataFrame:
    resample = ResampleSettings(**{"bootstrap": 200, "seed": 3, **settings})
    points = compute_points(samples, ResultTable(), resample)
    return adjacent_steps(points, samples, resample, "params")


# ---------------------------------------------------------------------------------------------- McNemar


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_pairs() -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    for down, up in [(0, 0), (0, 5), (5, 0), (10, 5), (3, 4), (170, 4), (40, 60), (0, 1), (218, 0)]:
        expected = stats.binomtest(up, down + up, 0.5).pvalue if down + up else 1.0
        assert mcnemar_p(down, up) == pytest.approx(expected, rel=1e-9, abs=1e-300)
        table = [[7, down], [up, 11]]
        assert mcnemar_p(down, up) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9, abs=1e-300)


def test_steps_count_the_discordant_items_of_each_pair_of_neighbours() -> None:
    """Three models on 8 items: the counts, difference, p and power are those of the hand-made table."""
    right = np.array([[[0, 0, 1], [0, 1, 1], [1, 0, 1], [0, 1, 1], [0, 1, 0], [1, 1, 1], [0, 0, 0],
                       [0, 1, 1]]])  # fmt: skip
    out = steps_of(scored({"right": right}))
    assert out.columns == list(STEP_SCHEMA)
    first, second = out.rows(named=True)
    assert (first["lower"], first["upper"], first["test"]) == ("m0", "m1", "McNemar exact")
    # m0 -> m1: only m1 right on items 1, 3, 4, 7; only m0 right on item 2
    assert (first["discordant_up"], first["discordant_down"], first["n"]) == (4, 1, 8)
    assert first["difference"] == pytest.approx(3 / 8)
    assert first["p_value"] == pytest.approx(stats.binomtest(4, 5, 0.5).pvalue)
    assert first["resolved"] is False and first["change"] == "tie"
    assert first["detectable"] == pytest.approx(float(paired_detectable(5 / 8, 8)))
    assert first["items_needed"] == paired_items_needed(3 / 8, 5 / 8)
    # m1 -> m2: only m2 right on items 0, 2; only m1 right on item 4
    assert (second["discordant_up"], second["discordant_down"]) == (2, 1)


def test_steps_use_the_points_items_after_a_subsample() -> None:
    rng = np.random.default_rng(0)
    right = (rng.random((1, 400, 3)) < [0.2, 0.5, 0.8]).astype(float)
    out = steps_of(scored({"right": right}), subsample=50)
    assert out["n"].to_list() == [50, 50]


# ----------------------------------------------------------------------------------- Newcombe interval


def test_newcombe_square_and_add_matches_the_published_example() -> None:
    """Cavo et al. (2012), complete response before and after therapy, [[59, 6], [16, 80]]: Fagerland,
    Lydersen & Laake's Newcombe square-and-add interval for p1 - p2 is -0.0621 (-0.1186 to -0.0046); the
    step is the other way round, p2 - p1."""
    lo, hi = paired_difference_interval(59, 6, 16, 80)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.0046, 0.1186)
    assert mcnemar_p(6, 16) == pytest.approx(0.0525, abs=5e-5)  # the exact test: not resolved at 5%


def test_newcombe_interval_does_not_collapse_without_discordant_items() -> None:
    lo, hi = paired_difference_interval(0, 0, 0, 400)
    wilson_top = 1.959964**2 / (400 + 1.959964**2)  # Wilson upper bound of 0 of 400
    assert (float(lo), float(hi)) == pytest.approx((-wilson_top, wilson_top))
    lo, hi = paired_difference_interval(0, 0, 0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_newcombe_interval_covers_the_paired_difference_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(2)
    for probabilities, n in (([0.3, 0.05, 0.1, 0.55], 100), ([0.02, 0.01, 0.03, 0.94], 400)):
        cells = rng.multinomial(n, probabilities, size=4000)
        lo, hi = paired_difference_interval(*cells.T)
        truth = probabilities[2] - probabilities[1]
        coverage = float(np.mean((lo <= truth) & (truth <= hi)))
        assert 0.93 <= coverage <= 0.98


# ----------------------------------------------------------------------------- error rates on equal models


def test_step_tests_call_equal_models_different_at_most_at_the_nominal_rate() -> None:
    """400 tasks, two models of equal accuracy with correlated items (an item's difficulty is shared): the
    exact McNemar test resolves at most 5% of the steps (it is conservative), the bootstrap about 5%."""
    rng = np.random.default_rng(4)
    tasks, items = 400, 120
    difficulty = rng.normal(size=(tasks, items, 1))
    latent = difficulty + rng.normal(size=(tasks, items, 2))
    out = steps_of(
        scored({"right": (latent > 0.5).astype(float), "score": latent}, tasks), bootstrap=400, seed=5
    )
    mcnemar_rate = out.filter(pl.col("metric") == "right")["resolved"].mean()
    bootstrap_rate = out.filter(pl.col("metric") == "score")["resolved"].mean()
    assert 0.01 <= mcnemar_rate <= 0.06
    assert 0.025 <= bootstrap_rate <= 0.085
    assert set(out.filter(pl.col("metric") == "score")["test"]) == {"paired bootstrap"}


def test_paired_sample_size_gives_mcnemars_exact_test_its_power() -> None:
    """4,000 simulated test sets of the computed size: the exact test rejects in about 80% of them (the exact
    conditional test is a little conservative, so a little less)."""
    difference, discordant = 0.1, 0.2
    n = int(paired_items_needed(difference, discordant))
    assert n == 155
    rng = np.random.default_rng(1)
    cells = rng.multinomial(n, [(discordant - difference) / 2, (discordant + difference) / 2, 1 - discordant],
                            size=4000)  # fmt: skip
    power = float(np.mean(mcnemar_p(cells[:, 0], cells[:, 1]) < 0.05))
    assert 0.74 <= power <= 0.84


def test_a_real_difference_is_resolved_with_the_power_the_analysis_promises() -> None:
    """At the items the power analysis asks for a difference of 0.1 with 20% discordant items, about 80% of
    simulated steps are resolved."""
    n = int(paired_items_needed(0.1, 0.2))
    rng = np.random.default_rng(6)
    tasks = 300
    cell = rng.choice(4, p=[0.05, 0.15, 0.4, 0.4], size=(tasks, n))  # only-lower, only-upper, both, neither
    lower = np.isin(cell, (0, 2)).astype(float)
    upper = np.isin(cell, (1, 2)).astype(float)
    out = steps_of(scored({"right": np.stack([lower, upper], axis=2)}, tasks), bootstrap=0)
    assert 0.72 <= out["resolved"].mean() <= 0.86


# ------------------------------------------------------------------------------------------- tie groups


def test_tie_groups_split_where_a_step_is_resolved() -> None:
    steps = pl.DataFrame(
        {
            "family": "f", "task": "t", "metric": "em", "lower": ["a", "b", "c", "d"],
            "upper": ["b", "c", "d", "e"], "resolved": [False, True, None, False],
        }
    )  # fmt: skip
    row = tie_groups(steps).row(0, named=True)
    assert row["groups"] == "a, b | c, d, e"
    assert (row["n_steps"], row["n_resolved"], row["n_groups"]) == (4, 1, 2)


def test_no_steps_for_tied_scales_or_a_single_model() -> None:
    right = np.ones((1, 10, 1))
    assert steps_of(scored({"right": right})).is_empty()
    assert tie_groups(steps_of(scored({"right": right}))).is_empty()


def test_aggregate_rows_get_independent_steps_and_the_two_proportion_power(tmp_path) -> None:
    from analysis.loading import load
    from analysis.pipeline import Pipeline
    from analysis.resolution import independent_items_needed

    path = tmp_path / "aggregate.csv"
    values = [0.1, 0.12, 0.3, 0.6]
    rows = [f"m{i},t,{10.0 ** (7 + i)},acc,{v},500" for i, v in enumerate(values)]
    path.write_text("model,task,params,metric,value,n\n" + "\n".join(rows) + "\n")
    resample = ResampleSettings(bootstrap=400, seed=2)
    out = Pipeline(load([path])).resolution(MetricOptions(), resample, "params").steps
    assert set(out["test"]) == {"bootstrap (independent rows)"}
    assert out["resolved"].to_list() == [False, True, True]
    expected = independent_items_needed(values[:-1], values[1:])
    assert out["items_needed"].to_list() == [int(n) for n in expected]


@pytest.mark.parametrize("subsample", [None, 300])
def test_steps_on_the_pipelines_shared_layout_equal_steps_laid_out_again(subsample: int | None) -> None:
    """The 0/1 outcomes taken from the points stage's layout (and its subsample of it) give the steps of
    laying the scored frame out again: same counts, p-values and intervals, row for row."""
    from analysis.loading import load
    from analysis.options import LoadOptions
    from analysis.pipeline import Pipeline
    from tui.inputs import default_paths

    pipeline = Pipeline(load(default_paths([]), LoadOptions()))
    options, resample = MetricOptions(), ResampleSettings(bootstrap=50, subsample=subsample)
    layout = pipeline.layout(options)
    assert layout is not None
    points, scored_frame = pipeline.points(options, resample), pipeline.scored(options)
    shared = adjacent_steps(points, None, resample, "params", step_outcomes(scored_frame, resample, layout))
    again = adjacent_steps(points, scored_frame, resample, "params")
    assert shared.filter(pl.col("test") == "McNemar exact").height > 0
    assert shared.equals(again)


def test_replicated_0_1_rows_take_the_paired_bootstrap_instead_of_stopping(tmp_path) -> None:
    """Two seeds per model and item: McNemar's one pair of outcomes per item does not apply, so the steps
    are the paired bootstrap of the points' replicates (the stage stopped with 'duplicate rows' before)."""
    from analysis.loading import load
    from analysis.options import LoadOptions
    from analysis.pipeline import Pipeline

    rng = np.random.default_rng(0)
    rows = [
        {
            "family": "f",
            "model": m,
            "params": p,
            "task": "t",
            "item": f"i{i}",
            "replicate": seed,
            "exact_match": float(rng.random() < rate),
        }
        for m, p, rate in (("a", 1e8, 0.2), ("b", 1e9, 0.5), ("c", 1e10, 0.8))
        for seed in ("s1", "s2")
        for i in range(200)
    ]
    path = tmp_path / "seeds.csv"
    pl.DataFrame(rows).write_csv(path)
    pipeline = Pipeline(load([path], LoadOptions()))
    steps = pipeline.resolution(MetricOptions(), ResampleSettings(bootstrap=200), "params").steps
    binary = steps.filter(pl.col("metric") == "exact_match")
    assert binary["test"].to_list() == ["paired bootstrap", "paired bootstrap"]
    assert binary["resolved"].to_list() == [True, True]  # 0.2 -> 0.5 -> 0.8 on 400 outcomes each
