"""The analysis stages in the order the app runs them; the overview's numbers follow the emergence stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analysis.options import FitSettings, MetricOptions, ResampleSettings
from tui.backend.protocol import AnalysisLike, FitsLike, FrameLike, PipelineLike

if TYPE_CHECKING:
    import polars as pl

STAGES: tuple[str, ...] = ("load", "score", "points", "emergence", "fits")


@dataclass(frozen=True, eq=False)
class PartialAnalysis:
    """Points, emergence scores, mirage verdicts and (once done) fits: what the screens read.

    With ``fits`` None it holds the overview's numbers, shown while the slowest stage still runs.
    """

    points: FrameLike
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    fits: FitsLike | None = None


def run_stages(
    pipeline: PipelineLike,
    metric_options: MetricOptions,
    resample: ResampleSettings,
    fit: FitSettings,
    on_stage: Callable[[str, AnalysisLike | None], bool],
) -> AnalysisLike | None:
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
