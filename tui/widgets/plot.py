"""The one plotting widget of the app, and the plot description it draws.

Backend choice: plotext 6 (the user's choice). The Textual wrapper textual-plotext 1.0.1 imports private
plotext 5 modules (``plotext._dict``) and fails on plotext 6, and pinning ``plotext<6`` would hold the
project on an unmaintained release. So this module builds the figure with plotext 6's own API
(``plotext.figure``: ``signal``, ``segment``, ``line``, ``ruler(...).scale("log")``, ``plot_size``,
``build().string()``), takes the ANSI string and shows it with ``rich.text.Text.from_ansi`` sized to the
widget, re-rendering on resize. Everything else in the app only builds a :class:`PlotSpec`, so the backend
can change here alone.

plotext keeps its figure in module-global state, so every build holds :data:`PLOT_LOCK`. Labels that come
from data files are cleaned by :func:`tui.safe_text.clean` before they reach plotext: its output is parsed
for ANSI codes, so an escape sequence in a model name would otherwise restyle the plot.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from tui.safe_text import clean

PLOT_LOCK = threading.Lock()
PALETTE: tuple[int, ...] = (12, 10, 9, 14, 13, 11, 208, 141)  # xterm-256 colours given to series in turn
CHANCE_COLOUR = 244
MIN_WIDTH, MIN_HEIGHT = 20, 6


@dataclass(frozen=True)
class Series:
    """One family's points with optional intervals, or a fitted curve (``style="fit"``)."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    lo: tuple[float | None, ...] = ()
    hi: tuple[float | None, ...] = ()
    style: str = "points"  # "points", "line" (points joined) or "fit" (a dotted curve, no markers)
    held_out: tuple[bool, ...] = ()  # points not used by the fit (backtesting): drawn with a hollow marker
    colour: int | None = None  # index into PALETTE; None: the series' position


@dataclass(frozen=True)
class PlotSpec:
    """Everything needed to draw a plot, independent of the backend."""

    title: str = ""
    x_label: str = ""
    y_label: str = ""
    series: tuple[Series, ...] = ()
    hlines: tuple[tuple[float, str], ...] = ()  # (y, label), e.g. the chance level
    log_x: bool = True
    log_y: bool = False
    message: str = ""  # shown instead of a plot when there is nothing to draw

    def usable_log_y(self) -> bool:
        """Log-y only when every y (and interval end) is positive; otherwise the plot stays linear."""
        if not self.log_y:
            return False
        values = [v for s in self.series for v in (*s.y, *s.lo, *s.hi) if v is not None]
        values += [y for y, _ in self.hlines]
        return bool(values) and all(v > 0 for v in values if math.isfinite(v))


def _finite(x: float | None, log: bool) -> bool:
    return x is not None and math.isfinite(x) and (not log or x > 0)


