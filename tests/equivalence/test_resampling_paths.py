"""The run-key factorisation of the points layout equals numpy's on both of its paths."""

from __future__ import annotations

import numpy as np


def test_factorize_matches_numpy_unique_on_both_paths() -> None:
    """Shuffled rows make one run per row: the run keys are factorised by polars above a size, exactly as
    np.unique would (sorted values, first indices, inverse)."""
    from analysis.resampling.layout import _FACTORIZE_IN_POLARS, _factorize

    rng = np.random.default_rng(11)
    for size in (1000, _FACTORIZE_IN_POLARS + 5):
        few = rng.integers(0, 2**63, 300, dtype=np.uint64)[rng.integers(0, 300, size)]  # hash lookup
        many = rng.integers(0, size // 2, size)  # more distinct values than one per 8 keys: sorted
        for keys in (few, many):
            expected = np.unique(keys, return_index=True, return_inverse=True)
            for got, want in zip(_factorize(keys), expected, strict=True):
                np.testing.assert_array_equal(got, want)


def test_distinct_columns_match_numpy_unique_by_rows() -> None:
    """The packed-byte column dedupe of the paired bootstrap returns what np.unique(axis=0) returns on the
    transposed matrix: the same distinct columns in the same order and the same inverse, including item counts
    that are not a multiple of 8 and the all-present case."""
    from analysis.resampling.bootstrap import distinct_columns

    rng = np.random.default_rng(5)
    for items in (1, 7, 8, 13, 1000):
        base = rng.random((items, 4)) < 0.7
        present = base[:, rng.integers(0, 4, 12)]  # repeated columns
        for matrix in (present, np.ones((items, 5), dtype=bool)):
            masks, which = distinct_columns(matrix)
            want_masks, want_which = np.unique(matrix.T, axis=0, return_inverse=True)
            np.testing.assert_array_equal(masks, want_masks.T)
            np.testing.assert_array_equal(which, want_which.ravel())
