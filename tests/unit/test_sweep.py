"""The resolution sweep: its shared layout equals the pipeline's own subsample, a small B keeps the statuses,
and on the mirage model the smallest models come into resolution where the binomial says they should."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from analysis.errors import InputError
from analysis.options import MetricOptions, ResampleSettings, SweepSettings
from analysis.pipeline import Pipeline
from analysis.resampling import compute_points
from analysis.resampling.points import sample_layout
from analysis.schema import ResultTable
from analysis.simulate import mirage_curves, simulate
from analysis.sweep import _path, _settled, _summary, sweep_sizes

GENERATION = MetricOptions(
    only=("exact_match", "token_edit_distance", "token_loss", "token_prob", "seq_prob")
)
MIRAGE = {"c": 3e8, "alpha": -0.5, "params": np.geomspace(1e7, 1e11, 9), "length": 5, "choices": 4}


def _table(items: int, seed: int = 0, **extra: object) -> ResultTable:
    return ResultTable(samples=simulate(**MIRAGE, items=items, seed=seed, spread=0.5, **extra))


# ----------------------------------------------------------------------------------------- shared layout


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("paired", [True, False])
def test_the_shared_layout_gives_the_points_of_the_pipelines_own_subsample(
    shuffled: bool, paired: bool
) -> None:
    """Laying the frame out once and subsampling its matrices gives the numbers of laying it out with
    ``--subsample`` (rows in file order use the run-by-run layout; shuffled rows with a missing cell the
    general one)."""
    table = _table(300)
    pipeline = Pipeline(table)
    scored = pipeline.scored(GENERATION)
    if shuffled:
        frame = scored.frame.sample(fraction=1.0, shuffle=True, seed=1).slice(1)  # one cell missing
        scored = replace(scored, frame=frame)
    layout = sample_layout(scored)
    for size, seed in ((40, 0), (150, 3), (1000, 1)):
        settings = ResampleSettings(bootstrap=50, seed=seed, subsample=size, paired=paired)
        plain = compute_points(scored, table, settings)
        shared = compute_points(scored, table, settings, layout=layout)
        assert shared.frame.drop("value", "lo", "hi", "stderr").equals(
            plain.frame.drop("value", "lo", "hi", "stderr")
        )
        for column in ("value", "lo", "hi", "stderr"):
            np.testing.assert_allclose(shared.frame[column], plain.frame[column], rtol=1e-12)
        assert shared.replicates.keys() == plain.replicates.keys()
        for key, reps in plain.replicates.items():
            np.testing.assert_allclose(shared.replicates[key].values, reps.values, rtol=1e-12)


# ----------------------------------------------------------------------------------------------- sizes


def test_sizes_are_log_spaced_from_50_to_the_full_n_or_the_users_capped_at_it() -> None:
    grid = sweep_sizes(10_000, SweepSettings())
    assert grid == tuple(round(50 * 200 ** (k / 7)) for k in range(8))
    assert grid[:3] == (50, 107, 227) and grid[-1] == 10_000
    assert sweep_sizes(30, SweepSettings()) == (30,)  # fewer items than the smallest size: nothing to sweep
    assert sweep_sizes(400, SweepSettings(sizes=(100, 1000, 100))) == (100, 400)
    assert sweep_sizes(400, SweepSettings(sizes=(100, 200))) == (100, 200, 400)  # the full n is always one
    assert sweep_sizes(400, SweepSettings(count=1)) == (400,)
    assert sweep_sizes(0, SweepSettings()) == ()


@pytest.mark.parametrize(
    "bad,flag",
    [({"repeats": 0}, "--sweep-repeats"), ({"count": 101}, "--sweep-sizes"),
     ({"sizes": (0, 10)}, "--sweep-sizes"), ({"bootstrap": -1}, "--sweep-bootstrap")],
)  # fmt: skip
def test_bad_sweep_settings_name_their_option(bad: dict, flag: str) -> None:
    with pytest.raises(InputError, match=flag):
        SweepSettings(**bad)


def test_paths_and_where_they_settle() -> None:
    sizes = [50, 100, 200, 400]
    assert (
        _path(sizes, ["unresolved", "unresolved", "jump", "jump"]) == "unresolved at 50-100, jump at 200-400"
    )
    assert _path(sizes, ["jump", None, "smooth", "smooth"]) == "jump at 50, – at 100, smooth at 200-400"
    assert _settled(sizes, ["smooth", "jump", "smooth", "smooth"]) == 200
    assert _settled(sizes, [True, True, True, True]) == 50


def test_the_summary_says_where_a_jump_appears_or_vanishes() -> None:
    def curve(metric: str, statuses: list[str]) -> list[dict]:
        return [
            {"family": "f", "task": "t", "metric": metric, "n_items": n, "kind": "continuous", "runs": 5,
             "status": s, "status_share": 1.0, "jump_share": float(s == "jump"), "category": None,
             "category_share": 1.0, "score": 1.0, "score_min": 1.0, "score_max": 1.0}
            for n, s in zip([50, 100, 200, 400], statuses, strict=True)
        ]  # fmt: skip

    rising, falling = ["unresolved", "jump", "jump", "jump"], ["jump", "jump", "smooth", "smooth"]
    curves = pl.DataFrame(curve("a", rising) + curve("b", falling))
    models = pl.DataFrame(
        {"family": "f", "task": "t", "metric": ["a"] * 4, "model": "m0", "n_items": [50, 100, 200, 400],
         "scale": 1e7, "runs": 5, "value": 0.1, "lo": 0.0, "hi": 0.2, "resolved_share": [0.0, 0.2, 0.8, 1.0]}
    )  # fmt: skip
    a, b = _summary(curves, models).rows(named=True)
    assert (a["jump_appears_at"], a["jump_vanishes_at"], a["settled_at"], a["smallest_resolved_at"]) == (
        100, None, 100, 200,
    )  # fmt: skip
    assert a["sentence"] == (
        "a: unresolved at 50, jump at 100-400 (a jump from n' = 100); the smallest model m0 is resolved from "
        "n' = 200"
    )
    assert (b["jump_appears_at"], b["jump_vanishes_at"], b["status_full"]) == (None, 200, "smooth")
    assert b["sentence"] == "b: jump at 50-100, smooth at 200-400 (the jump vanishes from n' = 200)"


# ---------------------------------------------------------------------------------- the mirage model


def test_smallest_mirage_models_are_unresolved_at_100_items_and_resolved_at_the_full_n() -> None:
    """Exact match over 5 tokens on 5,000 items: a model whose true accuracy is above 3/n (0.0006) is resolved
    by the full test set; one below 0.005 is not resolved by 100 items in most subsamples (100 items show it
    with probability at most 1 - 0.995^100 = 39%)."""
    items = 5000
    truth = mirage_curves(**MIRAGE, spread=0.5)["exact_match"]
    assert truth[1] == pytest.approx(6.6e-4, rel=0.02) and truth[2] == pytest.approx(6.6e-3, rel=0.02)
    pipeline = Pipeline(_table(items))
    sweep = pipeline.resolution_sweep(
        GENERATION,
        ResampleSettings(bootstrap=100),
        "params",
        SweepSettings(sizes=(100, items), bootstrap=100),
    )
    assert sweep.sizes == (100, items) and sweep.full_n == items
    em = sweep.model_sizes.filter((pl.col("task") == "generation") & (pl.col("metric") == "exact_match"))
    share = {(m, n): s for m, n, s in em.select("model", "n_items", "resolved_share").iter_rows()}
    names = em.sort("scale")["model"].unique(maintain_order=True).to_list()
    both = 0
    for name, accuracy in zip(names, truth, strict=True):
        if accuracy > 3 / items:
            assert share[(name, items)] == 1.0, name
        if accuracy < 0.005:
            assert share[(name, 100)] < 0.5, name
        both += 3 / items < accuracy < 0.005
    assert both == 1  # 31.6M (6.6e-4): below resolution on 100 items, resolved on 5,000
    generation = (pl.col("task") == "generation") & (pl.col("metric") == "exact_match")
    summary = sweep.summary.filter(generation).row(0, named=True)
    assert (summary["smallest"], summary["smallest_resolved_at"]) == (names[0], None)  # 3.3e-5 < 3 / n
    second = em.filter(pl.col("model") == names[1]).sort("n_items")["resolved_share"].to_list()
    assert second[0] < 0.5 and second[-1] == 1.0


def test_the_sweeps_small_b_keeps_the_statuses_of_b_1000() -> None:
    """The mirage family and a true jump, at the full n and on subsamples: the statuses at B = 200 are those
    at B = 1000 (the module docstring's reason for keeping B small inside the sweep)."""
    table = ResultTable(
        samples=pl.concat(
            [
                simulate(**MIRAGE, items=800, seed=1, spread=0.5),
                simulate(
                    **MIRAGE, items=800, seed=2, spread=0.5, family="jumps", jump_at=1e9, jump_factor=10.0
                ),
            ]
        )
    )
    pipeline = Pipeline(table)
    for subsample, seed in ((None, 0), (200, 1), (100, 2)):
        small, large = (
            pipeline.emergence(MetricOptions(), ResampleSettings(bootstrap=b, seed=seed, subsample=subsample),
                               "params")[0].select("family", "task", "metric", "status")
            for b in (200, 1000)
        )  # fmt: skip
        assert small.equals(large), (subsample, seed)
        assert "jump" in small["status"].to_list()


def test_each_subsample_is_the_reports_own_subsample_and_the_full_n_is_the_report() -> None:
    table = _table(400, seed=3)
    pipeline = Pipeline(table)
    resample = ResampleSettings(bootstrap=100, seed=7)
    settings = SweepSettings(sizes=(60, 400), repeats=2, bootstrap=50)
    sweep = pipeline.resolution_sweep(GENERATION, resample, "params", settings)
    assert pipeline.resolution_sweep(GENERATION, resample, "params", settings) is sweep  # cached

    def same(cell: pl.DataFrame, report: pl.DataFrame) -> None:  # equal up to floating-point rounding
        assert cell.select("task", "metric", "status").equals(report.select("task", "metric", "status"))
        np.testing.assert_allclose(cell["score"], report["score"], rtol=1e-9)

    for repeat in (0, 1):
        subsample = replace(resample, bootstrap=50, seed=7 + repeat, subsample=60)
        cell = sweep.runs.filter((pl.col("size") == 60) & (pl.col("repeat") == repeat))
        same(cell, pipeline.emergence(GENERATION, subsample, "params")[0])
    same(sweep.runs.filter(pl.col("size") == 400), pipeline.emergence(GENERATION, resample, "params")[0])
    assert sweep.curves.filter(pl.col("n_items") == 60)["runs"].unique().to_list() == [2]


def test_aggregate_rows_have_nothing_to_sweep_and_say_so(tmp_path) -> None:
    from analysis.loading import load

    path = tmp_path / "aggregate.csv"
    rows = [f"m{i},t,{10.0 ** (7 + i)},acc,{0.1 * (i + 1)},500" for i in range(6)]
    path.write_text("model,task,params,metric,value,n\n" + "\n".join(rows) + "\n")
    sweep = Pipeline(load([path])).resolution_sweep(MetricOptions(), ResampleSettings(bootstrap=50), "params")
    assert sweep.sizes == () and sweep.full_n == 0
    assert sweep.runs.is_empty() and sweep.curves.is_empty() and sweep.summary.is_empty()
    assert sweep.notes == (
        "resolution sweep: nothing to sweep: the table has no per-sample rows (aggregate rows have no "
        "items to draw)",
    )
