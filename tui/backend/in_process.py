"""The backend that loads and computes in this process (no child process)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.options import LoadOptions
from tui.backend.protocol import PipelineLike, TableLike


@dataclass(frozen=True)
class AnalysisBackend:
    """The real backend: ``analysis.loading.load`` and ``analysis.pipeline.Pipeline``."""

    def load(self, paths: Sequence[str], options: LoadOptions) -> TableLike:
        from analysis.loading import load, require_placed

        table = load(list(paths), options)
        require_placed(table, options)
        return table

    def pipeline(self, table: TableLike) -> PipelineLike:
        from analysis.pipeline import Pipeline

        return Pipeline(table)  # type: ignore[arg-type]  # the ResultTable this backend's load returned
