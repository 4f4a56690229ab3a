"""The vectorised emergence score equals the scalar one it is built from."""

from __future__ import annotations

import numpy as np

from analysis.emergence import emergence_score, emergence_scores


def test_vectorised_scores_equal_the_scalar_ones():
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(200, 7))
    curves[0] = [0, 0, 0, 0, 0, 1, 1]  # zero denominator inside a batch
    curves[1] = 2.0
    np.testing.assert_array_equal(emergence_scores(curves), [emergence_score(c) for c in curves])
