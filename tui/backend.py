"""Where the app gets its numbers: loading and the analysis pipeline, behind one small seam.

The app never computes analysis results itself; it calls ``analysis.loading.load`` and the stages of
``analysis.pipeline.Pipeline`` one by one (imported lazily, inside worker threads, so the first frame paints
before polars and scipy are imported), so it can show progress after each stage and show the overview
before the slowest stage (the fits) is done. Tests pass their own :class:`Backend` to drive the app with known
frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from analysis.options import LoadOptions
from analysis.stages import STAGES, PartialAnalysis, PipelineLike, run_stages  # noqa: F401 (the app imports them here)

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


class Backend(Protocol):
    """Loads files and makes a pipeline over the loaded table."""

    def load(self, paths: Sequence[str], options: LoadOptions) -> Any: ...

    def pipeline(self, table: Any) -> PipelineLike: ...


def default_paths(paths: Sequence[str | Path]) -> list[str]:
    """The user's paths, or the bundled sample data when none are given."""
    if paths:
        return [str(p) for p in paths]
    return [str(SAMPLE_DATA)]
