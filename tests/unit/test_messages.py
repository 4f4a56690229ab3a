"""The worker's messages: a message of a newer computation supersedes any older one queued before it."""

from __future__ import annotations

from textual.message import Message

from tui.messages import AnalysisReady, Loaded, StageDone
from tui.state import ViewSettings

SETTINGS = ViewSettings()


def test_a_newer_computation_supersedes_every_older_message() -> None:
    older = [
        Loaded(1, "table", "pipeline"),
        StageDone(1, "score", 0.1, SETTINGS),
        AnalysisReady(1, None, SETTINGS),
    ]
    newer = StageDone(2, "score", 0.2, SETTINGS)
    assert all(message.can_replace(newer) for message in older)
    assert not newer.can_replace(AnalysisReady(1, None, SETTINGS)), "an older result never drops a newer one"


def test_messages_of_one_computation_are_all_delivered() -> None:
    stages = [StageDone(3, stage, 0.0, SETTINGS) for stage in ("score", "points")]
    ready = AnalysisReady(3, None, SETTINGS, error="bad file")
    assert not stages[0].can_replace(stages[1]) and not stages[1].can_replace(ready)
    assert not ready.can_replace(Message()), "other messages (keys, resizes) never drop a result"
    assert (ready.generation, ready.error, ready.seconds) == (3, "bad file", 0.0)
