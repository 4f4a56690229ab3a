"""Training checkpoints: the last checkpoint of a run stays in its family; all of them form a family too.

The intermediate checkpoints of one run are points along tokens at fixed params, so they must not be pooled
with the other sizes. Given aggregate rows with a ``step`` column (null when a row is no checkpoint), rows of
a model seen at several steps are split in two:

* the rows at its largest step keep their family and model name (the family over params, e.g. ``pythia``);
* every step's rows are copied into the family ``"<model> checkpoints"`` as models ``"<model> step<N>"``.

tokens = step x ``tokens_per_step`` when the user gives it (rows that already hold tokens keep them; step 0
has no tokens to place on a log axis, so it stays empty).
"""

from __future__ import annotations

import polars as pl

from analysis import schema

STEP = "step"


def split_checkpoints(
    frame: pl.DataFrame, tokens_per_step: float | None
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Final-step rows + a checkpoint family per multi-step run; drops ``step``; returns (frame, warnings)."""
    if STEP not in frame.columns:
        return frame, ()
    step = pl.col(STEP).cast(pl.Float64)
    if schema.TOKENS not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias(schema.TOKENS))
    if schema.FAMILY not in frame.columns:
        frame = frame.with_columns(pl.lit(schema.DEFAULT_FAMILY).alias(schema.FAMILY))
    if tokens_per_step is not None:
        frame = frame.with_columns(
            pl.coalesce(pl.col(schema.TOKENS), pl.when(step > 0).then(step * float(tokens_per_step))).alias(
                schema.TOKENS
            )
        )
    run = [schema.FAMILY, schema.MODEL]
    frame = frame.with_columns(
        step.max().over(run).alias("_last"), pl.col(STEP).n_unique().over(run).alias("_steps")
    )
    final = frame.filter(pl.col(STEP).is_null() | (step == pl.col("_last")))
    multi = frame.filter(pl.col(STEP).is_not_null() & (pl.col("_steps") > 1))
    runs = multi.select(run).unique().height
    checkpoints = multi.with_columns(
        pl.format("{} checkpoints", pl.col(schema.MODEL)).alias(schema.FAMILY),
        pl.format("{} step{}", pl.col(schema.MODEL), pl.col(STEP).cast(pl.Int64)).alias(schema.MODEL),
    )
    out = pl.concat([final, checkpoints]).drop(STEP, "_last", "_steps")
    warnings: list[str] = []
    if runs:
        warnings.append(
            f"{runs} run(s) have several checkpoints: each run's checkpoints form the family "
            "'<model> checkpoints' (points along tokens); the last checkpoint of each run stays in its family"
        )
        if tokens_per_step is not None and (multi[STEP] == 0).any():
            warnings.append(
                "step 0 (untrained) has 0 tokens, which a log axis cannot show: its tokens are left empty"
            )
        if tokens_per_step is None and multi[schema.TOKENS].null_count() > 0:
            warnings.append(
                "checkpoint tokens unknown: give --tokens-per-step to place checkpoints along tokens"
            )
    return out, tuple(warnings)
