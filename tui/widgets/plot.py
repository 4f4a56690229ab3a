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

from tui.safe_text import clean, elide, elided_widths

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
    style: str = "points"  # "points"; "line" or "fit" (a braille curve); "fit_points" (braille, not joined);
    # "band": a forecast, its interval (lo/hi) drawn as a band from the last measured scale and ◆ at the value
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

    def log_y_refusal(self) -> str:
        """Why log-y cannot be drawn (empty when it can, or when it is not asked for).

        A point at or below 0 whose interval reaches above 0 (0 of n right: [0, 0.0037]) is drawn as an upper
        limit, an arrow at its interval's top; a point at or below 0 without a positive upper end, or a curve
        through negative values, has no place on a log axis, so the plot stays linear and says why (fitted
        curves, and curves where they are exactly 0, are drawn where they are positive).
        """
        if not self.log_y:
            return ""
        for series in self.series:
            for i, y in enumerate(series.y):
                if y is None or not math.isfinite(y) or y > 0:
                    continue
                hi = series.hi[i] if i < len(series.hi) else None
                if series.style == "points" and hi is not None and math.isfinite(hi) and hi > 0:
                    continue
                if series.style in ("fit", "fit_points"):  # a fitted curve is only drawn where it is positive
                    continue
                if series.style == "line" and y == 0:  # a closed-form curve at exactly 0: not drawn there
                    continue
                return f"log-y off: {clean(series.label, max_length=24)} has values <= 0"
        return ""

    def usable_log_y(self) -> bool:
        """Log-y when asked for and no value rules it out (:meth:`log_y_refusal`)."""
        return self.log_y and not self.log_y_refusal() and any(s.x for s in self.series)

    def upper_limits(self) -> bool:
        """Whether a log-y plot draws a point as an upper limit (its value <= 0, its interval's top > 0)."""
        return self.usable_log_y() and any(
            y is not None and y <= 0 and i < len(s.hi) and s.hi[i] is not None and s.hi[i] > 0
            for s in self.series
            if s.style == "points"
            for i, y in enumerate(s.y)
        )


def _finite(x: float | None, log: bool) -> bool:
    return x is not None and math.isfinite(x) and (not log or x > 0)


def tick_label(value: float) -> str:
    """A tick value in at most 3 significant digits: 0.25, 1000, 1e7, 2.5e-4 (no "+0" exponent padding)."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.6g}"  # ticks are round already; this only drops float noise (0.30000000000000004)
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def linear_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi], at most ``most`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(most - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    return [0.0 if abs(t) < step * 1e-9 else t for t in ticks]


def log_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Tick positions in log10 space inside [lo, hi]: whole decades (every k-th when many), or 1-2-5 steps
    when the range spans under two decades."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 3:
        for every in range(1, len(decades) + 1):  # the densest whole-decade spacing that fits
            ticks = [float(d) for d in decades if d % every == 0]
            if 2 <= len(ticks) <= max(most, 2):
                return ticks
        return [float(decades[0]), float(decades[-1])]
    fine = [
        math.log10(m) + d
        for d in range(math.floor(lo) - 1, math.ceil(hi) + 1)
        for m in (1, 2, 5)
        if lo - 1e-9 <= math.log10(m) + d <= hi + 1e-9
    ]
    return fine if len(fine) >= 2 else linear_ticks(lo, hi, most)


def _padded(lo: float, hi: float) -> tuple[float, float]:
    """The data range, widened a little (or around a single value) so no point sits on the frame."""
    pad = (hi - lo) * 0.02 if hi > lo else max(abs(lo) * 0.05, 0.5)
    return lo - pad, hi + pad


def _axis_ticks(values: list[float], log: bool, most: int) -> tuple[list[float], list[str]]:
    """(positions, labels) for an axis whose plotted values (log10 already applied when ``log``) are given."""
    if not values:
        return [], []
    lo, hi = min(values), max(values)
    positions = log_ticks(lo, hi, most) if log else linear_ticks(lo, hi, most)
    return positions, [tick_label(10**p if log else p) for p in positions]


MARKERS: tuple[str, ...] = ("●", "■", "▲", "◆", "✚", "✖", "★")  # shapes given to families in turn
HOLLOW: dict[str, str] = {"●": "○", "■": "□", "▲": "△", "◆": "◇", "✚": "+", "✖": "x", "★": "☆"}
FIT_SYMBOL = "⠒"  # fits and curves are drawn in braille dots (a finer grid), data as whole-cell shapes
BAND_SYMBOL = "◆"  # a forecast's value, at the end of its band


def series_style(series: Series, index: int) -> tuple[int, str]:
    """(xterm colour, marker) of a series: colours and shapes cycle at different lengths (8 and 7), so 56
    families get distinct pairs, and a family's points and its fit share them."""
    slot = series.colour if series.colour is not None else index
    return PALETTE[slot % len(PALETTE)], MARKERS[slot % len(MARKERS)]


