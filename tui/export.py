"""Writing what is on screen to a file: atomically, never over an existing file unless the user said so."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
