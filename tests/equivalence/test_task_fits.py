"""The fits and forecasts of one task (what the app computes for the task on screen) are the rows of that
task in the fits and forecasts of every task (what ``report`` computes): field by field, bit for bit.

The sample data's four tasks, with a hold-out (so the backtests and the forecasts' supported route are
compared too); and the same points with the largest model taken out of one task, where the next decade of
that task's forecasts is still its family's over every task.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.fits import fit_points
from analysis.forecasts import forecast
from analysis.loading import load
from analysis.options import NEXT_SCALE, FitSettings, ForecastSettings, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from tests.equivalence.same import assert_same_fit

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "toy_family.parquet"
OPTIONS = MetricOptions()
RESAMPLE = ResampleSettings(bootstrap=200)
FIT = FitSettings(holdout=1, bootstrap=50)
FORECASTS = ForecastSettings(scales=(NEXT_SCALE,))


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(load([SAMPLE]))


def _same_fits(whole, part, task: str) -> None:
    keys = sorted(k for k in whole.results if k[1] == task)
    assert keys and sorted(part.results) == keys
    for key in keys:
        assert_same_fit(part.results[key], whole.results[key], key)
    assert sorted(part.backtests) == sorted(k for k in whole.backtests if k[1] == task)
    for key in part.backtests:
        assert repr(part.backtests[key]) == repr(whole.backtests[key])
    assert_frame_equal(part.frame, whole.frame.filter(pl.col("task") == task))


def test_each_task_alone_gives_its_rows_of_every_task(pipeline: Pipeline) -> None:
    whole = pipeline.fits(OPTIONS, RESAMPLE, FIT)
    forecasts = pipeline.forecasts(OPTIONS, RESAMPLE, FIT, FORECASTS).frame
    tasks = sorted(pipeline.points(OPTIONS, RESAMPLE).frame["task"].unique())
    assert len(tasks) == 4
    for task in tasks:
        _same_fits(whole, pipeline.task_fits(OPTIONS, RESAMPLE, FIT, (task,)), task)
        alone = pipeline.task_forecasts(OPTIONS, RESAMPLE, FIT, FORECASTS, (task,)).frame
        assert alone.height > 0
        assert_frame_equal(alone, forecasts.filter(pl.col("task") == task))
    assert forecasts["supported"].drop_nulls().len() > 0  # the two-step comparison was made


def test_the_next_decade_is_the_familys_over_every_task(pipeline: Pipeline) -> None:
    points = pipeline.points(OPTIONS, RESAMPLE)
    largest = points.frame.sort("params")["model"][-1]
    task = "true_jump"
    cut = points.frame.filter(~((pl.col("task") == task) & (pl.col("model") == largest)))
    points = type(points)(cut, points.replicates, points.specs, points.notes)
    fit = FitSettings(bootstrap=20)
    lengths = pipeline.lengths(OPTIONS)
    whole = forecast(points, fit_points(points, fit), FORECASTS, fit, lengths).frame
    alone = forecast(points, fit_points(points.of_tasks([task]), fit), FORECASTS, fit, lengths, tasks=[task])
    assert_frame_equal(alone.frame, whole.filter(pl.col("task") == task))
    # a decade beyond the family's largest model, which this task's points no longer reach
    at = alone.frame["at"].unique().to_list()
    assert at == [10.0 ** (int(f"{points.frame['params'].max():e}".split("e")[1]) + 1)]
