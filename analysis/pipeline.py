"""The analysis as one cached chain of stages, shared by `report` and the app.

Each stage is cached on the settings it depends on, so flipping a fit setting refits without re-scoring, and
flipping the resampling settings recomputes the points and what follows but never the per-sample metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import polars as pl

from analysis.emergence import score_emergence
from analysis.fits import FitSet, fit_points, fit_table
from analysis.forecasts import Calibration, Forecasts, calibrate, forecast
from analysis.metrics import METRICS, partners, score_samples
from analysis.mirage import task_verdicts
from analysis.options import FitSettings, ForecastSettings, MetricOptions, ResampleSettings, SweepSettings
from analysis.resampling import compute_points
from analysis.resampling.layout import _Group
from analysis.resampling.points import sample_layout
from analysis.schema import REPLICATE, PointSet, ResultTable, ScoredSamples
from analysis.steps import Outcomes, adjacent_steps, step_outcomes, tie_groups
from analysis.sweep import ResolutionSweep, resolution_sweep
from analysis.target_lengths import target_lengths


def metric_options_for(options: MetricOptions, metrics: Sequence[str]) -> MetricOptions:
    """``options`` computing only ``metrics`` and their continuous partners (so each mirage verdict is the
    one an unfiltered analysis gives); every metric when none is chosen or a chosen one has no declared
    partners and is not computed from outputs (its verdict may pair it with any continuous metric of its
    task)."""
    if not metrics or any(m not in METRICS and not partners(m) for m in metrics):
        return options
    chosen = {m for metric in metrics for m in (metric, *partners(metric))}
    return replace(options, only=tuple(m for m in METRICS if m in chosen))


@dataclass(frozen=True, eq=False)
class Resolution:
    """What the test set can resolve between models: per adjacent step its test and power analysis
    (``analysis.steps.adjacent_steps``), and per curve its tie groups (``tie_groups``). The items that would
    resolve each point from its floor are the points' own ``items_to_resolve`` column."""

    steps: pl.DataFrame
    groups: pl.DataFrame


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything computed for one set of settings (``table_fits``: a table column fitted directly)."""

    table: ResultTable
    scored: ScoredSamples
    points: PointSet
    fits: FitSet
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    metric_options: MetricOptions
    resample: ResampleSettings
    fit: FitSettings
    table_fits: FitSet | None = None
    resolution: Resolution | None = None
    sweep: ResolutionSweep | None = None
    forecasts: Forecasts | None = None
    calibration: Calibration | None = None
    sample_rows: int | None = None  # per-sample rows analysed when ``table`` does not hold them (by_task)

    @property
    def has_samples(self) -> bool:
        """Whether any per-sample row was analysed (in ``table``, or read a task at a time)."""
        return bool(self.table.samples.height if self.sample_rows is None else self.sample_rows)


class Pipeline:
    """Runs the stages for a loaded table, remembering the last result of each stage by its inputs."""

    def __init__(self, table: ResultTable) -> None:
        self.table = table
        self._scored: dict[MetricOptions, ScoredSamples] = {}
        self._layouts: dict[MetricOptions, list[_Group] | None] = {}
        self._points: dict[tuple[MetricOptions, ResampleSettings], PointSet] = {}
        self._lengths: dict[MetricOptions, dict[tuple[str, str], float]] = {}
        self._outcomes: dict[tuple[MetricOptions, ResampleSettings], Outcomes] = {}
        self._fits: dict[tuple[MetricOptions, ResampleSettings, FitSettings], FitSet] = {}
        self._table_fits: dict[tuple[str, FitSettings], FitSet] = {}
        self._task_fits: dict[
            tuple[MetricOptions, ResampleSettings, FitSettings, tuple[str, ...]], FitSet
        ] = {}
        self._task_forecasts: dict[
            tuple[MetricOptions, ResampleSettings, FitSettings, ForecastSettings, tuple[str, ...]], Forecasts
        ] = {}
        self._emergence: dict[
            tuple[MetricOptions, ResampleSettings, str], tuple[pl.DataFrame, pl.DataFrame]
        ] = {}
        self._resolution: dict[tuple[MetricOptions, ResampleSettings, str], Resolution] = {}
        self._sweeps: dict[tuple[MetricOptions, ResampleSettings, str, SweepSettings], ResolutionSweep] = {}
        self._forecasts: dict[
            tuple[MetricOptions, ResampleSettings, FitSettings, ForecastSettings], Forecasts
        ] = {}
        self._calibrations: dict[
            tuple[MetricOptions, ResampleSettings, FitSettings, ForecastSettings], Calibration
        ] = {}

    def scored(self, options: MetricOptions) -> ScoredSamples:
        if options not in self._scored:
            self._scored[options] = score_samples(self.table, options)
        return self._scored[options]

    def layout(self, options: MetricOptions) -> list[_Group] | None:
        """The scored frame as items x models matrices, laid out once and shared by the points of every
        resampling setting without a subsample and by the 0/1 step tests (whose pair counts are whole
        numbers, the same from any layout of the subsample); None when rows carry
        replicates (the steps lay out models, not (model, replicate) pairs) or there are no per-sample
        rows."""
        if options not in self._layouts:
            scored = self.scored(options)
            frame = scored.frame
            replicated = REPLICATE in frame.columns and frame[REPLICATE].null_count() < frame.height
            self._layouts[options] = None if replicated or frame.height == 0 else sample_layout(scored)
        return self._layouts[options]

    def lengths(self, options: MetricOptions) -> dict[tuple[str, str], float]:
        """Mean target length in tokens per family x task (``analysis.target_lengths``)."""
        if options not in self._lengths:
            self._lengths[options] = target_lengths(self.table, options)
        return self._lengths[options]

    def outcomes(self, options: MetricOptions, resample: ResampleSettings) -> Outcomes:
        """The 0/1 metrics' per-item outcomes as pair counts, for the steps' McNemar tests
        (``analysis.steps.step_outcomes``)."""
        key = (options, resample)
        if key not in self._outcomes:
            self._outcomes[key] = step_outcomes(self.scored(options), resample, self.layout(options))
        return self._outcomes[key]

    def points(self, options: MetricOptions, resample: ResampleSettings) -> PointSet:
        key = (options, resample)
        if key not in self._points:
            # a subsample laid out from the shared layout sums its items in another order (equal up to
            # rounding): the subsample is laid out itself, so a report's numbers do not depend on the path
            layout = self.layout(options) if resample.subsample is None else None
            self._points[key] = compute_points(self.scored(options), self.table, resample, layout=layout)
        return self._points[key]

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> FitSet:
        key = (options, resample, fit)
        if key not in self._fits:
            lengths = self.lengths(options) if fit.holdout > 0 else None
            self._fits[key] = fit_points(self.points(options, resample), fit, lengths=lengths)
        return self._fits[key]

    def task_fits(
        self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings, tasks: tuple[str, ...]
    ) -> FitSet:
        """The fits of ``tasks`` only: each curve's fit is the one ``fits`` gives among every task (fits
        share no state), so the app fits the task on screen, not a whole folder of them
        (tests/equivalence/test_task_fits.py)."""
        key = (options, resample, fit, tasks)
        if key not in self._task_fits:
            lengths = self.lengths(options) if fit.holdout > 0 else None
            points = self.points(options, resample).of_tasks(tasks)
            self._task_fits[key] = fit_points(points, fit, lengths=lengths)
        return self._task_fits[key]

    def task_forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecast_settings: ForecastSettings,
        tasks: tuple[str, ...],
    ) -> Forecasts:
        """``forecasts`` of ``tasks`` only, from their ``task_fits`` (the next decade is still each
        family's over every task)."""
        key = (options, resample, fit, forecast_settings, tasks)
        if key not in self._task_forecasts:
            self._task_forecasts[key] = forecast(
                self.points(options, resample),
                self.task_fits(options, resample, fit, tasks),
                forecast_settings,
                fit,
                self.lengths(options),
                tasks=tasks,
            )
        return self._task_forecasts[key]

    def table_fits(self, column: str, fit: FitSettings) -> FitSet:
        """A column of the loaded aggregate table fitted directly (e.g. loss over params and tokens), with
        ``fit.law`` or else the joint law."""
        key = (column, fit)
        if key not in self._table_fits:
            aggregates = self.table.aggregates
            self._table_fits[key] = fit_table(aggregates, y=column, law=fit.law or "joint", settings=fit)
        return self._table_fits[key]

    def resolution(self, options: MetricOptions, resample: ResampleSettings, x: str) -> Resolution:
        """The adjacent-step tests along axis ``x`` and their tie groups."""
        key = (options, resample, x)
        if key not in self._resolution:
            points = self.points(options, resample)
            steps = adjacent_steps(points, None, resample, x, self.outcomes(options, resample))
            self._resolution[key] = Resolution(steps, tie_groups(steps))
        return self._resolution[key]

    def emergence(
        self, options: MetricOptions, resample: ResampleSettings, x: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Each curve's status against axis ``x`` and the verdict per discontinuous metric built on them
        (which says when the step where a jump is seen is not resolved)."""
        key = (options, resample, x)
        if key not in self._emergence:
            points = self.points(options, resample)
            lengths = self.lengths(options)
            scores = score_emergence(points, x=x, ci=resample.ci, seed=resample.seed, lengths=lengths)
            steps = self.resolution(options, resample, x).steps
            self._emergence[key] = (scores, task_verdicts(scores, points, lengths, resample.ci, steps))
        return self._emergence[key]

    def resolution_sweep(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        x: str,
        sweep: SweepSettings | None = None,
        on_run: Callable[[int, int], None] | None = None,
    ) -> ResolutionSweep:
        """Statuses, verdicts, scores and intervals as functions of the test-set size n' (``analysis.sweep``):
        seeded subsamples of every size below the full n, and this pipeline's own analysis of all items
        (``resample`` without its subsample) at the full n. ``on_run(done, total)`` reports progress."""
        sweep = sweep or SweepSettings()
        key = (options, resample, x, sweep)
        if key not in self._sweeps:
            whole = replace(resample, subsample=None)
            full = (self.points(options, whole), *self.emergence(options, whole, x))
            lengths = self.lengths(options)
            self._sweeps[key] = resolution_sweep(
                self.scored(options), self.table, whole, x, sweep, full, lengths, on_run
            )
        return self._sweeps[key]

    def forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecast_settings: ForecastSettings,
    ) -> Forecasts:
        """Every curve's forecast at ``forecast_settings.scales`` on ``fit.x`` from this pipeline's fits
        (``analysis.forecasts.forecast``): direct and, for discontinuous metrics, two-step."""
        key = (options, resample, fit, forecast_settings)
        if key not in self._forecasts:
            lengths = self.lengths(options)
            self._forecasts[key] = forecast(
                self.points(options, resample),
                self.fits(options, resample, fit),
                forecast_settings,
                fit,
                lengths,
            )
        return self._forecasts[key]

    def calibration(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecast_settings: ForecastSettings | None = None,
    ) -> Calibration:
        """How well forecasts predicted each curve's largest scale (and largest two), held out, over every
        task of the file: coverage against nominal and errors against the baselines per metric kind
        (``analysis.forecasts.calibrate``)."""
        forecast_settings = forecast_settings or ForecastSettings()
        key = (options, resample, fit, forecast_settings)
        if key not in self._calibrations:
            lengths = self.lengths(options)
            self._calibrations[key] = calibrate(
                self.points(options, resample), fit, forecast_settings, lengths
            )
        return self._calibrations[key]

    def run(
        self,
        metric_options: MetricOptions | None = None,
        resample: ResampleSettings | None = None,
        fit: FitSettings | None = None,
        *,
        fit_column: str | None = None,
        sweep: SweepSettings | None = None,
        forecasts: ForecastSettings | None = None,
        calibrate: bool = False,
    ) -> Analysis:
        """Every stage for these settings; ``fit_column`` also fits that column of the table directly,
        ``sweep`` adds the resolution sweep, ``forecasts`` the forecasts at its scales (when it has any) and
        ``calibrate`` the forecasts' calibration (with ``forecasts``' factor and hold-outs)."""
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
            table_fits=None if fit_column is None else self.table_fits(fit_column, fit),
            resolution=self.resolution(metric_options, resample, fit.x),
            sweep=None if sweep is None else self.resolution_sweep(metric_options, resample, fit.x, sweep),
            forecasts=(
                self.forecasts(metric_options, resample, fit, forecasts)
                if forecasts is not None and forecasts.scales
                else None
            ),
            calibration=self.calibration(metric_options, resample, fit, forecasts) if calibrate else None,
        )