def render_plot(spec: PlotSpec, width: int, height: int, *, colour: bool = True) -> str:
    """Build ``spec`` with plotext at ``width`` x ``height`` cells: ANSI text, or plain without ``colour``."""
    if spec.message or not any(s.x for s in spec.series):
        return clean(spec.message or "nothing to plot")
    import plotext

    width, height = max(width, MIN_WIDTH), max(height, MIN_HEIGHT)
    log_x, log_y = spec.log_x, spec.usable_log_y()
    with PLOT_LOCK:
        fig = plotext.figure
        fig.clear()
        fig.theme("simple")
        fig.plot_size(width, height)
        fig.legend(active=False)  # plotext's boxed legend hides the smallest scales: legend_text() goes below
        # fits first, so the data markers and their whiskers are drawn over the curves
        for index, series in sorted(enumerate(spec.series), key=lambda item: item[1].style != "fit"):
            pixel = PALETTE[(series.colour if series.colour is not None else index) % len(PALETTE)]
            keep = [
                i
                for i, (x, y) in enumerate(zip(series.x, series.y, strict=True))
                if _finite(x, log_x) and _finite(y, log_y)
            ]
            if not keep:
                continue
            xs = [series.x[i] for i in keep]
            ys = [series.y[i] for i in keep]
            label = clean(series.label, max_length=28)
            if series.style == "fit":
                curve = fig.signal(xs, ys, marker=plotext.marker("·", pixel=pixel)).lines(True)
                curve.label(label)
                fig.draw(curve)
                continue
            for i in keep:  # interval whiskers first so the marker sits on top
                lo = series.lo[i] if i < len(series.lo) else None
                hi = series.hi[i] if i < len(series.hi) else None
                if _finite(lo, log_y) and _finite(hi, log_y) and hi > lo:
                    fig.draw(
                        fig.segment(
                            (series.x[i], series.x[i]), (lo, hi), marker=plotext.marker("│", pixel=pixel)
                        )
                    )
            held = [bool(series.held_out[i]) if i < len(series.held_out) else False for i in keep]
            markers = [plotext.marker("◇" if h else "●", pixel=pixel) for h in held]
            if series.style == "line":  # a curve: half-block ("hd") line, no point markers
                points = fig.signal(xs, ys, marker=plotext.marker("hd", pixel=pixel)).lines(True)
            else:
                points = fig.signal(xs, ys, marker=markers)
            points.label(label)
            fig.draw(points)
        for y, label in spec.hlines:
            if _finite(y, log_y):
                fig.line(y, pixel=CHANCE_COLOUR, style="dotted", label=clean(label, max_length=20))
        if log_x:
            fig.ruler("x").scale(
                "log"
            )  # explicit ticks on a log ruler collapse the axis in plotext 6.1: keep its own
        if log_y:
            fig.ruler("y").scale("log")
        if spec.title:
            fig.title(clean(spec.title, max_length=width - 2))
        if spec.x_label:
            fig.label(clean(spec.x_label), axis="x")
        return fig.build().string(colorless=not colour)


def legend_text(spec: PlotSpec, width: int) -> Text:
    """One line naming each series in its colour (marker ● for points, · for fits, ┈ for chance)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, series in enumerate(spec.series):
        colour = PALETTE[(series.colour if series.colour is not None else index) % len(PALETTE)]
        symbol = {"fit": "·", "line": "▬"}.get(series.style, "●")
        if text:
            text.append("  ")
        text.append(f"{symbol} ", style=f"color({colour})")
        text.append(clean(series.label, max_length=28))
    for _, label in spec.hlines:
        text.append(f"  ┈ {clean(label, max_length=20)}", style=f"color({CHANCE_COLOUR})")
    if any(True in s.held_out for s in spec.series):
        text.append("  ◇ held out", style="dim")
    text.truncate(width, overflow="ellipsis")
    return text


class PlotWidget(Widget):
    """Shows a :class:`PlotSpec` at the widget's size; re-renders on resize and when ``spec`` changes."""

    DEFAULT_CSS = """
    PlotWidget { height: 1fr; width: 1fr; min-height: 6; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, spec: PlotSpec | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._spec = spec or PlotSpec(message="loading…")
        self._cache: tuple[tuple[PlotSpec, int, int], Text] | None = None

    @property
    def spec(self) -> PlotSpec:
        return self._spec

    def show(self, spec: PlotSpec) -> None:
        """Draw ``spec`` (a no-op when it is the plot already shown)."""
        if spec != self._spec:
            self._spec = spec
            self.refresh()

    def plain_text(self) -> str:
        """The current plot and its legend as uncoloured text at the widget's size (for export)."""
        width, height = self.size.width or 80, self.size.height or 20
        plot = render_plot(self._spec, width, max(height - 1, MIN_HEIGHT), colour=False)
        return plot + "\n" + legend_text(self._spec, width).plain

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        key = (self._spec, width, height)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            text = Text("plot area too small", style="dim")
        else:
            text = Text.from_ansi(render_plot(self._spec, width, height - 1), no_wrap=True)
            if text.plain.endswith("\n"):  # from_ansi ends every line, the last one too
                text.right_crop(1)
            if not self._spec.message:
                text.append("\n")
                text.append_text(legend_text(self._spec, width))
        self._cache = (key, text)
        return text
