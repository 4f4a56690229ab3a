"""Where the app gets its numbers: loading and the analysis pipeline, behind one small seam.

The app never computes analysis results itself; it calls ``analysis.loading.load`` and the stages of
``analysis.pipeline.Pipeline`` one by one (imported lazily, inside worker threads, so the first frame paints
before polars and scipy are imported), so it can show progress after each stage and show the overview
before the slowest stage (the fits) is done. Tests pass their own :class:`Backend` to drive the app with known
frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
STAGES: tuple[str, ...] = ("load", "score", "points", "emergence", "fits")


class PipelineLike(Protocol):
    """What the app needs from ``analysis.pipeline.Pipeline``: stage methods, each cached on its settings."""

    def scored(self, options: MetricOptions) -> Any: ...

    def points(self, options: MetricOptions, resample: ResampleSettings) -> Any: ...

    def emergence(self, options: MetricOptions, resample: ResampleSettings, x: str) -> Any: ...

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> Any: ...

    def run(self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> Any: ...


class Backend(Protocol):
    """Loads files and makes a pipeline over the loaded table."""

    def load(self, paths: Sequence[str], options: LoadOptions) -> Any: ...

    def pipeline(self, table: Any) -> PipelineLike: ...


@dataclass(frozen=True)
class AnalysisBackend:
    """The real backend: ``analysis.loading.load`` and ``analysis.pipeline.Pipeline``."""

    def load(self, paths: Sequence[str], options: LoadOptions) -> Any:
        from analysis.loading import load

        return load(list(paths), options)

    def pipeline(self, table: Any) -> PipelineLike:
        from analysis.pipeline import Pipeline

        return Pipeline(table)


@dataclass(frozen=True, eq=False)
class PartialAnalysis:
    """Points, emergence scores, mirage verdicts and (once done) fits: what the screens read.

    With ``fits`` None it holds the overview's numbers, shown while the slowest stage still runs.
    """

    points: Any
    emergence: Any
    mirage: Any
    fits: Any = None


def run_stages(
    pipeline: PipelineLike,
    metric_options: MetricOptions,
    resample: ResampleSettings,
    fit: FitSettings,
    on_stage: Callable[[str, Any], bool],
) -> Any:
    """Run score, points, emergence and fits in turn; ``on_stage(name, partial)`` after each.

    ``partial`` is a :class:`PartialAnalysis` after the emergence stage and None otherwise. When ``on_stage``
    returns False the run stops (the settings changed meanwhile) and None is returned; otherwise the full
    analysis (every stage is cached by the pipeline, so the final ``run`` only assembles).
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
    return pipeline.run(metric_options, resample, fit)


def default_paths(paths: Sequence[str | Path]) -> list[str]:
    """The user's paths, or the bundled sample data when none are given."""
    if paths:
        return [str(p) for p in paths]
    return [str(SAMPLE_DATA)]
