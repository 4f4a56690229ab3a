"""compute_points: values, intervals, determinism, coverage, pairing and subsampling on hand-built frames."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.errors import InputError
from analysis.options import ResampleSettings
from analysis.resampling import compute_points
from analysis.resampling.intervals import exact_interval, normal_interval
from analysis.schema import MetricSpec, ResultTable, ScoredSamples

BINARY = MetricSpec("exact_match", 1, "discontinuous", binary=True)
CONTINUOUS = MetricSpec("token_loss", -1, "continuous")


def scored_frame(
    values: dict[tuple[str, str], dict[str, np.ndarray]], params: dict[str, float]
) -> pl.DataFrame:
    """Wide per-sample rows: {(task, model): {metric: per-item values}} with item ids 0..n-1."""
    parts = []
    for (task, model), metrics in values.items():
        n = len(next(iter(metrics.values())))
        parts.append(
            pl.DataFrame(
                {
                    "family": "fam",
                    "model": model,
                    "task": task,
                    "params": params[model],
                    "item": [f"i{k}" for k in range(n)],
                    **{m: np.asarray(v, dtype=np.float64) for m, v in metrics.items()},
                }
            )
        )
    return pl.concat(parts, how="diagonal")


def make_scored(frame: pl.DataFrame, *specs: MetricSpec) -> ScoredSamples:
    return ScoredSamples(frame, {s.id: s for s in specs})


@pytest.fixture
def two_models() -> ScoredSamples:
    rng = np.random.default_rng(7)
    n = 400
    base = rng.random(n)
    frame = scored_frame(
        {
            ("t", "big"): {"exact_match": (base < 0.6).astype(float), "token_loss": rng.exponential(1.0, n)},
            ("t", "small"): {
                "exact_match": (base < 0.2).astype(float),
                "token_loss": rng.exponential(2.0, n),
            },
        },
        {"big": 1e9, "small": 1e6},
    )
    return make_scored(frame, BINARY, CONTINUOUS)


def test_values_n_stderr_and_exact_intervals(two_models: ScoredSamples) -> None:
    points = compute_points(two_models, ResultTable(), ResampleSettings(bootstrap=200))
    frame = two_models.frame
    for row in points.frame.iter_rows(named=True):
        own = frame.filter(pl.col("model") == row["model"])[row["metric"]].to_numpy()
        assert row["value"] == pytest.approx(own.mean())
        assert row["n"] == len(own)
        assert row["stderr"] == pytest.approx(own.std(ddof=1) / np.sqrt(len(own)))
        assert row["lo"] <= row["value"] <= row["hi"]
        assert row["source"] == "samples"
        assert row["unit"] == "item" and row["n_replicates"] == 1
        if row["metric"] == "exact_match":
            lo, hi = exact_interval(own.sum(), len(own))
            assert (row["binom_lo"], row["binom_hi"]) == pytest.approx((float(lo), float(hi)), rel=1e-12)
            assert (row["lo"], row["hi"]) == (row["binom_lo"], row["binom_hi"])  # the exact interval shown
            assert row["kind"] == "discontinuous" and row["direction"] == 1
            assert row["resolved"] and row["items_at"] == "value"
            assert row["items_to_resolve"] == np.ceil(np.log(0.05) / np.log1p(-row["value"]))
        else:
            assert row["binom_lo"] is None and row["direction"] == -1
            assert row["resolved"] is None and row["items_to_resolve"] is None
    # replicates ordered by ascending params
    reps = points.replicates[("fam", "t", "exact_match")]
    assert reps.models == ("small", "big")
    assert reps.values.shape == (200, 2)


def test_same_seed_same_numbers_and_other_seed_differs(two_models: ScoredSamples) -> None:
    for paired in (True, False):
        first = compute_points(two_models, ResultTable(), ResampleSettings(seed=3, paired=paired))
        again = compute_points(two_models, ResultTable(), ResampleSettings(seed=3, paired=paired))
        other = compute_points(two_models, ResultTable(), ResampleSettings(seed=4, paired=paired))
        assert first.frame.equals(again.frame)
        for key, reps in first.replicates.items():
            np.testing.assert_array_equal(reps.values, again.replicates[key].values)
            assert not np.array_equal(reps.values, other.replicates[key].values)
        assert not first.frame["lo"].equals(other.frame["lo"])


def test_row_order_does_not_change_numbers(two_models: ScoredSamples) -> None:
    shuffled = ScoredSamples(two_models.frame.sample(fraction=1.0, shuffle=True, seed=1), two_models.specs)
    settings = ResampleSettings(bootstrap=300, subsample=150)
    assert compute_points(two_models, ResultTable(), settings).frame.equals(
        compute_points(shuffled, ResultTable(), settings).frame
    )


@pytest.mark.parametrize("paired", [True, False])
def test_binary_coverage_near_nominal(paired: bool) -> None:
    rng = np.random.default_rng(11)
    true_p = rng.uniform(0.05, 0.95, size=200)
    n = 200
    values = {
        (f"task{g}", "m"): {"exact_match": (rng.random(n) < p).astype(float)} for g, p in enumerate(true_p)
    }
    scored = make_scored(scored_frame(values, {"m": 1e9}), BINARY)
    points = compute_points(scored, ResultTable(), ResampleSettings(bootstrap=1000, paired=paired)).frame
    points = points.sort("task", descending=False)
    order = np.argsort([f"task{g}" for g in range(200)])
    truth = true_p[order]
    covered = ((points["lo"].to_numpy() <= truth) & (truth <= points["hi"].to_numpy())).mean()
    exact_covered = (
        (points["binom_lo"].to_numpy() <= truth) & (truth <= points["binom_hi"].to_numpy())
    ).mean()
    assert 0.90 <= covered <= 0.99
    assert 0.90 <= exact_covered <= 0.99


def test_continuous_coverage_near_nominal() -> None:
    rng = np.random.default_rng(12)
    values = {(f"task{g}", "m"): {"token_loss": rng.normal(2.0, 1.0, size=150)} for g in range(200)}
    scored = make_scored(scored_frame(values, {"m": 1e9}), CONTINUOUS)
    points = compute_points(scored, ResultTable(), ResampleSettings(bootstrap=1000)).frame
    covered = ((points["lo"] <= 2.0) & (points["hi"] >= 2.0)).mean()
    assert 0.90 <= covered <= 0.99


def test_bootstrap_spread_matches_binomial_standard_error() -> None:
    """Paired 0/1 replicates (a multinomial over distinct rows) keep sd sqrt(p(1-p)/n), like resampling."""
    rng = np.random.default_rng(5)
    n = 1000
    values = {
        ("t", m): {"exact_match": (rng.random(n) < p).astype(float)} for m, p in (("a", 0.3), ("b", 0.7))
    }
    scored = make_scored(scored_frame(values, {"a": 1.0, "b": 2.0}), BINARY)
    points = compute_points(scored, ResultTable(), ResampleSettings(bootstrap=4000))
    reps = points.replicates[("fam", "t", "exact_match")].values
    p_hat = points.frame.sort("params")["value"].to_numpy()
    np.testing.assert_allclose(reps.std(axis=0), np.sqrt(p_hat * (1 - p_hat) / n), rtol=0.06)
    np.testing.assert_allclose(reps.mean(axis=0), p_hat, atol=0.003)


def test_paired_differences_are_narrower_than_unpaired() -> None:
    rng = np.random.default_rng(9)
    n = 500
    difficulty = rng.normal(0.0, 1.0, n)
    values = {
        ("t", "a"): {"token_loss": difficulty + rng.normal(0.0, 0.1, n)},
        ("t", "b"): {"token_loss": difficulty + 0.2 + rng.normal(0.0, 0.1, n)},
    }
    scored = make_scored(scored_frame(values, {"a": 1.0, "b": 2.0}), CONTINUOUS)
    spreads = {}
    for paired in (True, False):
        reps = compute_points(scored, ResultTable(), ResampleSettings(paired=paired)).replicates
        values_ab = reps[("fam", "t", "token_loss")].values
        spreads[paired] = np.std(values_ab[:, 1] - values_ab[:, 0])
    # paired: sd of the difference ~ sqrt(2) * 0.1 / sqrt(n); unpaired ~ sqrt(2) * 1.0 / sqrt(n)
    assert spreads[True] == pytest.approx(np.sqrt(2 * 0.01 / n), rel=0.15)
    assert spreads[False] == pytest.approx(np.sqrt(2 * 1.01 / n), rel=0.15)


def test_paired_model_missing_items_uses_its_own_items() -> None:
    rng = np.random.default_rng(2)
    full = rng.normal(1.0, 1.0, 300)
    frame = scored_frame(
        {("t", "a"): {"token_loss": full}, ("t", "b"): {"token_loss": full + 1.0}}, {"a": 1, "b": 2}
    )
    frame = frame.filter(~((pl.col("model") == "b") & (pl.col("item").str.slice(1).cast(pl.Int64) >= 100)))
    points = compute_points(make_scored(frame, CONTINUOUS), ResultTable(), ResampleSettings()).frame.sort(
        "params"
    )
    assert points["n"].to_list() == [300, 100]
    assert points["value"][1] == pytest.approx(full[:100].mean() + 1.0)
    assert points["lo"][1] < points["value"][1] < points["hi"][1]


def test_subsample_changes_n_and_pairs_item_ids(two_models: ScoredSamples) -> None:
    points = compute_points(two_models, ResultTable(), ResampleSettings(subsample=50, bootstrap=100))
    assert set(points.frame["n"].to_list()) == {50}
    assert any("subsample" in note for note in points.notes)
    # paired: the mean over the subsample equals the mean over the same 50 ids for both models
    full = compute_points(two_models, ResultTable(), ResampleSettings(bootstrap=0))
    assert not points.frame["value"].equals(full.frame["value"])
    unpaired = compute_points(two_models, ResultTable(), ResampleSettings(subsample=50, paired=False))
    assert set(unpaired.frame["n"].to_list()) == {50}
    bigger = compute_points(two_models, ResultTable(), ResampleSettings(subsample=10_000, bootstrap=0))
    assert bigger.frame["value"].equals(full.frame["value"])


def test_bootstrap_off_gives_exact_intervals_for_binary_only(two_models: ScoredSamples) -> None:
    points = compute_points(two_models, ResultTable(), ResampleSettings(bootstrap=0))
    assert points.replicates == {}
    binary = points.frame.filter(pl.col("metric") == "exact_match")
    assert binary["lo"].equals(binary["binom_lo"]) and binary["hi"].equals(binary["binom_hi"])
    continuous = points.frame.filter(pl.col("metric") == "token_loss")
    assert continuous["lo"].null_count() == continuous.height


def test_aggregate_rows_get_exact_normal_or_nothing() -> None:
    aggregates = pl.DataFrame(
        {
            "family": ["fam"] * 4,
            "model": ["a", "b", "a", "b"],
            "task": ["t"] * 4,
            "params": [1e6, 1e7, 1e6, 1e7],
            "tokens": [None] * 4,
            "flops": [None] * 4,
            "loss": [None] * 4,
            "metric": ["acc", "acc", "perplexity", "perplexity"],
            "value": [0.0, 0.25, 12.0, 8.0],
            "n": [200, 200, None, None],
            "stderr": [0.0, 0.03, 0.5, None],
        },
        schema_overrides={"tokens": pl.Float64, "flops": pl.Float64, "loss": pl.Float64, "n": pl.Int64},
    )
    scored = ScoredSamples(pl.DataFrame())
    points = compute_points(scored, ResultTable(aggregates=aggregates), ResampleSettings(bootstrap=2000))
    frame = points.frame.sort(["metric", "params"])
    acc = frame.filter(pl.col("metric") == "acc")
    lo, hi = exact_interval(np.array([0.0, 50.0]), 200)
    np.testing.assert_allclose(acc["lo"].to_numpy(), lo)
    np.testing.assert_allclose(acc["hi"].to_numpy(), hi)
    assert acc["hi"][0] == pytest.approx(1 - 0.025 ** (1 / 200), rel=1e-9)
    assert acc["resolved"].to_list() == [False, True]
    assert acc["items_at"].to_list() == ["upper bound", "value"]  # 0 of 200: at the upper bound
    reps = points.replicates[("fam", "t", "acc")].values
    assert reps.std(axis=0)[1] == pytest.approx(np.sqrt(0.25 * 0.75 / 200), rel=0.1)
    assert reps[:, 0].min() > 0 and reps[:, 0].mean() == pytest.approx(0.5 / 201, rel=0.1)  # Beta(1/2, 200.5)
    ppl = frame.filter(pl.col("metric") == "perplexity")
    lo, hi = normal_interval(12.0, 0.5)
    assert (ppl["lo"][0], ppl["hi"][0]) == pytest.approx((float(lo), float(hi)))
    assert ppl["lo"][1] is None and ppl["direction"][0] == -1
    assert points.specs["acc"].binary
    ppl_reps = points.replicates[("fam", "t", "perplexity")].values
    assert np.all(ppl_reps[:, 1] == 8.0)  # held fixed, and said so
    assert any("fixed" in note for note in points.notes)


def test_duplicate_rows_and_bad_settings_raise(two_models: ScoredSamples) -> None:
    doubled = ScoredSamples(pl.concat([two_models.frame, two_models.frame.head(1)]), two_models.specs)
    with pytest.raises(InputError, match="duplicate"):
        compute_points(doubled, ResultTable(), ResampleSettings())
    with pytest.raises(InputError, match="--ci"):
        compute_points(two_models, ResultTable(), ResampleSettings(ci=95))
    with pytest.raises(InputError, match="--subsample"):
        compute_points(two_models, ResultTable(), ResampleSettings(subsample=0))


def test_any_row_layout_gives_the_same_numbers(two_models: ScoredSamples) -> None:
    """Models listing items in one order (fast path) or in different orders (general path) agree exactly."""
    frame = two_models.frame
    reordered = pl.concat(
        [frame.filter(pl.col("model") == "big"), frame.filter(pl.col("model") == "small").reverse()]
    )
    settings = ResampleSettings(bootstrap=300)
    first = compute_points(two_models, ResultTable(), settings)
    second = compute_points(ScoredSamples(reordered, two_models.specs), ResultTable(), settings)
    assert first.frame.equals(second.frame)
    for key, reps in first.replicates.items():
        np.testing.assert_array_equal(reps.values, second.replicates[key].values)


def test_tasks_sharing_an_item_count_get_their_own_replicates() -> None:
    """One count draw serves every task with n items, through a per-task permutation: a task's numbers do not
    depend on the other tasks (up to rounding: tasks are multiplied by the counts in one batched product), and
    two tasks with identical values get uncorrelated replicates."""
    rng = np.random.default_rng(4)
    shared = rng.normal(0.0, 1.0, 300)
    values = {
        ("t1", "m"): {"token_loss": shared},
        ("t2", "m"): {"token_loss": shared},
        ("t3", "m"): {"token_loss": rng.normal(0.0, 1.0, 300)},
    }
    scored = make_scored(scored_frame(values, {"m": 1.0}), CONTINUOUS)
    settings = ResampleSettings(bootstrap=2000)
    together = compute_points(scored, ResultTable(), settings).replicates
    alone = compute_points(
        ScoredSamples(scored.frame.filter(pl.col("task") == "t1"), scored.specs), ResultTable(), settings
    ).replicates
    t1, t2 = together[("fam", "t1", "token_loss")].values, together[("fam", "t2", "token_loss")].values
    np.testing.assert_allclose(t1, alone[("fam", "t1", "token_loss")].values, rtol=1e-12, atol=0)
    assert abs(np.corrcoef(t1[:, 0], t2[:, 0])[0, 1]) < 0.1
    assert t1.std() == pytest.approx(shared.std() / np.sqrt(300), rel=0.1)


def test_metrics_missing_for_some_tasks_and_models_agree_across_layouts() -> None:
    """The run-by-run fill (usual layout) and the general scatter (shuffled rows) give the same points when
    a task lacks a metric, a model lacks one on a task, and a run has some missing values."""
    rng = np.random.default_rng(3)
    n = 100
    partly = rng.exponential(1.0, n)
    partly[::7] = np.nan
    frame = scored_frame(
        {
            ("gen", "small"): {"exact_match": (rng.random(n) < 0.2).astype(float), "token_loss": partly},
            ("gen", "big"): {
                "exact_match": (rng.random(n) < 0.7).astype(float),
                "token_loss": np.full(n, np.nan),
            },
            ("choice", "small"): {"exact_match": (rng.random(n) < 0.3).astype(float)},
            ("choice", "big"): {"exact_match": (rng.random(n) < 0.5).astype(float)},
        },
        {"big": 1e9, "small": 1e6},
    ).with_columns(pl.col("token_loss").fill_nan(None))
    settings = ResampleSettings(bootstrap=200)
    ordered = compute_points(make_scored(frame, BINARY, CONTINUOUS), ResultTable(), settings)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=5)
    general = compute_points(make_scored(shuffled, BINARY, CONTINUOUS), ResultTable(), settings)
    assert ordered.frame.equals(general.frame)
    assert sorted(ordered.replicates) == [
        ("fam", "choice", "exact_match"),
        ("fam", "gen", "exact_match"),
        ("fam", "gen", "token_loss"),
    ]
    loss = ordered.frame.filter(pl.col("metric") == "token_loss")
    assert loss["model"].to_list() == ["small"] and loss["n"].item() == n - len(range(0, n, 7))
    assert loss["value"].item() == pytest.approx(np.nanmean(partly))
    for key, reps in ordered.replicates.items():
        np.testing.assert_array_equal(reps.values, general.replicates[key].values)
