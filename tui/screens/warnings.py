"""Every warning of the loaded files, in full and numbered, in one scrollable list (toasts show a few).

The readers warn about everything they decided for the user (runs ignored, rows dropped, values averaged,
models that cannot be placed), so a folder of real results can give dozens; each is shown whole and literally
(text from data files is never read as markup), with the files read and the load's error, if any, above them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.bindings import bindings
from tui.safe_text import clean

MAX_SOURCES = 5  # the files read: the first few are named, the rest counted


def warnings_text(warnings: Sequence[str], sources: Sequence[str] = (), error: str = "") -> Text:
    """The screen's body: the error, the files read, then each warning numbered (pure, for tests)."""
    body = Text()
    if error:
        body.append("error: ", style="bold red")
        body.append(clean(error) + "\n\n")
    if sources:
        shown = [clean(s) for s in sources[:MAX_SOURCES]]
        more = f" and {len(sources) - MAX_SOURCES} more" if len(sources) > MAX_SOURCES else ""
        body.append(f"read {len(sources)} file(s): ", style="bold")
        body.append(", ".join(shown) + more + "\n\n")
    if not warnings:
        body.append("no warnings: every file was read as it is", style="dim")
        return body
    width = len(str(len(warnings)))
    for number, warning in enumerate(warnings, start=1):
        body.append(f"{number:>{width}}. ", style="bold yellow")
        body.append(clean(warning) + "\n")
    return body


class WarningsScreen(ModalScreen[None]):
    """All warnings of the current input (``w``); Esc closes."""

    DEFAULT_CSS = """
    WarningsScreen { align: center middle; }
    WarningsScreen > Vertical { width: 100; max-width: 95%; height: 90%; border: thick $warning;
        background: $surface; padding: 0 1; }
    WarningsScreen #warnings-title { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("warnings")

    def __init__(self, warnings: Sequence[str], sources: Sequence[str] = (), error: str = "") -> None:
        super().__init__()
        self.warnings = tuple(warnings)
        self.sources = tuple(sources)
        self.error = error

    def compose(self) -> ComposeResult:
        count = len(self.warnings)
        title = f"Warnings: {count} while loading (Esc closes; ↑ ↓ PgUp PgDn scroll)"
        with Vertical():
            yield Static(Text(title, style="bold"), id="warnings-title")
            with VerticalScroll(id="warnings-scroll"):
                yield Static(warnings_text(self.warnings, self.sources, self.error), id="warnings-body")

    def on_mount(self) -> None:
        self.query_one("#warnings-scroll", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
