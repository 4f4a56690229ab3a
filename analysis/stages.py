"""The pipeline's stages as the app runs them, one at a time, so it can show progress between them.

Free of polars, numpy and scipy (the stages' results are passed through, never opened here), so the app can
import it before its first paint; a test guards that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from analysis.options import NEXT_SCALE, FitSettings, ForecastSettings, MetricOptions, ResampleSettings

if TYPE_CHECKING:  # for annotations only: importing them would load polars before the app's first paint
    import polars as pl

    from analysis.fits import FitSet
    from analysis.forecasts import Forecasts
    from analysis.schema import PointSet
    from analysis.sweep import ResolutionSweep

STAGES: tuple[str, ...] = ("load", "score", "points", "emergence", "fits", "forecasts")
APP_FORECASTS = ForecastSettings(scales=(NEXT_SCALE,))  # the app forecasts every curve at the next decade


class PipelineLike(Protocol):
    """What the app needs from ``analysis.pipeline.Pipeline``: stage methods, each cached on its settings."""

    def scored(self, options: MetricOptions) -> object: ...

    def points(self, options: MetricOptions, resample: ResampleSettings) -> PointSet: ...

    def emergence(
        self, options: MetricOptions, resample: ResampleSettings, x: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]: ...

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> FitSet: ...

    def forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecasts: ForecastSettings,
    ) -> Forecasts: ...

    def resolution_sweep(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        x: str,
        sweep: Any = None,
        on_run: Callable[[int, int], None] | None = None,
    ) -> ResolutionSweep: ...

    def run(self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> Any: ...


@dataclass(frozen=True, eq=False)
class PartialAnalysis:
    """Points, emergence scores, mirage verdicts and (once done) fits and forecasts: what the screens read.

    With ``fits`` None it holds the overview's numbers, shown while the slowest stage still runs.
    """

    points: PointSet
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    fits: FitSet | None = None
    forecasts: Forecasts | None = None

    def without_data(self) -> PartialAnalysis:
        """Points and fits ``without_data`` (replicates, residuals): what the app receives from the worker."""
        fits = None if self.fits is None else self.fits.without_data()
        return PartialAnalysis(self.points.without_data(), self.emergence, self.mirage, fits, self.forecasts)


def run_stages(
    pipeline: PipelineLike,
    metric_options: MetricOptions,
    resample: ResampleSettings,
    fit: FitSettings,
    on_stage: Callable[[str, Any], bool],
) -> Any:
    """Run score, points, emergence, fits and the forecasts at the next decade (``APP_FORECASTS``) in turn;
    ``on_stage(name, partial)`` after each.

    ``partial`` is a :class:`PartialAnalysis` after the emergence stage and None otherwise. When ``on_stage``
    returns False the run stops (the settings changed meanwhile) and None is returned; otherwise the full
    analysis (every stage is cached by the pipeline, so the final ``run`` only assembles), with the forecasts.
    """
    pipeline.scored(metric_options)
    if not on_stage("score", None):
        return None
    points = pipeline.points(metric_options, resample)
    if not on_stage("points", None):
        return None
    scores, verdicts = pipeline.emergence(metric_options, resample, fit.x)
    if not on_stage("emergence", PartialAnalysis(points, scores, verdicts)):
        return None
    pipeline.fits(metric_options, resample, fit)
    if not on_stage("fits", None):
        return None
    forecasts = pipeline.forecasts(metric_options, resample, fit, APP_FORECASTS)
    if not on_stage("forecasts", None):
        return None
    return with_forecasts(pipeline.run(metric_options, resample, fit), forecasts)


def with_forecasts(analysis: Any, forecasts: Any) -> Any:
    """``analysis`` holding ``forecasts`` (an analysis type without the field is returned as it is)."""
    if is_dataclass(analysis) and any(f.name == "forecasts" for f in fields(analysis)):
        return replace(analysis, forecasts=forecasts)
    return analysis
