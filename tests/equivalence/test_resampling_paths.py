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
