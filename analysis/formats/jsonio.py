"""Reading JSON and JSON Lines with one-line errors that name the file and, for JSON Lines, the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from analysis.errors import InputError


def head_text(path: Path, size: int = 8192) -> str:
    """The first ``size`` bytes of a file as text (for cheap sniffing); empty when unreadable."""
    try:
        with path.open("rb") as handle:
            return handle.read(size).decode("utf-8", errors="replace")
    except OSError:
        return ""


def read_json(path: Path) -> object:
    """Parse a whole JSON file; a truncated or invalid file raises InputError naming the file and position."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read the file ({err}); check it is a readable UTF-8 file", path=str(path)
        ) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); the file may be "
            "truncated: re-export it or move it out of the folder",
            path=str(path),
        ) from err


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, record) for each non-blank line; a bad line raises InputError naming it."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read the file ({err})", path=str(path)) from err
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(
                    f"{path} line {number}: not valid JSON ({err.msg}); the file may be truncated: "
                    "re-export it or delete that line",
                    path=str(path),
                ) from err
            if not isinstance(record, dict):
                raise InputError(
                    f"{path} line {number}: expected a JSON object per line, found {type(record).__name__}",
                    path=str(path),
                )
            yield number, record
