"""A large aggregate table's analysis in bounded memory gives the numbers of the plain path.

* Aggregate replicates drawn again from their seeded stream on each read (``compute_points``' default)
  instead of held (``materialise=True``): the same replicate values, points, steps and emergence rows.
* Fits set up and refined a chunk at a time (``fit_points(chunk=...)``) instead of all at once
  (``chunk=None``): every fit's result equal, field by field, bit for bit.
* Steps and emergence take each curve's replicates as they reach it (``curves(replicates=False)`` and
  ``with_replicates``): the same curves as ``curves()`` builds with them.
* The JSON report encoded a record at a time (``report._json_text``): the text of ``json.dumps(indent=1)``.

The table mixes what the aggregate points stage treats differently: 0/1 accuracies with n (Jeffreys draws),
a score with a stderr only (normal draws), a family whose models carry seed replicates (their intervals read
the replicates) and a model without n or stderr (held at its value in the replicates).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.emergence import curves, score_emergence, with_replicates
from analysis.fits import fit_points
from analysis.loading import load
from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from analysis.report import _json_text, report_dict
from analysis.resampling import compute_points
from analysis.resampling.units import Columns, _average
from analysis.schema import PointSet, ResultTable
from analysis.steps import adjacent_steps
from tests.equivalence.same import assert_same_fit


def _table(path: Path) -> ResultTable:
    rng = np.random.default_rng(5)
    params = np.geomspace(1e7, 1e11, 8)
    rows = []
    for family in range(4):
        for task in range(3):
            middle = rng.uniform(8.0, 10.5)
            for size, x in enumerate(params):
                truth = 0.25 + 0.75 / (1.0 + np.exp(-2.0 * (np.log10(x) - middle)))
                seeds = 3 if family == 3 else 1
                for seed in range(seeds):
                    value = rng.binomial(1000, truth) / 1000
                    n = None if (family, task, size) == (2, 1, 4) else 1000
                    stderr = None if n is None else float(np.sqrt(value * (1 - value) / 1000))
                    base = {"family": f"f{family}", "model": f"f{family}-{x:.3g}", "params": float(x)}
                    base |= {"task": f"task{task}", "replicate": f"s{seed}" if family == 3 else None}
                    rows.append(base | {"metric": "acc", "value": value, "n": n, "stderr": stderr})
                    score = float(np.log10(x) + rng.normal(0, 0.05))
                    rows.append(base | {"metric": "score", "value": score, "n": None, "stderr": 0.05})
    file = path / "aggregate.parquet"
    frame = pl.DataFrame(rows, schema_overrides={"replicate": pl.Utf8, "n": pl.Int64, "stderr": pl.Float64})
    frame.write_parquet(file)
    return load([file], LoadOptions())


RESAMPLE = ResampleSettings(bootstrap=200)
FIT = FitSettings(bootstrap=40)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> tuple[PointSet, PointSet]:
    table = _table(tmp_path_factory.mktemp("aggregate"))
    scored = Pipeline(table).scored(MetricOptions())
    held = compute_points(scored, table, RESAMPLE, materialise=True)
    drawn = compute_points(scored, table, RESAMPLE)
    return held, drawn


def test_drawn_replicates_equal_held_ones(paths: tuple[PointSet, PointSet]) -> None:
    held, drawn = paths
    assert held.frame.equals(drawn.frame)
    assert held.notes == drawn.notes
    assert sorted(held.replicates) == sorted(drawn.replicates)
    assert len(held.replicates) == 24  # every group: 4 families x 3 tasks x 2 metrics
    for key, reps in held.replicates.items():
        assert reps.draw is None and drawn.replicates[key].draw is not None
        assert reps.models == drawn.replicates[key].models
        np.testing.assert_array_equal(reps.values, drawn.replicates[key].values)
        np.testing.assert_array_equal(drawn.replicates[key].values, drawn.replicates[key].values)
        for count in (1, 40, 199, 200, 500):  # the first rows drawn alone are the first rows of all
            np.testing.assert_array_equal(reps.values[:count], drawn.replicates[key].head(count))
    seeded = held.frame.filter(pl.col("family") == "f3")
    assert (seeded["n_replicates"] == 3).all()  # the seed family reads its intervals from the replicates


def test_curves_one_at_a_time_equal_curves_with_replicates(paths: tuple[PointSet, PointSet]) -> None:
    held, drawn = paths
    whole = curves(held, "params", 0.95)
    bare = curves(drawn, "params", 0.95, replicates=False)
    assert all(c.replicates is None for c in bare)
    for a, b in zip(whole, bare, strict=True):
        b = with_replicates(b, drawn)
        assert (a.family, a.task, a.metric, a.models) == (b.family, b.task, b.metric, b.models)
        np.testing.assert_array_equal(a.replicates, b.replicates)


def test_steps_and_emergence_equal(paths: tuple[PointSet, PointSet]) -> None:
    held, drawn = paths
    steps = adjacent_steps(held, None, RESAMPLE)
    assert steps.height == 24 * 7
    assert steps.equals(adjacent_steps(drawn, None, RESAMPLE))
    scores = score_emergence(held, "params", RESAMPLE.ci, RESAMPLE.seed)
    assert scores["lo"].drop_nulls().len() == 24  # every curve's score has its CI from the replicates
    assert scores.equals(score_emergence(drawn, "params", RESAMPLE.ci, RESAMPLE.seed))


@pytest.mark.parametrize("holdout", [0, 2])
def test_chunked_fits_equal_all_at_once(paths: tuple[PointSet, PointSet], holdout: int) -> None:
    held, drawn = paths
    settings = FitSettings(bootstrap=FIT.bootstrap, holdout=holdout)
    plain = fit_points(held, settings, chunk=None)
    chunked = fit_points(drawn, settings, chunk=5)
    assert plain.frame.equals(chunked.frame)
    assert plain.notes == chunked.notes
    assert plain.frame["ok"].sum() >= 12  # most fits stand, with CIs from the item replicates
    assert sorted(plain.results) == sorted(chunked.results)
    assert sorted(plain.backtests) == sorted(chunked.backtests)
    assert len(plain.backtests) == (24 if holdout else 0)
    for key, fit in plain.results.items():
        assert_same_fit(fit, chunked.results[key], key)
    for key, bt in plain.backtests.items():
        assert repr(bt) == repr(chunked.backtests[key])


def test_average_of_one_column_per_model_equals_the_product() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(300, 7))
    values[rng.random(values.shape) < 0.1] = np.nan
    values[0, :4] = [np.inf, -np.inf, -0.0, 0.0]
    values[1, 1] = -1e-300
    columns = Columns(tuple(f"m{j}" for j in range(7)), np.arange(7), ("",) * 7)
    fast, plain = columns.average(values), _average(values, columns.owner, 7)
    np.testing.assert_array_equal(fast, plain)
    assert np.array_equal(np.signbit(fast), np.signbit(plain))  # the same bits, zeros' signs too
    assert np.isnan(fast[0, :2]).all() and fast[0, 2] == 0.0 and not np.signbit(fast[0, 2])
    np.testing.assert_array_equal(columns.average(values[0]), plain[0])  # one replicate row


def test_report_text_equals_json_dumps(paths: tuple[PointSet, PointSet], tmp_path: Path) -> None:
    held, _ = paths
    table = _table(tmp_path)
    analysis = Pipeline(table).run(resample=RESAMPLE, fit=FIT)
    report = report_dict(analysis)
    expected = json.dumps(report, indent=1, allow_nan=False)
    assert len(report["points"]) == held.frame.height and len(report["steps"]) == 24 * 7
    assert _json_text(report) == expected
    assert report["points"][0] is None  # consumed as encoded
    for edge in ({}, {"a": []}, {"a": [{}], "b": {"c": [1, {"d": "x\ny"}]}, "e": "\u00e9"}, {"f": [[], [2]]}):
        assert _json_text(json.loads(json.dumps(edge))) == json.dumps(edge, indent=1, allow_nan=False)
    with pytest.raises(ValueError):
        _json_text({"a": [{"b": float("nan")}]})
