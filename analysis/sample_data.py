"""Regenerate ``sample_data/``: one simulated family with two mirages, inverse scaling and a real jump.

Run ``uv run python -m analysis.sample_data`` (optionally with an output folder). Every number comes from
:func:`analysis.simulate.simulate` under a fixed seed, so the files are reproducible byte for byte by the same
library versions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analysis.simulate import simulate, write_samples

FAMILY_NAME = "toy-lm"
SIZES = np.geomspace(1e7, 1e11, 9)  # 9 sizes, every half decade over 4 decades
ITEMS = 1000
SEED = 2023
OUTPUT = Path(__file__).resolve().parents[1] / "sample_data"
FILE_NAME = "toy_family.parquet"
SPREAD = 0.5  # item difficulty: log-sd of each item's share of the cross-entropy (realistic per-item spread)


@dataclass(frozen=True)
class SampleTask:
    """One task of the sample family: which simulated task is kept, under what name, with which model."""

    name: str
    kept: str  # "generation" or "choice"
    c: float
    alpha: float
    length: int
    choices: int
    jump_at: float | None = None
    jump_factor: float = 1.0


# see sample_data/README.md for what each one shows
TASKS: tuple[SampleTask, ...] = (
    SampleTask("long_answer", "generation", 3e8, -0.7, 20, 4),  # exact match over 20 tokens: a mirage
    SampleTask("multiple_choice", "choice", 3e8, -0.6, 1, 4),  # K=4 grade: a step from smooth choice_prob
    SampleTask("inverse_scaling", "generation", 2.2e10, 0.3, 5, 4),  # CE rises with N
    SampleTask("true_jump", "generation", 3e9, -0.4, 5, 4, jump_at=3e9, jump_factor=8.0),  # CE drops 8x
)


def build() -> pl.DataFrame:
    """All sample rows, one family, four tasks."""
    parts = []
    for offset, task in enumerate(TASKS):
        rows = simulate(
            task.c,
            task.alpha,
            SIZES,
            task.length,
            task.choices,
            ITEMS,
            seed=SEED + offset,
            family=FAMILY_NAME,
            spread=SPREAD,
            jump_at=task.jump_at,
            jump_factor=task.jump_factor,
        )
        parts.append(rows.filter(pl.col("task") == task.kept).with_columns(pl.lit(task.name).alias("task")))
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
