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

    def task_fits(
        self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings, tasks: tuple[str, ...]
    ) -> FitSet: ...

    def task_forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecasts: ForecastSettings,
        tasks: tuple[str, ...],
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
    ``fitted_tasks`` names the tasks whose fits and forecasts it holds when they were computed for some
    tasks only (the app's tasks on screen); None when every task's are there (or none, with ``fits`` None).
    """

    points: PointSet
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    fits: FitSet | None = None
    forecasts: Forecasts | None = None
    fitted_tasks: frozenset[str] | None = None

    def without_data(self) -> PartialAnalysis:
        """Points and fits ``without_data`` (replicates, residuals): what the app receives from the worker."""
        fits = None if self.fits is None else self.fits.without_data()
        return PartialAnalysis(
            self.points.without_data(), self.emergence, self.mirage, fits, self.forecasts, self.fitted_tasks
        )


def fits_pending(analysis: object, task: str) -> bool:
    """Whether ``task``'s fits are still to come: the fit stage has not run, or ran for other tasks."""
    if getattr(analysis, "fits", None) is None:
        return True
    fitted = getattr(analysis, "fitted_tasks", None)
    return fitted is not None and task not in fitted


def stages_for(tasks: tuple[str, ...] | None, *, load: bool) -> tuple[str, ...]:
    """The stages a computation runs: without fits and forecasts when no task is to be fitted."""
    stages = STAGES if load else STAGES[1:]
    return stages if tasks is None or tasks else tuple(s for s in stages if s not in ("fits", "forecasts"))


def run_stages(
    pipeline: PipelineLike,
    metric_options: MetricOptions,
    resample: ResampleSettings,
    fit: FitSettings,
    on_stage: Callable[[str, Any], bool],
    tasks: tuple[str, ...] | None = None,
) -> Any:
    """Run score, points, emergence, fits and the forecasts at the next decade (``APP_FORECASTS``) in turn;
    ``on_stage(name, partial)`` after each.

    ``partial`` is a :class:`PartialAnalysis` after the emergence stage and None otherwise. When ``on_stage``
    returns False the run stops (the settings changed meanwhile) and None is returned; otherwise the full
    analysis (every stage is cached by the pipeline, so the final ``run`` only assembles), with the forecasts.
    ``tasks`` fits and forecasts those tasks only (none: no fit stage) and returns a
    :class:`PartialAnalysis` naming them: the app fits the task on screen, not every task of a folder.
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
    if tasks is not None:
        return _task_stages(
            pipeline, metric_options, resample, fit, on_stage, tasks, (points, scores, verdicts)
        )
    pipeline.fits(metric_options, resample, fit)
    if not on_stage("fits", None):
        return None
    forecasts = pipeline.forecasts(metric_options, resample, fit, APP_FORECASTS)
    if not on_stage("forecasts", None):
        return None
    return with_forecasts(pipeline.run(metric_options, resample, fit), forecasts)


def _task_stages(
    pipeline: PipelineLike,
    metric_options: MetricOptions,
    resample: ResampleSettings,
    fit: FitSettings,
    on_stage: Callable[[str, Any], bool],
    tasks: tuple[str, ...],
    overview: tuple[Any, Any, Any],
) -> PartialAnalysis | None:
    """``run_stages``' fits and forecasts of ``tasks`` only, after the overview's stages."""
    if not tasks:
        return PartialAnalysis(*overview, fitted_tasks=frozenset())
    fits = pipeline.task_fits(metric_options, resample, fit, tasks)
    if not on_stage("fits", None):
        return None
    forecasts = pipeline.task_forecasts(metric_options, resample, fit, APP_FORECASTS, tasks)
    if not on_stage("forecasts", None):
        return None
    return PartialAnalysis(*overview, fits, forecasts, frozenset(tasks))


def with_forecasts(analysis: Any, forecasts: Any) -> Any:
    """``analysis`` holding ``forecasts`` (an analysis type without the field is returned as it is)."""
    if is_dataclass(analysis) and any(f.name == "forecasts" for f in fields(analysis)):
        return replace(analysis, forecasts=forecasts)
    return analysis
