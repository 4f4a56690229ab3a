"""Messages the compute worker posts back to the app, one computation (``generation``) at a time.

Every computation the app starts gets the next generation number, and the app ignores messages of any other
generation. So a message may be dropped unread when one of a newer computation is queued right behind it
(``can_replace``, as toolong's messages do): the newer computation supersedes all the older one said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from tui.state import ViewSettings

if TYPE_CHECKING:
    from tui.backend.protocol import AnalysisLike, PipelineLike, TableLike


@dataclass
class ComputeMessage(Message):
    """A message from the worker of computation ``generation``."""

    generation: int

    def can_replace(self, message: Message) -> bool:
        """Drop this message when the next one queued is from a newer computation (the app ignores it)."""
        return isinstance(message, ComputeMessage) and message.generation > self.generation


@dataclass
class Loaded(ComputeMessage):
    """A worker read the files: the table and the pipeline over it."""

    table: TableLike
    pipeline: PipelineLike


@dataclass
class StageDone(ComputeMessage):
    """A worker finished one stage (``load``, ``score``, ...); ``partial`` holds early numbers if any."""

    stage: str
    seconds: float
    settings: ViewSettings
    partial: AnalysisLike | None = None


@dataclass
class AnalysisReady(ComputeMessage):
    """A worker finished: the analysis for ``settings`` (or an error message)."""

    analysis: AnalysisLike | None
    settings: ViewSettings
    error: str = ""
    seconds: float = 0.0


@dataclass
class SweepMessage(Message):
    """A message from the resolution sweep's worker (``generation``: its own count, not the analysis')."""

    generation: int

    def can_replace(self, message: Message) -> bool:
        """A progress report is dropped when a newer sweep message is queued right behind it."""
        return isinstance(self, SweepProgress) and isinstance(message, SweepMessage)


@dataclass
class SweepProgress(SweepMessage):
    """The sweep has done ``done`` of its ``total`` runs."""

    done: int
    total: int


@dataclass
class SweepReady(SweepMessage):
    """The sweep for ``key`` (metric options, resampling, axis), or an error message."""

    sweep: object | None
    key: tuple
    error: str = ""
