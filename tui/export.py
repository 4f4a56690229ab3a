"""Writing what is on screen to a file: atomically, never over an existing file unless the user said so."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from textual.app import App

from tui.safe_text import clean
from tui.screens.dialogs import ConfirmScreen, ExportDialog


class ExportError(Exception):
    """A file could not be written; the message is one line fit to show in the app."""


def write_text_atomically(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to a temp file beside ``path`` and rename it into place.

    Raises ``FileExistsError`` when ``path`` exists and ``overwrite`` is False (the caller asks the user), and
    :class:`ExportError` with a one-line reason when the folder is missing or not writable.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give a file name")
    if target.exists() and not overwrite:
        raise FileExistsError(str(target))
    folder = target.parent if str(target.parent) else Path(".")
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=f".{target.name}.", suffix=".tmp", delete=False
        ) as handle:
            tmp_name = handle.name
            handle.write(text)
        os.replace(tmp_name, target)
    except OSError as err:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        reason = err.strerror or str(err)
        raise ExportError(f"cannot write {target}: {reason}; choose another folder") from err
    return target


def export_screen(app: App) -> None:
    """Ask where to write the current screen's table (CSV) and plot (text), then write them."""
    export_table = getattr(app.screen, "export_table", None)
    if export_table is None:
        app.notify("nothing to export on this screen", timeout=3)
        return
    name = type(app.screen).__name__.removesuffix("Screen").lower()
    has_plot = hasattr(app.screen, "export_plot")
    table = export_table()
    plot = app.screen.export_plot() if has_plot else None

    def chosen(paths: tuple[str, str] | None) -> None:
        if paths is None:
            return
        jobs = []
        if paths[0]:
            jobs.append((paths[0], table.write_csv()))
        if paths[1] and plot is not None:
            jobs.append((paths[1], plot + "\n"))
        write_jobs(app, jobs)

    app.push_screen(
        ExportDialog(f"emergence-{name}.csv", f"emergence-{name}-plot.txt" if has_plot else None),
        callback=chosen,
    )


def write_jobs(app: App, jobs: list[tuple[str, str]], overwrite: bool = False) -> None:
    """Write each (path, text); ask before replacing an existing file, report failures as messages."""
    if not jobs:
        return
    (path, text), rest = jobs[0], jobs[1:]
    try:
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
