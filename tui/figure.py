"""The plot as a figure for a paper: an SVG drawn with matplotlib from the :class:`PlotSpec` the app shows.

Everything the terminal plot holds is drawn: one series per family with its interval bars (held-out points
hollow), the fitted curves through and beyond the data, the chance line, the axes' names and scales. Each
family gets a colour and a marker of its own (colours repeat only after ten families, and then with another
marker). matplotlib is imported here only, when a figure is written, so the app starts without it; the SVG
canvas is used directly (no pyplot, no global backend state), text stays text (``svg.fonttype: none``) and the
file carries no date, so the same figure gives the same bytes. Labels from data files are shown literally:
``$`` is escaped so matplotlib never reads a name as mathtext.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from tui.widgets.plot import PlotSpec, Series

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
PANEL_INCHES = (5.2, 3.6)
MAX_COLUMNS = 3


def literal_label(text: str) -> str:
    """A label matplotlib shows as written: ``$`` escaped (no mathtext), control characters dropped."""
    return "".join(ch for ch in str(text) if ch.isprintable()).replace("$", r"\$")


def _style(index: int) -> tuple[str, str]:
    """Colour and marker of the ``index``-th family: ten colours, and each later ten with other markers."""
    return COLOURS[index % len(COLOURS)], MARKERS[(index + index // len(COLOURS)) % len(MARKERS)]


def _values(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _draw_points(ax: object, series: Series, colour: str, marker: str) -> None:
    x, y = _values(series.x), _values(series.y)
    lo = _values(series.lo) if len(series.lo) == len(y) else [math.nan] * len(y)
    hi = _values(series.hi) if len(series.hi) == len(y) else [math.nan] * len(y)
    below = [v - low if math.isfinite(v - low) else 0.0 for v, low in zip(y, lo, strict=True)]
    above = [high - v if math.isfinite(high - v) else 0.0 for v, high in zip(y, hi, strict=True)]
    below, above = [max(b, 0.0) for b in below], [max(a, 0.0) for a in above]
    held = list(series.held_out) if len(series.held_out) == len(y) else [False] * len(y)
    kept = [i for i in range(len(y)) if not held[i]]
    label = literal_label(series.label)
    for indices, face, name in ((kept, colour, label), ([i for i in range(len(y)) if held[i]], "none", None)):
        if not indices:
            continue
        ax.errorbar(  # type: ignore[attr-defined]
            [x[i] for i in indices],
            [y[i] for i in indices],
            yerr=[[below[i] for i in indices], [above[i] for i in indices]],
            fmt=marker,
            linestyle="-" if series.style == "line" else "none",
            color=colour,
            markerfacecolor=face,
            markeredgecolor=colour,
            markersize=5,
            capsize=2,
            elinewidth=0.8,
            label=name if name else f"{label} (held out)",
            gid=f"series-{label}" if name else f"held-out-{label}",
        )


def _panel(ax: object, spec: PlotSpec, styles: dict[str, tuple[str, str]]) -> None:
    log_y = spec.usable_log_y()
    family_of = {s.colour: s.label for s in spec.series if s.style != "fit"}  # a fit has its family's colour
    for series in spec.series:
        family = family_of.get(series.colour, series.label) if series.style == "fit" else series.label
        colour, marker = styles.get(family) or _style(len(styles))
        if series.style == "fit":
            ax.plot(  # type: ignore[attr-defined]
                _values(series.x),
                _values(series.y),
                linestyle="--",
                linewidth=1.2,
                color=colour,
                label=literal_label(series.label),
                gid=f"fit-{literal_label(series.label)}",
            )
        else:
            _draw_points(ax, series, colour, marker)
    for y, label in spec.hlines:
        ax.axhline(  # type: ignore[attr-defined]
            y, color="#888888", linestyle=":", linewidth=1, label=literal_label(label), gid=f"hline-{label}"
        )
    if spec.log_x:
        ax.set_xscale("log")  # type: ignore[attr-defined]
    if log_y:
        ax.set_yscale("log")  # type: ignore[attr-defined]
    ax.set_xlabel(literal_label(spec.x_label + (" (log scale)" if spec.log_x else "")))  # type: ignore[attr-defined]
    ax.set_ylabel(literal_label(spec.y_label + (" (log scale)" if log_y else "")))  # type: ignore[attr-defined]
    ax.set_title(literal_label(spec.title), fontsize=10)  # type: ignore[attr-defined]
    ax.grid(True, which="major", alpha=0.3)  # type: ignore[attr-defined]
    if spec.message and not spec.series:
        ax.text(0.5, 0.5, literal_label(spec.message), ha="center", va="center", transform=ax.transAxes)  # type: ignore[attr-defined]
    handles, labels = ax.get_legend_handles_labels()  # type: ignore[attr-defined]
    if handles:
        ax.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)  # type: ignore[attr-defined]


def figure_svg(specs: Sequence[PlotSpec], title: str = "") -> str:
    """The plots ``specs`` as one SVG document: a panel each, up to three a row, families styled alike."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    specs = list(specs) or [PlotSpec(message="nothing to plot")]
    families: dict[str, tuple[str, str]] = {}
    for spec in specs:
        for series in spec.series:
            if series.style != "fit" and series.label not in families:
                families[series.label] = _style(len(families))
    columns = min(len(specs), MAX_COLUMNS)
    rows = math.ceil(len(specs) / columns)
    legend_inches = 1.8
    width = (PANEL_INCHES[0] + legend_inches) * columns
    size = (width, PANEL_INCHES[1] * rows + (0.4 if title else 0))
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "emergence-tui", "font.size": 9}):
        figure = Figure(figsize=size, layout="constrained")
        FigureCanvasSVG(figure)
        axes = figure.subplots(rows, columns, squeeze=False)
        for index, spec in enumerate(specs):
            _panel(axes[index // columns][index % columns], spec, families)
        for index in range(len(specs), rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        if title:
            figure.suptitle(literal_label(title))
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
