"""The paths the app and ``report`` read: the user's, or the bundled sample data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def default_paths(paths: Sequence[str | Path]) -> list[str]:
    """The user's paths, or the bundled sample data when none are given."""
    if paths:
        return [str(p) for p in paths]
    return [str(SAMPLE_DATA)]
