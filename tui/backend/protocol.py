"""What the app needs from a backend (loading) and from the pipeline it makes (the stages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings


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
