"""Rows as 64-bit hashes: per-column hashes, their mix into one value per row, and runs of equal rows.

Loaders, the duplicate check and the split into task matrices all need "which rows share these columns"
on millions of rows; hashing each column once (a Series op, in parallel, no frame-wide chunk alignment) and
comparing integers is far cheaper than comparing or sorting strings. Equal values always give equal hashes,
so a test that finds hashes distinct is exact; callers treat a repeated hash as "maybe equal" and confirm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis import threads

FNV_PRIME = np.uint64(0x100000001B3)  # a different position weight per mixed column
_THREADED_ROWS = 100_000  # below this, threads cost more than they save


def column_hashes(frame: pl.DataFrame, columns: Sequence[str], seed: int = 0) -> list[np.ndarray]:
    """Each column's 64-bit hashes (text columns hashed as text, so a categorical hashes like its string).

    Columns are hashed at once on threads (each Series hash runs on one core and releases the GIL).
    """

    def hashed(column: str) -> np.ndarray:
        return frame[column].cast(pl.Utf8).hash(seed=seed).to_numpy()

    if len(columns) < 2 or frame.height < _THREADED_ROWS:
        return [hashed(c) for c in columns]
    with threads.pool(min(len(columns), 4)) as pool:
        return list(pool.map(hashed, columns))


def mixed_hash(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One 64-bit value per row from per-column 64-bit hashes."""
    mixed = np.zeros(len(columns[0]), dtype=np.uint64)
    for column in columns:
        mixed *= FNV_PRIME
        mixed ^= column
    return mixed


def run_starts(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Row indices where a run of rows equal in every column (by hash) begins; 0 first."""
    height = len(columns[0]) if columns else 0
    boundary = np.zeros(height, dtype=bool)
    boundary[:1] = True
    for column in columns:
        boundary[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(boundary)
