"""The one exception type the analysis layer raises for bad input.

Every message is a single line that names the file (and the column or row when known) and says what to do,
so the CLI can print it and exit 2 and the app can show it in a notification without a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad or unusable input; ``str(err)`` is a one-line message fit to show a person."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        one_line = " ".join(str(message).split())
        if path is not None and path not in one_line:
            one_line = f"{path}: {one_line}"
        super().__init__(one_line)
        self.path = path


class AnalysisError(ValueError):
    """An analysis that cannot give numbers (too few points, a constant curve); the message says why."""
