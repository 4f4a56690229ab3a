"""The status line: current metric, axis and resampling settings, plus what the workers are doing."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.safe_text import clean
from tui.state import ViewSettings


class StatusLine(Static):
    """One line, always visible: the settings in force and a busy/ready note."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $boost; color: $text; padding: 0 1; }
    """

    def show(self, settings: ViewSettings, activity: str = "") -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        busy = activity and activity != "ready"
        if busy:  # what the workers are doing goes first, so a narrow terminal still shows it
            text.append(clean(activity) + "  ", style="italic")
        text.append(clean(settings.status_text()), style="bold")
        if activity and not busy:
            text.append("  " + clean(activity), style="italic")
        self.update(text)
