"""The mirage check at a glance: a task's discontinuous metric beside its continuous partner."""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui import views
from tui.safe_text import clean, literal
from tui.widgets.plot import PlotSpec, PlotWidget
from tui.widgets.status import StatusLine


class MirageScreen(Screen):
    """Two plots of the same outputs, with both emergence scores and the verdict per family."""

    DEFAULT_CSS = """
    MirageScreen #pair { layout: horizontal; height: 1fr; }
    MirageScreen.narrow #pair { layout: vertical; }
    MirageScreen #scores { height: auto; max-height: 5; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,m", "back", "Back")]

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task_name = task

    def compose(self) -> ComposeResult:
        with Container(id="pair"):
            yield PlotWidget(id="left")
            yield PlotWidget(id="right")
        yield Static("", id="scores")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.on_resize()
        self.refresh_view()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "narrow")

    def refresh_view(self) -> None:
        app: Any = self.app
        self.query_one(StatusLine).show(app.settings, app.activity)
        left, right = self.query_one("#left", PlotWidget), self.query_one("#right", PlotWidget)
        scores = self.query_one("#scores", Static)
        if app.analysis is None:
            left.show(PlotSpec(message="computing…"))
            right.show(PlotSpec(message=""))
            return
        pairs = views.mirage_pairs(app.analysis, self.task_name, app.settings.family)
        if not pairs:
            message = f"no discontinuous/continuous metric pair for {self.task_name}"
            left.show(PlotSpec(message=message))
            right.show(PlotSpec(message=""))
            scores.update(literal(message))
            return
        first = pairs[0]
        settings = app.settings.with_(metric=None)
        left.show(views.task_plot(app.analysis, settings, self.task_name, first.discontinuous,
                                  title=f"{first.discontinuous} (discontinuous)"))  # fmt: skip
        right.show(views.task_plot(app.analysis, settings, self.task_name, first.continuous,
                                   title=f"{first.continuous} (continuous)"))  # fmt: skip
        text = Text()
        for pair in pairs:
            if text:
                text.append("\n")
            text.append(clean(pair.family, max_length=16), style="bold")
            text.append(" " + clean(pair.task, max_length=24))
            text.append(f": {views.fmt(pair.score_discontinuous)} → {views.fmt(pair.score_continuous)}  ")
            text.append(clean(pair.verdict), style="bold yellow" if "mirage" in pair.verdict else "bold")
        scores.update(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def export_table(self) -> pl.DataFrame:
        app: Any = self.app
        pairs = views.mirage_pairs(app.analysis, self.task_name) if app.analysis is not None else []
        return pl.DataFrame([p.__dict__ for p in pairs]) if pairs else pl.DataFrame()

    def export_plot(self) -> str:
        return (
            self.query_one("#left", PlotWidget).plain_text()
            + "\n\n"
            + self.query_one("#right", PlotWidget).plain_text()
        )
