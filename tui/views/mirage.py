"""The mirage view: a task's discontinuous metrics beside their continuous partners."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tui.backend.protocol import AnalysisLike
from tui.views.contents import frame_of


@dataclass(frozen=True)
class MiragePair:
    """The discontinuous metric of a task and its continuous partner, with both emergence scores."""

    family: str
    task: str
    discontinuous: str
    continuous: str
    score_discontinuous: float | None
    score_continuous: float | None
    verdict: str


def mirage_pairs(analysis: AnalysisLike, task: str, family: str | None = None) -> list[MiragePair]:
    mirage = frame_of(analysis.mirage)
    if mirage.is_empty():
        return []
    rows = mirage.filter(pl.col("task") == task)
    if family is not None:
        rows = rows.filter(pl.col("family") == family)
    return [
        MiragePair(
            family=r["family"],
            task=r["task"],
            discontinuous=r["discontinuous"],
            continuous=r["continuous"],
            score_discontinuous=r.get("score_discontinuous"),
            score_continuous=r.get("score_continuous"),
            verdict=str(r.get("verdict") or ""),
        )
        for r in rows.iter_rows(named=True)
    ]
