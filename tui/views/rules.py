"""Two analysis rules the app applies itself, kept here until ``analysis/`` offers them.

- :func:`mirage_summary`: the ``mirage j/k`` word per family x task x metric (for ``analysis.mirage``).
- :func:`held_out_models`: which points a backtest fits without (to come from the fits' own hold-out rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from tui.views.contents import backtest_for

if TYPE_CHECKING:
    from tui.backend.protocol import AnalysisLike


def mirage_summary(mirage: pl.DataFrame) -> pl.DataFrame:
    """Per family x task x metric: a short mirage word and the full verdict sentence(s) of the mirage check.

    A discontinuous metric paired with k continuous partners reads ``mirage j/k`` when the jump is smooth
    under j of them, ``emergent`` when it survives all of them and ``smooth`` when it never jumped; a
    continuous metric reads its own status (``smooth`` or ``emergent``).
    """
    schema = {"family": pl.Utf8, "task": pl.Utf8, "metric": pl.Utf8, "mirage": pl.Utf8, "verdict": pl.Utf8}
    needed = {"family", "task", "discontinuous", "continuous", "verdict", "mirage"}
    if mirage.is_empty() or not needed <= set(mirage.columns):
        return pl.DataFrame(schema=schema)
    status_d = pl.col("status_discontinuous") if "status_discontinuous" in mirage.columns else pl.lit("")
    status_c = pl.col("status_continuous") if "status_continuous" in mirage.columns else pl.lit("")
    mirage = mirage.with_columns(status_d.alias("status_d"), status_c.alias("status_c"))
    discontinuous = (
        mirage.group_by("family", "task", pl.col("discontinuous").alias("metric"), maintain_order=True)
        .agg(
            pl.col("mirage").fill_null(False).sum().alias("smooth"),
            pl.len().alias("pairs"),
            pl.col("status_d").first(),
            pl.col("verdict").unique(maintain_order=True).str.join("; "),
        )
        .select(
            "family",
            "task",
            "metric",
            pl.when(pl.col("smooth") > 0)
            .then(pl.format("mirage {}/{}", "smooth", "pairs"))
            .otherwise(pl.col("status_d").fill_null(""))
            .alias("mirage"),
            "verdict",
        )
    )
    continuous = (
        mirage.group_by("family", "task", pl.col("continuous").alias("metric"), maintain_order=True)
        .agg(pl.col("status_c").first().fill_null("").alias("mirage"), pl.col("verdict").first())
        .select("family", "task", "metric", "mirage", "verdict")
    )
    return (
        pl.concat([discontinuous, continuous])
        .cast(schema)  # type: ignore[arg-type]
        .unique(subset=["family", "task", "metric"], keep="first", maintain_order=True)
    )


def held_out_models(
    points: pl.DataFrame,
    axis: str,
    holdout: int,
    analysis: AnalysisLike | None = None,
    metric: str | None = None,
) -> set[tuple[str, str]]:
    """(family, model) of the points a backtest fits without.

    Taken from the fit stage's backtests (their held-out scales) when they exist; otherwise (no fits yet, or
    a family whose backtest failed) the ``holdout`` largest scales per family, the rule the fit stage uses.
    """
    if holdout <= 0 or points.is_empty():
        return set()
    held: set[tuple[str, str]] = set()
    for (family,), group in points.filter(pl.col(axis).is_not_null()).group_by(["family"]):
        task = group["task"][0] if "task" in group.columns else None
        backtest = backtest_for(analysis, family, task, metric) if analysis is not None else None
        held_x = np.asarray(backtest.x if backtest is not None else (), dtype=float)
        if backtest is not None and backtest.fit is not None and held_x.size:
            scales = group[axis].to_numpy()
            mask = np.isclose(scales[:, None], held_x[None, :], rtol=1e-9).any(axis=1)
            held |= {(family, m) for m in group.filter(pl.Series(mask))["model"].to_list()}
            continue
        top = group.unique(subset=["model"]).sort(axis, descending=True).head(holdout)
        held |= {(family, m) for m in top["model"].to_list()}
    return held
