"""The mirage check at a glance: a task's discontinuous metric beside its continuous partner."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.widgets import Footer, Static

from tui.bindings import bindings
from tui.safe_text import clean, literal
from tui.screens.base import AppScreen
from tui.views.mirage import MiragePair, mirage_pairs
from tui.views.task import task_plot
from tui.widgets.plot import PlotSpec, PlotWidget
from tui.widgets.status import StatusLine


class MirageScreen(AppScreen):
    """Two plots of the same outputs, with both metrics' statuses and the verdict per family.

    A task can have several discontinuous/continuous pairs (exact match against edit distance, token
    probability, token loss...; one set per family): ``c`` and ``C`` step through them.
    """

    DEFAULT_CSS = """
    MirageScreen #pair { layout: horizontal; height: 1fr; }
    MirageScreen.narrow #pair { layout: vertical; }
    MirageScreen #scores { height: auto; max-height: 5; padding: 0 1; }
    MirageScreen #verdict { height: auto; max-height: 3; padding: 0 1; }
    MirageScreen.short #scores { max-height: 1; }
    MirageScreen.short #verdict { max-height: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("mirage")

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task_name = task
        self.pair_index = 0
        self.pairs: list[MiragePair] = []

    def compose(self) -> ComposeResult:
        with Container(id="pair"):
            yield PlotWidget(id="left")
            yield PlotWidget(id="right")
        yield Static("", id="scores")
        yield Static("", id="verdict")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.on_resize()
        self.refresh_view()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 60, "narrow")  # side by side down to 80 columns: taller plots
        self.set_class(self.size.height < 22, "short")  # one line for the current pair: rows for the plots

    def refresh_view(self) -> None:
        app = self.app
        self.query_one(StatusLine).show(app.settings, app.activity)
        left, right = self.query_one("#left", PlotWidget), self.query_one("#right", PlotWidget)
        scores = self.query_one("#scores", Static)
        if app.analysis is None:
            left.show(PlotSpec(message="computing…"))
            right.show(PlotSpec(message=""))
            return
        pairs = mirage_pairs(app.analysis, self.task_name, app.settings.family)
        if not pairs:
            message = f"no discontinuous/continuous metric pair for {self.task_name}"
            left.show(PlotSpec(message=message))
            right.show(PlotSpec(message=""))
            scores.update(literal(message))
            self.query_one("#verdict", Static).update("")
            return
        self.pairs = pairs
        self.pair_index %= len(pairs)
        pair = pairs[self.pair_index]
        settings = app.settings.with_(metric=None, family=pair.family)
        which = f" · pair {self.pair_index + 1}/{len(pairs)}" if len(pairs) > 1 else ""
        left.show(task_plot(app.analysis, settings, self.task_name, pair.discontinuous,
                                  title=f"{pair.discontinuous} (discontinuous){which}"))  # fmt: skip
        right.show(task_plot(app.analysis, settings, self.task_name, pair.continuous,
                                   title=f"{pair.continuous} (continuous)"))  # fmt: skip
        listing = Text(no_wrap=True, overflow="ellipsis")  # one line per pair, the verdict in full below
        short = self.has_class("short")
        for index, shown in enumerate(pairs):
            if short and index != self.pair_index:
                continue
            if listing:
                listing.append("\n")
            current = index == self.pair_index
            listing.append("▶ " if current else "  ", style="bold")
            listing.append(clean(shown.family, max_length=16), style="bold" if current else "dim")
            listing.append(
                f"  {clean(shown.discontinuous, max_length=20)} {shown.status_discontinuous or '–'}"
            )
            listing.append(f" → {clean(shown.continuous, max_length=22)} {shown.status_continuous or '–'}")
        mirage = pair.verdict.startswith("mirage")
        verdict = literal(pair.verdict, style="bold yellow" if mirage else "bold")
        verdict.no_wrap = False
        scores.update(listing)
        self.query_one("#verdict", Static).update(verdict)

    def action_cycle_pair(self, step: int) -> None:
        if len(self.pairs) <= 1:
            only = "this task has one discontinuous/continuous pair" if self.pairs else "no pair to show"
            self.notify(only, severity="warning", timeout=3)
            return
        if self.pairs:
            self.pair_index = (self.pair_index + step) % len(self.pairs)
            self.refresh_view()

    def action_back(self) -> None:
        self.app.pop_screen()

    def export_table(self) -> pl.DataFrame:
        app = self.app
        pairs = mirage_pairs(app.analysis, self.task_name) if app.analysis is not None else []
        return pl.DataFrame([p.__dict__ for p in pairs]) if pairs else pl.DataFrame()

    def export_plot(self) -> str:
        return (
            self.query_one("#left", PlotWidget).plain_text()
            + "\n\n"
            + self.query_one("#right", PlotWidget).plain_text()
        )
