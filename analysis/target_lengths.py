"""Mean target length in tokens per family x task: the L of the edit distance's link (``analysis.links``).

Tokens are counted as the edit distance counts them (``analysis.metrics``): the given target token lists
when present, else the stripped target text in characters (``--tokenizer chars``) or whitespace words.
"""

from __future__ import annotations

import polars as pl

from analysis import schema as S
from analysis.options import MetricOptions


def target_lengths(table: S.ResultTable, options: MetricOptions) -> dict[tuple[str, str], float]:
    """(family, task) -> mean target length in tokens over rows with a target; empty without targets."""
    samples = table.samples
    if S.TARGET_TOKENS in samples.columns:
        length = pl.col(S.TARGET_TOKENS).list.len()
    elif S.TARGET in samples.columns:
        text = pl.col(S.TARGET).str.strip_chars()
        if options.tokenizer == "whitespace":
            length = text.str.extract_all(r"\S+").list.len()
        else:
            length = text.str.len_chars()
    else:
        return {}
    means = (
        samples.lazy()
        .select(S.FAMILY, S.TASK, length.cast(pl.Float64).alias("length"))
        .drop_nulls("length")
        .group_by(S.FAMILY, S.TASK)
        .agg(pl.col("length").mean())
        .collect()
    )
    return {(r[S.FAMILY], r[S.TASK]): r["length"] for r in means.iter_rows(named=True) if r["length"]}
