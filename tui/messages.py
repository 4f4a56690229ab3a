"""Messages the compute worker posts back to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tui.state import ViewSettings


class AnalysisReady(Message):
    """A worker finished: the analysis for ``settings`` (or an error message)."""

    def __init__(
        self, generation: int, analysis: Any, settings: ViewSettings, error: str = "", seconds: float = 0.0
    ) -> None:
        super().__init__()
        self.generation = generation
        self.analysis = analysis
        self.settings = settings
        self.error = error
        self.seconds = seconds


class StageDone(Message):
    """A worker finished one stage (``load``, ``score``, ...); ``partial`` holds early numbers if any."""

    def __init__(
        self, generation: int, stage: str, seconds: float, settings: ViewSettings, partial: Any = None
    ) -> None:
        super().__init__()
        self.generation = generation
        self.stage = stage
        self.seconds = seconds
        self.settings = settings
        self.partial = partial


class Loaded(Message):
    """A worker read the files: the table and the pipeline over it."""

    def __init__(self, generation: int, table: Any, pipeline: Any) -> None:
        super().__init__()
        self.generation = generation
        self.table = table
        self.pipeline = pipeline
