"""Random streams of the resampling and the bootstrap's count draw.

Random streams are seeded from ``(seed, family, task[, metric])`` and the shared counts from ``(seed, n)``,
so a group's numbers do not depend on which other groups are present (up to floating-point rounding, since
the batched product's blocking depends on its width), and the same seed and input give the same numbers
exactly.
"""

from __future__ import annotations

import hashlib

import numpy as np

# count-matrix entries per chunk of replicates (2**22 float64 = 32 MB)
_CHUNK_ENTRIES = 1 << 22


def _rng(seed: int, *labels: str) -> np.random.Generator:
    """A generator keyed by the seed and the group's names, stable across runs and Python processes."""
    digest = hashlib.blake2b("\x1f".join(labels).encode("utf-8"), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), *words]))


def _draw_counts(rng: np.random.Generator, n_items: int, n_replicates: int) -> np.ndarray:
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
