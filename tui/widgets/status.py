"""The status line: what the app is doing first (busy, stale or ready), then the settings in force."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.safe_text import clean
from tui.state import ViewSettings, needs_compute


class StatusLine(Static):
    """One line, always visible: busy/ready first (so 80 columns show it), then the abbreviated settings.

    While a recompute runs and the numbers on screen were computed for other settings, it says ``stale``. A
    log-y the screen's plots refused reads ``lin-y`` (the plot's legend says why).
    """

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $boost; color: $text; padding: 0 1; }
    """

    def show(self, settings: ViewSettings, activity: str = "") -> None:
        self._shown = (settings, activity)
        self.update(self.line())

    def line(self) -> Text:
        settings, activity = getattr(self, "_shown", (ViewSettings(), ""))
        text = Text(no_wrap=True, overflow="ellipsis")
        busy = bool(activity) and activity != "ready"
        stale = busy and self.stale(settings)
        if self.is_attached:  # the screen's numbers fade while they are stale (app CSS: .-stale)
            self.screen.set_class(stale, "-stale")
        if busy:
            if stale:
                text.append("stale ", style="bold reverse")
            text.append(clean(activity) + "  ", style="italic")
        elif activity:
            text.append(clean(activity) + "  ", style="bold green")
        text.append(clean(settings.status_text(log_y_shown=self.log_y_shown())), style="bold")
        return text

    def stale(self, settings: ViewSettings) -> bool:
        """Numbers are on screen but were computed for settings a running recompute replaces."""
        computed = getattr(self.app, "computed_for", None)
        return getattr(self.app, "analysis", None) is not None and (
            computed is None or needs_compute(settings, computed)
        )

    def log_y_shown(self) -> bool | None:
        """False when a plot on this screen refused the log-y asked for; None when the screen has no plot."""
        from tui.widgets.plot import PlotWidget

        if not self.is_attached:
            return None
        plots = [plot for plot in self.screen.query(PlotWidget) if plot.spec.series]
        if not plots:
            return None
        return not any(plot.spec.log_y_refusal() for plot in plots)
