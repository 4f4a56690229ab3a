"""The analysis as one cached chain of stages, shared by `report` and the app.

Each stage is cached on the settings it depends on, so flipping a fit setting refits without re-scoring, and
flipping the resampling settings recomputes the points and what follows but never the per-sample metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analysis.emergence import score_emergence
from analysis.fits import FitSet, fit_points
from analysis.metrics import score_samples
from analysis.mirage import task_verdicts
from analysis.options import FitSettings, MetricOptions, ResampleSettings
from analysis.resampling import compute_points
from analysis.schema import PointSet, ResultTable, ScoredSamples
from analysis.target_lengths import target_lengths


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything computed for one set of settings."""

    table: ResultTable
    scored: ScoredSamples
    points: PointSet
    fits: FitSet
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    metric_options: MetricOptions
    resample: ResampleSettings
    fit: FitSettings


class Pipeline:
    """Runs the stages for a loaded table, remembering the last result of each stage by its inputs."""

    def __init__(self, table: ResultTable) -> None:
        self.table = table
        self._scored: dict[MetricOptions, ScoredSamples] = {}
        self._points: dict[tuple[MetricOptions, ResampleSettings], PointSet] = {}
        self._fits: dict[tuple[MetricOptions, ResampleSettings, FitSettings], FitSet] = {}
        self._emergence: dict[
            tuple[MetricOptions, ResampleSettings, str], tuple[pl.DataFrame, pl.DataFrame]
        ] = {}

    def scored(self, options: MetricOptions) -> ScoredSamples:
        if options not in self._scored:
            self._scored[options] = score_samples(self.table, options)
        return self._scored[options]

    def points(self, options: MetricOptions, resample: ResampleSettings) -> PointSet:
        key = (options, resample)
        if key not in self._points:
            self._points[key] = compute_points(self.scored(options), self.table, resample)
        return self._points[key]

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> FitSet:
        key = (options, resample, fit)
        if key not in self._fits:
            self._fits[key] = fit_points(self.points(options, resample), fit)
        return self._fits[key]

    def emergence(
        self, options: MetricOptions, resample: ResampleSettings, x: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Each curve's status against axis ``x`` and the verdict per discontinuous metric built on them."""
        key = (options, resample, x)
        if key not in self._emergence:
            points = self.points(options, resample)
            lengths = target_lengths(self.table, options)
            scores = score_emergence(points, x=x, ci=resample.ci, seed=resample.seed, lengths=lengths)
            self._emergence[key] = (scores, task_verdicts(scores, points, lengths, resample.ci))
        return self._emergence[key]

    def run(
        self,
        metric_options: MetricOptions | None = None,
        resample: ResampleSettings | None = None,
        fit: FitSettings | None = None,
    ) -> Analysis:
        metric_options = metric_options or MetricOptions()
        resample = resample or ResampleSettings()
        fit = fit or FitSettings()
        scores, verdicts = self.emergence(metric_options, resample, fit.x)
        return Analysis(
            table=self.table,
            scored=self.scored(metric_options),
            points=self.points(metric_options, resample),
            fits=self.fits(metric_options, resample, fit),
            emergence=scores,
            mirage=verdicts,
            metric_options=metric_options,
            resample=resample,
            fit=fit,
        )
