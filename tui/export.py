"""Writing what is on screen to a file: atomically, never over an existing file unless the user said so."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

from analysis import output
from tui.safe_text import clean
from tui.screens.dialogs import ConfirmScreen, ExportDialog

if TYPE_CHECKING:
    import polars as pl

    from tui.widgets.plot import PlotSpec


class ExportError(Exception):
    """A file could not be written; the message is one line fit to show in the app."""


def write_text_atomically(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` whole or not at all, with ``analysis.output``'s writer (a temporary file
    beside the target, synced, then renamed into place).

    Raises ``FileExistsError`` when ``path`` exists and ``overwrite`` is False (the caller asks the user), and
    :class:`ExportError` with a one-line reason when the folder is missing or not writable.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give a file name")
    if target.exists() and not overwrite:
        raise FileExistsError(str(target))
    folder = target.parent
    if not folder.is_dir():
        reason = os.strerror(errno.ENOTDIR if folder.exists() else errno.ENOENT)
        raise ExportError(f"cannot write {target}: {reason}; choose another folder")
    try:
        return output.write_text_atomically(target, text, overwrite=True)  # the user said yes, or it is new
    except output.OutputError as err:
        cause = err.__cause__
        reason = (cause.strerror or str(cause)) if isinstance(cause, OSError) else str(err)
        raise ExportError(f"cannot write {target}: {reason}; choose another folder") from err


SETTINGS_COLUMNS: tuple[str, ...] = (
    "x", "law", "holdout", "bootstrap", "ci", "seed", "subsample", "paired", "unit"
)  # fmt: skip


def export_context(app: App) -> dict[str, str | None]:
    """What the exported rows are of: the screen, its task and metric, and the family filter."""
    screen = app.screen
    settings = app.settings  # type: ignore[attr-defined]
    return {
        "screen": type(screen).__name__.removesuffix("Screen").lower(),
        "task": getattr(screen, "task_name", None),
        "metric": getattr(screen, "metric_name", None) or settings.metric,
        "family": settings.family,
    }


def with_context(table: pl.DataFrame, context: dict[str, str | None], settings: object) -> pl.DataFrame:
    """``table`` with the task, metric and family it shows (where it has no such column) in front, and
    the settings that made its numbers (axis, law, holdout, B, CI level, seed, n', paired, unit) at the
    end, so the file says what it holds on its own."""
    import polars as pl

    resample = settings.resample  # type: ignore[attr-defined]
    values: dict[str, object] = {
        "x": settings.axis,  # type: ignore[attr-defined]
        "law": settings.law or "default",  # type: ignore[attr-defined]
        "holdout": settings.holdout,  # type: ignore[attr-defined]
        "bootstrap": resample.bootstrap,
        "ci": resample.ci,
        "seed": resample.seed,
        "subsample": resample.subsample,
        "paired": resample.paired,
        "unit": resample.unit,
    }
    front = [
        pl.lit(context[name], dtype=pl.Utf8).alias(name)
        for name in ("task", "metric")
        if name not in table.columns and context[name] is not None
    ]
    if "family" not in table.columns:  # no family column: the filter's family, or every family
        front.append(pl.lit(context["family"] or "all", dtype=pl.Utf8).alias("family"))
    back = [pl.lit(values[name]).alias(name) for name in SETTINGS_COLUMNS if name not in table.columns]
    if table.is_empty() and not table.columns:
        return table
    return table.select(*front, *table.columns, *back)


def slug(text: str, length: int = 48) -> str:
    """``text`` as a safe part of a file name: letters, digits, ``.``, ``_``, ``-``; others become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned[:length].rstrip("._") or "x"


def default_names(context: dict[str, str | None]) -> tuple[str, str, str]:
    """The dialog's default (CSV, text plot, SVG figure) names: one per screen, task and metric, so exporting
    two tasks never offers the same file."""
    parts = [context["screen"] or "screen"]
    parts += [slug(context[name] or "") for name in ("task", "metric") if context[name]]
    stem = "emergence-" + "-".join(parts)
    return f"{stem}.csv", f"{stem}-plot.txt", f"{stem}.svg"


def figure_specs(screen: object) -> list[PlotSpec]:
    """The plots on ``screen`` that hold data, as drawn (the figure shows what the screen shows)."""
    from tui.widgets.plot import PlotWidget

    widgets = screen.query(PlotWidget)  # type: ignore[attr-defined]
    return [w.spec for w in widgets if getattr(w, "spec", None) is not None and w.spec.series]


def export_screen(app: App) -> None:
    """Ask where to write the current screen's table (CSV), plot (text) and figure (SVG), then write them."""
    export_table = getattr(app.screen, "export_table", None)
    if export_table is None:
        app.notify("nothing to export on this screen", timeout=3)
        return
    context = export_context(app)
    has_plot = hasattr(app.screen, "export_plot")
    table = with_context(export_table(), context, app.settings)  # type: ignore[attr-defined]
    plot = app.screen.export_plot() if has_plot else None
    specs = figure_specs(app.screen)
    csv_name, plot_name, svg_name = default_names(context)

    def chosen(paths: tuple[str, ...] | None) -> None:
        if paths is None:
            return
        jobs: list[tuple[str, str | Callable[[], str]]] = []
        if paths[0]:
            jobs.append((paths[0], table.write_csv()))
        if len(paths) > 1 and paths[1] and plot is not None:
            jobs.append((paths[1], plot + "\n"))
        if len(paths) > 2 and paths[2] and specs:
            from tui.figure import figure_svg

            jobs.append((paths[2], lambda: figure_svg(specs)))
        write_jobs(app, jobs)

    app.push_screen(
        ExportDialog(csv_name, plot_name if has_plot else None, svg_name if specs else None),
        callback=chosen,
    )


def write_jobs(app: App, jobs: list[tuple[str, str | Callable[[], str]]], overwrite: bool = False) -> None:
    """Write each (path, text); ask before replacing an existing file, report failures as messages.

    A text may be a function that makes it (the SVG figure): it runs only when its file is written.
    """
    if not jobs:
        return
    (path, text), rest = jobs[0], jobs[1:]
    try:
        target = Path(path).expanduser()
        if target.exists() and not overwrite and not target.is_dir():
            raise FileExistsError(str(target))
        if callable(text):
            try:
                text = text()
            except Exception as err:  # a figure that cannot be drawn is a message, never a crash
                problem = f"{type(err).__name__}: {err}"
                raise ExportError(f"cannot draw the figure for {target}: {problem}") from err
        written = write_text_atomically(path, text, overwrite=overwrite)
    except FileExistsError:

        def answer(yes: bool | None) -> None:
            if yes:
                write_jobs(app, jobs, overwrite=True)
            else:
                app.notify(f"kept the existing {clean(path)}", timeout=3)
                write_jobs(app, rest)

        app.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?"), callback=answer)
        return
    except ExportError as err:
        app.notify(clean(str(err)), title="export failed", severity="error", timeout=8)
    else:
        app.notify(f"wrote {clean(str(written))}", timeout=3)
    write_jobs(app, rest)
