"""Row hashes: runs of equal rows and mixed keys, as the duplicate check and the task split use them."""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis.row_hashes import column_hashes, mixed_hash, run_starts


def test_runs_start_where_any_column_changes() -> None:
    frame = pl.DataFrame({"model": ["a", "a", "a", "b", "b", "a"], "task": ["t", "t", "u", "u", "u", "u"]})
    assert run_starts(column_hashes(frame, ["model", "task"])).tolist() == [0, 2, 3, 5]
    assert run_starts(column_hashes(frame.head(0), ["model"])).tolist() == []


def test_mixed_hash_tells_column_order_and_equal_rows_agree() -> None:
    frame = pl.DataFrame({"a": ["x", "y", "x"], "b": ["y", "x", "y"]})
    mixed = mixed_hash(column_hashes(frame, ["a", "b"]))
    assert mixed[0] == mixed[2] and mixed[0] != mixed[1]  # ("x","y") vs ("y","x"): position matters


def test_categorical_and_text_hash_alike() -> None:
    text = pl.DataFrame({"m": ["p", "q", "p"]})
    categorical = text.with_columns(pl.col("m").cast(pl.Categorical))
    np.testing.assert_array_equal(column_hashes(text, ["m"])[0], column_hashes(categorical, ["m"])[0])
