"""The overview: one row per family x task x metric, filtered and sorted."""

from __future__ import annotations

import polars as pl

from analysis.mirage import mirage_summary
from tui.backend.protocol import AnalysisLike
from tui.state import ViewSettings
from tui.views.contents import frame_of
from tui.views.kinds import KIND_SHORT

OVERVIEW_COLUMNS: tuple[str, ...] = (
    "family", "task", "metric", "kind", "status", "jump", "jump_at", "p_adjusted", "mirage", "word",
    "verdict",
)  # fmt: skip


def overview_frame(
    analysis: AnalysisLike,
    settings: ViewSettings,
    query: str = "",
    sort_key: str = "task",
    descending: bool = False,
) -> pl.DataFrame:
    """One row per family x task x metric: its status on its own scale (the largest miss against its smaller
    models, where, adjusted p), the verdict of a discontinuous metric (``mirage``: its category), the short
    ``word`` the table shows (the category, else the status) and the sentence behind it (``verdict``). A
    metric with the same numbers as another is left out: it is judged once, under the other name."""
    emergence = frame_of(analysis.emergence)
    if emergence.is_empty():
        return pl.DataFrame(schema={c: pl.Utf8 for c in OVERVIEW_COLUMNS})
    frame = emergence
    for column in ("kind", "status", "jump", "jump_at", "p_adjusted", "sentence"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(column))
    summary = mirage_summary(frame_of(analysis.mirage))
    frame = frame.join(summary, on=["family", "task", "metric"], how="left").with_columns(
        pl.coalesce("mirage", "status").alias("word"),
        pl.coalesce("verdict", "sentence").alias("verdict"),
    )
    # a metric with the same numbers as another (lm-eval's acc and the computed mc_grade) is judged once
    frame = frame.filter(~pl.col("status").fill_null("").str.starts_with("same as")).select(OVERVIEW_COLUMNS)
    if settings.metric is not None:
        frame = frame.filter(pl.col("metric") == settings.metric)
    if settings.family is not None:
        frame = frame.filter(pl.col("family") == settings.family)
    words = query.lower().split()
    if words:  # only the text the table shows: the kind as disc/cont, the verdict word, where (no sentences)
        kind = pl.col("kind").cast(pl.Utf8).fill_null("").replace(KIND_SHORT)
        shown = [
            pl.col(c).cast(pl.Utf8).fill_null("") for c in ("family", "task", "metric", "word", "jump_at")
        ]
        haystack = pl.concat_str([*shown, kind], separator=" ").str.to_lowercase()
        for word in words:
            frame = frame.filter(haystack.str.contains(word, literal=True))
    key = sort_key if sort_key in frame.columns else "task"
    if key == "jump":
        descending = not descending  # biggest jumps first
    ties = [c for c in ("task", "metric", "family") if c != key]
    return frame.sort([key, *ties], descending=[descending] + [False] * len(ties), nulls_last=True)
