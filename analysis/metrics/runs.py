"""Rows in runs: per-sample files keep a task's rows together, so the rows that have a value (texts, choices)
and those that do not form a few long runs, and writing run by run is cheaper than masked writes."""

from __future__ import annotations

import itertools

import numpy as np

_MANY_RUNS = 10_000  # more runs than this: one masked write or a whole-column fill is faster than a loop


def _runs(present: np.ndarray) -> list[tuple[int, int]] | None:
    """The runs of equal flags of ``present`` as (start, stop); None when more than ``_MANY_RUNS``."""
    edges = np.flatnonzero(present[1:] != present[:-1]) + 1
    if len(edges) > _MANY_RUNS:
        return None
    return [(a, b) for a, b in itertools.pairwise([0, *edges.tolist(), len(present)]) if b > a]


def _spread(values: np.ndarray, present: np.ndarray, out: np.ndarray) -> None:
    """Write ``values`` into the rows of ``out`` where ``present`` is True, run by run when runs are few."""
    runs = _runs(present)
    if runs is None:
        out[present] = values
        return
    done = 0
    for start, stop in runs:
        if present[start]:
            out[start:stop] = values[done : done + stop - start]
            done += stop - start


def _nan_where_absent(present: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` float columns, NaN on the rows where ``present`` is False and unset on the others.

    Filling the absent runs alone writes half the memory of ``np.full`` (the caller then writes the present
    rows).
    """
    runs = _runs(present)
    if runs is None:
        return [np.full(len(present), np.nan) for _ in range(count)]
    columns = [np.empty(len(present)) for _ in range(count)]
    for start, stop in runs:
        if not present[start]:
            for column in columns:
                column[start:stop] = np.nan
    return columns
