"""Small checks the format tests share: one cell of a frame, one-line errors, the files a load skipped."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.schema import ResultTable


def cell(frame: pl.DataFrame, column: str, **where: object) -> object:
    """The value of ``column`` in the one row matching ``where`` (fails unless exactly one row matches)."""
    found = frame.filter(*(pl.col(k) == v for k, v in where.items()))
    assert found.height == 1, (where, found)
    return found[column].item()


def one_line_error(match: str, call: Callable[..., object], *args: object) -> str:
    """The InputError ``call(*args)`` raises, checked to match ``match`` and to be one line."""
    with pytest.raises(InputError, match=match) as caught:
        call(*args)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def skipped(table: ResultTable) -> list[str]:
    """The warnings that name a file a folder load skipped."""
    return [w for w in table.warnings if w.startswith("skipped")]