def render_plot(spec: PlotSpec, width: int, height: int, *, colour: bool = True) -> str:
    """Build ``spec`` with plotext at ``width`` x ``height`` cells: ANSI text, or plain without ``colour``.

    Log axes are drawn by plotting log10 of the values on a linear axis with our own round tick labels in
    the axis' own units (1e7, 1e8...): plotext's log ruler labels ticks with five digits at irregular values.
    Drawing order, later over earlier: reference lines (chance, 1/n), forecast bands, fitted curves
    (braille), whiskers, data.
    """
    if spec.message or not any(s.x for s in spec.series):
        return clean(spec.message or "nothing to plot")
    import plotext

    width, height = max(width, MIN_WIDTH), max(height, MIN_HEIGHT)
    log_x, log_y = spec.log_x, spec.usable_log_y()

    def tx(value: float) -> float:
        return math.log10(value) if log_x else value

    def ty(value: float) -> float:
        return math.log10(value) if log_y else value

    all_x: list[float] = []
    all_y: list[float] = []
    curves: list[tuple[list[float], list[float], int, bool]] = []  # (x, y, colour, joined)
    whiskers: list[tuple[float, float, float, int]] = []  # (x, lo, hi, colour)
    marks: list[tuple[list[float], list[float], list[str], int]] = []  # (x, y, markers, colour)
    bands: list[tuple[list[float], list[float], list[float], int]] = []  # (x, lo, hi, colour)
    limits: list[
        tuple[float, float, int]
    ] = []  # (x, top, colour): log-y points at 0, drawn as ↓ at their top
    for index, series in enumerate(spec.series):
        pixel, shape = series_style(series, index)
        keep = [
            i
            for i, (x, y) in enumerate(zip(series.x, series.y, strict=True))
            if _finite(x, log_x) and _finite(y, log_y)
        ]
        xs = [tx(series.x[i]) for i in keep]
        ys = [ty(series.y[i]) for i in keep]
        all_x += xs
        all_y += ys
        if series.style == "band":
            ends = [
                i
                for i in keep
                if i < min(len(series.lo), len(series.hi))
                and _finite(series.lo[i], log_y)
                and _finite(series.hi[i], log_y)
            ]
            lows, highs = [ty(series.lo[i]) for i in ends], [ty(series.hi[i]) for i in ends]
            bands.append(([tx(series.x[i]) for i in ends], lows, highs, pixel))
            all_y += lows + highs
            if xs:
                marks.append(([xs[-1]], [ys[-1]], [BAND_SYMBOL], pixel))
            continue
        if series.style in ("fit", "line", "fit_points"):
            if xs:
                curves.append((xs, ys, pixel, series.style != "fit_points"))
            continue
        for i in keep:
            lo = series.lo[i] if i < len(series.lo) else None
            hi = series.hi[i] if i < len(series.hi) else None
            if _finite(lo, log_y) and _finite(hi, log_y) and hi > lo:
                whiskers.append((tx(series.x[i]), ty(lo), ty(hi), pixel))
                all_y += [ty(lo), ty(hi)]
        held = [bool(series.held_out[i]) if i < len(series.held_out) else False for i in keep]
        if xs:
            marks.append((xs, ys, [HOLLOW[shape] if h else shape for h in held], pixel))
        if log_y:
            for i, (x, y) in enumerate(zip(series.x, series.y, strict=True)):
                hi = series.hi[i] if i < len(series.hi) else None
                if _finite(x, log_x) and y is not None and y <= 0 and _finite(hi, True):
                    limits.append((tx(x), ty(hi), pixel))
                    all_x.append(tx(x))
                    all_y.append(ty(hi))
    lines = [(ty(y), label) for y, label in spec.hlines if _finite(y, log_y)]
    all_y += [y for y, _ in lines]
    if not all_x or not all_y:
        return "nothing to plot on these axes"
    x_lim, y_lim = _padded(min(all_x), max(all_x)), _padded(min(all_y), max(all_y))
    with PLOT_LOCK:
        plotext.terminal.limit(False, False)  # the widget sets the size: not capped to the (guessed) terminal
        fig = plotext.figure
        fig.clear()
        fig.theme("simple")
        fig.plot_size(width, height)
        fig.legend(active=False)  # plotext's boxed legend hides the smallest scales: legend_text() goes below
        for y, _ in lines:  # thin braille lines under everything: a reference, not a band over the data
            fig.draw(
                fig.signal(list(x_lim), [y, y], marker=plotext.marker("braille", pixel=CHANCE_COLOUR)).lines(
                    True
                )
            )
        for xs, lows, highs, pixel in bands:  # a forecast's interval: edges in ░, a ┊ across it at each x
            if len(xs) >= 2:
                for edge in (lows, highs):
                    fig.draw(fig.signal(xs, edge, marker=plotext.marker("░", pixel=pixel)).lines(True))
            for x, bottom, top in zip(xs, lows, highs, strict=True):
                if top > bottom:
                    fig.draw(fig.segment((x, x), (bottom, top), marker=plotext.marker("┊", pixel=pixel)))
        for xs, ys, pixel, joined in curves:
            curve = fig.signal(xs, ys, marker=plotext.marker("braille", pixel=pixel))
            fig.draw(curve.lines(True) if joined else curve)
        for x, lo, hi, pixel in whiskers:
            fig.draw(fig.segment((x, x), (lo, hi), marker=plotext.marker("│", pixel=pixel)))
        for x, top, pixel in limits:
            if top > y_lim[0]:
                fig.draw(fig.segment((x, x), (y_lim[0], top), marker=plotext.marker("│", pixel=pixel)))
        for xs, ys, shapes, pixel in marks:
            fig.draw(fig.signal(xs, ys, marker=[plotext.marker(s, pixel=pixel) for s in shapes]))
        for x, top, pixel in limits:
            fig.draw(fig.signal([x], [top], marker=plotext.marker("↓", pixel=pixel)))
        x_ticks = _axis_ticks(all_x, log_x, max(2, (width - 6) // 9))
        y_ticks = _axis_ticks(all_y, log_y, max(3, min(6, (height - 3) // 2)))
        for axis, ticks, lim in (("x", x_ticks, x_lim), ("y", y_ticks, y_lim)):
            ruler = fig.ruler(axis)
            if ticks[0]:
                ruler.ticks(*ticks)
            ruler.lim(*lim)  # ticks alone would clip the data to their range
        if (
            spec.title and height >= 10
        ):  # a short plot gives the title's row to the data (the screen names it)
            fig.title(clean(spec.title, max_length=width - 2))
        x_label = clean(spec.x_label + (" (log)" if log_x else "")) if spec.x_label else ""
        if x_label:
            fig.label(x_label, axis="x")
        if spec.y_label:  # bottom left, on the x label's line: it must end before the centred x label starts
            room = max((width - len(x_label)) // 2 - 2, 4)
            fig.label(clean(spec.y_label + (" (log)" if log_y else ""), max_length=room), axis="y")
        return fig.build().string(colorless=not colour)


def legend_text(spec: PlotSpec, width: int) -> Text:
    """One line naming each series in its colour and shape (the family's shape for its points, braille dots
    for fits and curves, ┈ for reference lines); what does not fit ends in "+N more"."""
    entries: list[Text] = []
    refusal = spec.log_y_refusal()
    curve_styles = ("fit", "line", "fit_points")
    slots = [series_style(series, index) for index, series in enumerate(spec.series)]
    with_points = {slots[i] for i, series in enumerate(spec.series) if series.style not in curve_styles}
    merged = False  # a family's fit shares its entry (shape, then braille): one entry per family
    labels = [clean(series.label) for series in spec.series if series.style not in curve_styles]
    width_of = elided_widths({"label": labels}, room=max(width // 3, 12), least=8)["label"] if labels else 28
    for index, series in enumerate(spec.series):
        colour, shape = slots[index]
        if series.style in curve_styles and slots[index] in with_points:
            merged = True
            continue
        has_fit = any(
            slots[j] == slots[index] and other.style in curve_styles for j, other in enumerate(spec.series)
        )
        entry = Text()
        symbol = FIT_SYMBOL if series.style in curve_styles else shape + (FIT_SYMBOL if has_fit else "")
        if series.style == "band":  # a forecast: its own entry, the symbol of its value
            symbol = BAND_SYMBOL
        entry.append(f"{symbol} ", style=f"color({colour})")
        entry.append(elide(series.label, width_of if series.style not in curve_styles else 28))
        entries.append(entry)
    tail: list[Text] = []
    for y, label in spec.hlines:
        if spec.usable_log_y() and not y > 0:
            continue  # not drawn on a log axis
        tail.append(Text(f"┈ {clean(label, max_length=20)}", style=f"color({CHANCE_COLOUR})"))
    if merged:
        tail.append(Text(f"{FIT_SYMBOL} fitted law", style="dim"))
    if any(True in s.held_out for s in spec.series):
        tail.append(Text("○ held out", style="dim"))
    if spec.upper_limits():
        tail.append(Text("↓ 0: below its CI's top", style="dim"))
    text = Text(no_wrap=True, overflow="ellipsis")
    if refusal:  # first: the y axis is not what the status asked for
        text.append(refusal + "  ", style="bold red")
    shown = [*entries, *tail]
    for count in range(len(shown), 0, -1):  # as many entries as fit, then how many more there are
        more = len(shown) - count
        line = Text("  ").join(shown[:count])
        if more:
            line.append(f"  +{more} more (F: one family)", style="bold")
        if len(text) + line.cell_len <= width or count == 1:
            text.append_text(line)
            break
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
            refused = spec.log_y_refusal() != self._spec.log_y_refusal()
            self._spec = spec
            self.refresh()
            if refused and self.is_attached:  # the status line says lin-y while a plot refuses log-y
                from tui.widgets.status import StatusLine

                for status in self.screen.query(StatusLine):
                    status.update(status.line())

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
