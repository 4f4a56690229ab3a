"""An axis change (the app's key x) reruns only the stages that depend on the axis: the pipeline keeps the
scored samples and the points, and recomputes emergence, fits and forecasts."""

from __future__ import annotations

from pathlib import Path

import pytest

import analysis.pipeline as pipeline_module
from analysis.loading import load
from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from analysis.stages import APP_FORECASTS, run_stages

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "toy_family.parquet"


def test_an_axis_change_keeps_scores_and_points(monkeypatch: pytest.MonkeyPatch) -> None:
    table = load([str(SAMPLE)], LoadOptions())
    pipeline = Pipeline(table)
    options, resample = MetricOptions(), ResampleSettings(bootstrap=50)
    seen: list[str] = []
    params = FitSettings(x="params")
    first = run_stages(pipeline, options, resample, params, lambda s, _: seen.append(s) or True)
    assert first is not None and seen == ["score", "points", "emergence", "fits", "forecasts"]

    def recomputed(*args: object, **kwargs: object) -> None:
        raise AssertionError("an axis change recomputed a stage that does not depend on the axis")

    monkeypatch.setattr(pipeline_module, "score_samples", recomputed)
    monkeypatch.setattr(pipeline_module, "compute_points", recomputed)
    second = run_stages(pipeline, options, resample, FitSettings(x="flops"), lambda s, _: True)
    assert second is not None
    assert second.points is first.points and second.scored is first.scored
    assert second.emergence["x"].unique().to_list() == ["flops"]
    assert {fit.x for fit in second.fits.results.values()} == {"flops"}
    assert pipeline.forecasts(options, resample, FitSettings(x="flops"), APP_FORECASTS) is second.forecasts
