"""The reader registry: which module reads a path, by ``--format-in`` name or by sniffing.

Reader modules are imported lazily by name, so a reader that is missing or broken does not stop the others,
and the readers can import ``analysis.loading.finalize`` without an import cycle. Order matters: the
specific formats sniff first and ``tidy`` (any .csv, .tsv, .parquet, .jsonl, .ndjson) is the fallback.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from types import ModuleType

from analysis.errors import InputError

READER_NAMES: tuple[str, ...] = ("lm_eval", "lm_eval_old", "bigbench", "wide", "tidy")


@cache
def _import(name: str) -> ModuleType | None:
    try:
        module = importlib.import_module(f"analysis.formats.{name}")
    except ImportError:
        return None
    has_api = all(hasattr(module, attr) for attr in ("NAME", "sniff", "read"))
    return module if has_api else None


def readers() -> list[ModuleType]:
    """The reader modules that import cleanly, in sniffing order."""
    return [module for name in READER_NAMES if (module := _import(name)) is not None]


def __getattr__(name: str) -> object:
    if name == "READERS":  # computed on first use, not at import (readers import analysis.loading)
        return readers()
    raise AttributeError(name)


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
