"""The reader registry: which module reads a path, by ``--format-in`` name or by sniffing.

The readers are imported here directly (they import ``analysis.formats.finalize``, never ``analysis.loading``,
so there is no cycle). Order matters: the specific formats sniff first and ``tidy`` (any .csv, .tsv, .parquet,
.jsonl, .ndjson) is the fallback.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from analysis.errors import InputError
from analysis.formats import bigbench, eee, helm, inspect_logs, lighteval, lm_eval, lm_eval_old, tidy, wide

READERS: tuple[ModuleType, ...] = (
    lm_eval,
    lm_eval_old,
    bigbench,
    inspect_logs,
    helm,
    lighteval,
    eee,
    wide,
    tidy,
)
READER_NAMES: tuple[str, ...] = tuple(module.NAME for module in READERS)


def readers() -> list[ModuleType]:
    """The reader modules in sniffing order."""
    return list(READERS)


def reader_named(format_in: str) -> ModuleType:
    """The reader a ``--format-in`` name forces; a one-line error lists the names that exist."""
    for module in readers():
        if format_in == module.NAME:
            return module
    known = ", ".join(module.NAME for module in readers())
    raise InputError(f"--format-in {format_in}: no such reader; use one of: {known}")


def _sniffs(module: ModuleType, path: Path) -> bool:
    try:
        return bool(module.sniff(path))
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def reader_for(path: str | Path, format_in: str | None = None) -> ModuleType | None:
    """The reader for ``path``: the forced one, else the first whose ``sniff`` says yes, else None."""
    if format_in:
        return reader_named(format_in)
    path = Path(path)
    for module in readers():
        if _sniffs(module, path):
            return module
    return None


def directory_reader(path: str | Path, format_in: str | None = None) -> ModuleType | None:
    """A reader taking the whole directory ``path`` as one input (e.g. an lm-eval output folder), or None."""
    path = Path(path)
    candidates = [reader_named(format_in)] if format_in else readers()
    for module in candidates:
        if _sniffs(module, path):
            return module
    return None
