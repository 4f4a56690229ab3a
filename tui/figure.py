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
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui.widgets.plot import PlotSpec, Series

if TYPE_CHECKING:
    from tui.backend.protocol import AnalysisLike
    from tui.state import ViewSettings

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
PANEL_INCHES = (5.2, 3.6)
MAX_COLUMNS = 3  # panels a row
LEGEND_ROWS = 24  # legend entries a column
FITS_NAMED = 6  # up to this many families, each fit has its own legend entry


def literal_label(text: str) -> str:
    """A label matplotlib shows as written: ``$`` escaped (no mathtext), control characters dropped."""
    return "".join(ch for ch in str(text) if ch.isprintable()).replace("$", r"\$")


def _id(text: str) -> str:
    """``text`` as part of an SVG id: other characters than letters, digits, ``.`` and ``-`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", str(text)).strip("_") or "_"


def _style(index: int) -> tuple[str, str]:
    """Colour and marker of the ``index``-th family: ten colours, and each later ten with other markers."""
    return COLOURS[index % len(COLOURS)], MARKERS[(index + index // len(COLOURS)) % len(MARKERS)]


def _values(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _draw_points(ax: object, series: Series, colour: str, marker: str, panel: int) -> None:
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
        bars = ax.errorbar(  # type: ignore[attr-defined]
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
        )
        bars[0].set_gid(
            f"p{panel}-{'points' if name else 'held-out'}-{_id(series.label)}"
        )  # a marker a point


def _panel(ax: object, spec: PlotSpec, styles: dict[str, tuple[str, str]], panel: int) -> None:
    """One plot: ``panel`` numbers it, so the SVG ids of its parts (``p0-points-<family>``,
    ``p0-fit-<label>``, ``p0-hline-chance``) are unique in the file."""
    log_y = spec.usable_log_y()
    family_of = {s.colour: s.label for s in spec.series if s.style != "fit"}  # a fit has its family's colour
    fits_named = len(family_of) <= FITS_NAMED  # more families: one legend entry says what dashes are
    any_fit = False
    for series in spec.series:
        family = family_of.get(series.colour, series.label) if series.style == "fit" else series.label
        colour, marker = styles.get(family) or _style(len(styles))
        if series.style == "fit":
            any_fit = True
            ax.plot(  # type: ignore[attr-defined]
                _values(series.x),
                _values(series.y),
                linestyle="--",
                linewidth=1.2,
                color=colour,
                label=literal_label(series.label) if fits_named else "_nolegend_",
                gid=f"p{panel}-fit-{_id(series.label)}",
            )
        else:
            _draw_points(ax, series, colour, marker, panel)
    if any_fit and not fits_named:
        ax.plot([], [], linestyle="--", color="#555555", label="fitted law (family colour)")  # type: ignore[attr-defined]
    for y, label in spec.hlines:
        ax.axhline(  # type: ignore[attr-defined]
            y,
            color="#888888",
            linestyle=":",
            linewidth=1,
            label=literal_label(label),
            gid=f"p{panel}-hline-{_id(label)}",
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
        ax.legend(  # type: ignore[attr-defined]
            handles,
            labels,
            fontsize=7,
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            frameon=False,
            ncols=math.ceil(len(handles) / LEGEND_ROWS),
        )


def _legend_entries(spec: PlotSpec) -> int:
    families = sum(s.style != "fit" for s in spec.series)
    fits = sum(s.style == "fit" for s in spec.series)
    held = sum(s.style != "fit" and any(s.held_out) for s in spec.series)
    return families + held + (fits if families <= FITS_NAMED else min(fits, 1)) + len(spec.hlines)


def figure_svg(specs: Sequence[PlotSpec], title: str = "") -> str:
    """The plots ``specs`` as one SVG document: a panel each, up to three a row, families styled alike.

    The legend sits right of each panel, in as many columns as its entries need (at most ``LEGEND_ROWS``
    rows); with more than ``FITS_NAMED`` families one entry explains the dashed fits instead of one each.
    """
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
    entries = max(_legend_entries(spec) for spec in specs)
    legend_columns = max(1, math.ceil(entries / LEGEND_ROWS))
    longest = max((len(s.label) for spec in specs for s in spec.series), default=8)
    legend_inches = legend_columns * (0.5 + 0.055 * min(longest, 40))
    width = (PANEL_INCHES[0] + legend_inches) * columns
    height = max(PANEL_INCHES[1], 0.16 * min(entries, LEGEND_ROWS) + 0.8)
    size = (width, height * rows + (0.4 if title else 0))
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "emergence-tui", "font.size": 9}):
        figure = Figure(figsize=size, layout="constrained")
        FigureCanvasSVG(figure)
        axes = figure.subplots(rows, columns, squeeze=False)
        for index, spec in enumerate(specs):
            _panel(axes[index // columns][index % columns], spec, families, index)
        for index in range(len(specs), rows * columns):
            axes[index // columns][index % columns].set_visible(False)
        if title:
            figure.suptitle(literal_label(title))
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def report_figures(
    analysis: AnalysisLike,
    settings: ViewSettings,
    metrics: Sequence[str] = (),
) -> dict[str, tuple[str, list[PlotSpec]]]:
    """file stem -> (task, one plot per metric): the task view's plot of each metric of each task, as the
    app draws it with ``settings`` (axis, law, holdout, family filter); ``metrics`` (``--metric``) filters."""
    from tui.export import slug
    from tui.views.contents import frame_of, metrics_for
    from tui.views.task import task_plot

    points = frame_of(analysis.points)
    tasks = sorted(points["task"].unique().to_list()) if not points.is_empty() else []
    figures: dict[str, tuple[str, list[PlotSpec]]] = {}
    for task in tasks:
        chosen = [m for m in metrics_for(analysis, task, settings.family) if not metrics or m in metrics]
        specs = [task_plot(analysis, settings, task, metric) for metric in chosen]
        if not specs:
            continue
        stem = slug(task, 80)
        while stem in figures:  # two tasks that differ only in characters a file name cannot hold
            stem += "_"
        figures[stem] = (task, specs)
    return figures


def write_report_figures(
    analysis: AnalysisLike, folder: str | Path, settings: ViewSettings, metrics: Sequence[str] = ()
) -> list[Path]:
    """One SVG per task in ``folder`` (made if missing; files of the same name are replaced), each written
    whole or not at all (``analysis.output.write_text_atomically``); the paths written."""
    from analysis.output import require_writable_folder, write_text_atomically

    folder = require_writable_folder(folder, "--figure")
    written = []
    for stem, (task, specs) in report_figures(analysis, settings, metrics).items():
        svg = figure_svg(specs, title=task if len(specs) > 1 else "")
        written.append(write_text_atomically(folder / f"{stem}.svg", svg, overwrite=True))
    return written
