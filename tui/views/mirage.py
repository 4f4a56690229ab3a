"""The mirage view: a task's discontinuous metrics beside their continuous partners."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tui.backend.protocol import AnalysisLike
from tui.views.contents import frame_of


@dataclass(frozen=True)
class MiragePair:
    """A discontinuous metric of a task beside one of its continuous partners, with both statuses and the
    discontinuous metric's verdict (which names every partner)."""

    family: str
    task: str
    discontinuous: str
    continuous: str
    status_discontinuous: str | None
    status_continuous: str | None
    verdict: str


def mirage_pairs(analysis: AnalysisLike, task: str, family: str | None = None) -> list[MiragePair]:
    """Every (discontinuous metric, partner) of the task, in the verdicts' order, partners best first."""
    verdicts = frame_of(analysis.mirage)
    if verdicts.is_empty() or "partners" not in verdicts.columns:
        return []
    rows = verdicts.filter(pl.col("task") == task)
    if family is not None:
        rows = rows.filter(pl.col("family") == family)
    emergence = frame_of(analysis.emergence)
    status = {
        (r["family"], r["metric"]): r["status"]
        for r in emergence.filter(pl.col("task") == task).iter_rows(named=True)
    }
    return [
        MiragePair(
            family=r["family"],
            task=r["task"],
            discontinuous=r["metric"],
            continuous=partner,
            status_discontinuous=status.get((r["family"], r["metric"])),
            status_continuous=status.get((r["family"], partner)),
            verdict=str(r.get("verdict") or ""),
        )
        for r in rows.iter_rows(named=True)
        for partner in (r["partners"] or "").split(", ")
        if partner
    ]
