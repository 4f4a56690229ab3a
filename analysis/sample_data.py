"""Regenerate ``sample_data/``: one simulated family showing a mirage, a K=4 choice task and inverse scaling.

Run ``uv run python -m analysis.sample_data`` (optionally with an output folder). Every number comes from
:func:`analysis.simulate.simulate` under a fixed seed, so the files are reproducible byte for byte by the same
library versions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

from analysis.simulate import simulate, write_samples

FAMILY_NAME = "mirage"
SIZES = np.geomspace(1e7, 1e11, 9)  # 9 sizes, every half decade over 4 decades
ITEMS = 1000
SEED = 2023
OUTPUT = Path(__file__).resolve().parents[1] / "sample_data"
FILE_NAME = "mirage_family.parquet"
JITTER = 0.3  # per-item spread of the token loss (mean unchanged), so token_loss has a real interval

# (task prefix, kept task, c, alpha, target length L, choices K): see sample_data/README.md
TASKS: tuple[tuple[str, str, float, float, int, int], ...] = (
    ("emergent_", "generation", 3e8, -0.7, 20, 4),  # exact match over 20 tokens: 0 until ~3e9, then 71%
    ("emergent_", "choice", 2e8, -0.37, 1, 4),  # K=4 grade: 0 until ~3e8 params, then 1
    ("inverse_", "generation", 2.2e10, 0.3, 5, 4),  # CE rises with N: exact match 61% -> 0.04%
)


def build() -> pl.DataFrame:
    """All sample rows, one family, three tasks."""
    parts = []
    for offset, (prefix, kept, c, alpha, length, choices) in enumerate(TASKS):
        rows = simulate(
            c,
            alpha,
            SIZES,
            length,
            choices,
            ITEMS,
            seed=SEED + offset,
            family=FAMILY_NAME,
            logprob_jitter=JITTER,
        )
        parts.append(rows.filter(pl.col("task") == kept).with_columns(pl.lit(prefix + kept).alias("task")))
    return pl.concat(parts, how="vertical")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else OUTPUT
    folder.mkdir(parents=True, exist_ok=True)
    path = write_samples(build(), folder / FILE_NAME)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
