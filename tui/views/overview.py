"""The overview: one row per family x task x metric, filtered and sorted."""

from __future__ import annotations

import polars as pl

from analysis.mirage import mirage_summary
from tui.backend.protocol import AnalysisLike
from tui.state import ViewSettings
from tui.views.contents import frame_of

OVERVIEW_COLUMNS: tuple[str, ...] = (
    "family", "task", "metric", "kind", "score", "lo", "hi", "trend", "p_adjusted", "mirage", "verdict",
)  # fmt: skip


def overview_frame(
    analysis: AnalysisLike,
    settings: ViewSettings,
    query: str = "",
    sort_key: str = "task",
    descending: bool = False,
) -> pl.DataFrame:
    """One row per family x task x metric: emergence score and CI, trend, adjusted p and mirage verdict."""
    emergence = frame_of(analysis.emergence)
    if emergence.is_empty():
        return pl.DataFrame(schema={c: pl.Utf8 for c in OVERVIEW_COLUMNS})
    frame = emergence
    for column in OVERVIEW_COLUMNS[:-2]:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(column))
    frame = frame.join(mirage_summary(frame_of(analysis.mirage)), on=["family", "task", "metric"], how="left")
    frame = frame.select(OVERVIEW_COLUMNS)
    if settings.metric is not None:
        frame = frame.filter(pl.col("metric") == settings.metric)
    if settings.family is not None:
        frame = frame.filter(pl.col("family") == settings.family)
    words = query.lower().split()
    if words:
        haystack = pl.concat_str(
            [
                pl.col(c).cast(pl.Utf8).fill_null("")
                for c in ("family", "task", "metric", "kind", "trend", "mirage", "verdict")
            ],
            separator=" ",
        ).str.to_lowercase()
        for word in words:
            frame = frame.filter(haystack.str.contains(word, literal=True))
    key = sort_key if sort_key in frame.columns else "task"
    if key == "score":
        descending = not descending  # biggest jumps first
    return frame.sort(
        [key, "task", "metric", "family"], descending=[descending, False, False, False], nulls_last=True
    )
