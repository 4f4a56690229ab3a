"""One seeding rule and one bootstrap count draw for every resampling of the analysis.

Seeding rule (``stream``): a random stream is keyed by the user's seed and the names of what it draws for
(a family and task with the purpose: ``"paired"``, ``"subsample"``, a metric, ``"aggregate"``; the count
draw that tasks of n items share, by n). The names are hashed (BLAKE2b) into a ``SeedSequence``, so a group's
numbers do not depend on which other groups are present or on the order of the work (up to floating-point
rounding, since the batched product's blocking depends on its width), and the same seed and input give the
same numbers exactly, in any process.

Count draw (``draw_counts``): a bootstrap replicate of n items is how often each item is drawn in n uniform
draws with replacement, one row of a Multinomial(n, 1/n) count matrix. B rows are drawn in bounded chunks;
the stream gives the same numbers whatever the chunking. The fit bootstrap resamples the fitted points so.

Weight draw (``draw_weights``): the points' bootstrap is Rubin's (1981) Bayesian bootstrap: a replicate gives
each item a weight ``Gamma(1)`` (standard exponential; normalised, Dirichlet(1, ..., 1)), and a mean is the
weighted mean. Its percentile intervals match the counting bootstrap's (variance n / (n + 1) of it), and a
class of m identical items weighs ``Gamma(m)`` in total, drawn at once (exact).
"""

from __future__ import annotations

import hashlib

import numpy as np

# count-matrix entries per chunk of replicates (2**22 float64 = 32 MB)
_CHUNK_ENTRIES = 1 << 22


def stream(seed: int, *labels: str) -> np.random.Generator:
    """A generator keyed by the seed and the names of what it draws for, stable across runs and processes."""
    digest = hashlib.blake2b("\x1f".join(labels).encode("utf-8"), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), *words]))


def draw_counts(rng: np.random.Generator, n_items: int, n_replicates: int) -> np.ndarray:
    """B rows of how often each of n items is drawn in n uniform draws with replacement (float64)."""
    counts = np.empty((n_replicates, n_items))
    chunk = max(1, min(n_replicates, _CHUNK_ENTRIES // max(n_items, 1)))
    for start in range(0, n_replicates, chunk):
        size = min(chunk, n_replicates - start)
        drawn = rng.integers(0, n_items, size=(size, n_items))
        drawn += (np.arange(size) * n_items)[:, None]
        counts[start : start + size] = np.bincount(drawn.ravel(), minlength=size * n_items).reshape(
            size, n_items
        )
    return counts


def draw_weights(rng: np.random.Generator, n_items: int, n_replicates: int) -> np.ndarray:
    """B rows of Bayesian-bootstrap item weights: independent standard exponentials (Gamma(1)), (B, n)."""
    return rng.standard_exponential((n_replicates, n_items))
