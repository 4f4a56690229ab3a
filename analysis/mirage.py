"""The mirage check: does a jump under a discontinuous metric survive a continuous metric on the same outputs?

For each family x task, every discontinuous metric is paired with its continuous partners from the same
outputs, as ``analysis.metrics.partners`` declares them (exact_match -> token_edit_distance, token_loss,
token_prob; mc_grade and lm-eval's acc/acc_norm -> brier, choice_prob). When a task has a discontinuous metric
with no declared partner present (e.g. BIG-bench's ``multiple_choice_grade``), the other continuous metrics of
the same family x task are used and marked ``partner_source = "same task"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.metrics import partners

EMERGENT_RATIO = 2.0  # emergent: score >= 2 x a straight line's score
CI_RATIO = 1.0  # ... and the score's CI lower bound (when known) > a straight line's score
EMERGENT_RULE = (
    "a curve of M scales is `emergent` when its emergence score is at least 2 (M - 1) and, when the score "
    "has a bootstrap CI, its lower bound exceeds M - 1; a straight line scores exactly M - 1, so this asks "
    "for a rise at least twice as concentrated in few steps as a linear one, and a CI that excludes the "
    "linear case. "
    "`inconclusive`: the score passes but its CI lower bound does not; `sharp drop`: score <= -2 (M - 1); "
    "`smooth`: otherwise; `too few models`: M < 3"
)

_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    "discontinuous": pl.Utf8(),
    "continuous": pl.Utf8(),
    "score_discontinuous": pl.Float64(),
    "lo_discontinuous": pl.Float64(),
    "score_continuous": pl.Float64(),
    "lo_continuous": pl.Float64(),
    "status_discontinuous": pl.Utf8(),
    "status_continuous": pl.Utf8(),
    "mirage": pl.Boolean(),
    "partner_source": pl.Utf8(),
    "verdict": pl.Utf8(),
}


def emergence_status(score: float | None, lo: float | None, n_models: int) -> str:
    """``emergent``, ``inconclusive``, ``smooth``, ``sharp drop`` or ``too few models``: ``EMERGENT_RULE``."""
    if n_models < 3 or score is None or np.isnan(score):
        return "too few models"
    linear = n_models - 1
    if score >= EMERGENT_RATIO * linear:
        if lo is None or lo > CI_RATIO * linear:
            return "emergent"
        return "inconclusive"
    if score <= -EMERGENT_RATIO * linear:
        return "sharp drop"
    return "smooth"


def verdict(discontinuous: str, status_d: str, continuous: str, status_c: str) -> str:
    """One sentence a person reads in five seconds."""
    if status_d == "emergent" and status_c == "smooth":
        return (
            f"emergent under {discontinuous}, smooth under {continuous}: "
            "the jump looks like an artefact of the metric"
        )
    if status_d == status_c == "emergent":
        return f"emergent under both {discontinuous} and {continuous}: the jump survives a continuous metric"
    if status_d == status_c:
        return f"{status_d} under both {discontinuous} and {continuous}"
    return f"{status_d} under {discontinuous}, {status_c} under {continuous}"


def _kind(row: Mapping, specs: Mapping[str, S.MetricSpec]) -> str | None:
    if row.get("kind"):
        return row["kind"]
    spec = specs.get(row[S.METRIC])
    return None if spec is None else spec.kind


def mirage_check(emergence: pl.DataFrame, specs: Mapping[str, S.MetricSpec] | None = None) -> pl.DataFrame:
    """Pair each discontinuous metric with its continuous partners per family x task and give a verdict.

    ``emergence`` is the frame of ``analysis.emergence.score_emergence`` (family, task, metric, kind, score,
    lo, n_models); ``specs`` gives kinds where that frame has none. Columns: family, task, discontinuous,
    continuous, score_discontinuous, lo_discontinuous, score_continuous, lo_continuous, status_discontinuous,
    status_continuous, mirage (emergent under the discontinuous metric and smooth under the continuous one),
    partner_source ("declared" or "same task"), verdict. Tasks without such a pair give no row.
    """
    specs = specs or {}
    rows = []
    keys = [S.FAMILY, S.TASK]
    for group in emergence.sort([*keys, S.METRIC]).partition_by(keys, maintain_order=True):
        records = {r[S.METRIC]: r for r in group.iter_rows(named=True)}
        kinds = {m: _kind(r, specs) for m, r in records.items()}
        continuous = [m for m, k in kinds.items() if k == "continuous"]
        for metric, kind in kinds.items():
            if kind != "discontinuous":
                continue
            declared = [p for p in partners(metric) if p in records]
            pairs = [(p, "declared") for p in declared]
            if not pairs:
                pairs = [(p, "same task") for p in continuous]
            d = records[metric]
            status_d = emergence_status(d["score"], d.get("lo"), d.get("n_models") or 0)
            for partner, source in pairs:
                c = records[partner]
                status_c = emergence_status(c["score"], c.get("lo"), c.get("n_models") or 0)
                rows.append(
                    {
                        S.FAMILY: d[S.FAMILY],
                        S.TASK: d[S.TASK],
                        "discontinuous": metric,
                        "continuous": partner,
                        "score_discontinuous": d["score"],
                        "lo_discontinuous": d.get("lo"),
                        "score_continuous": c["score"],
                        "lo_continuous": c.get("lo"),
                        "status_discontinuous": status_d,
                        "status_continuous": status_c,
                        "mirage": status_d == "emergent" and status_c == "smooth",
                        "partner_source": source,
                        "verdict": verdict(metric, status_d, partner, status_c),
                    }
                )
    return pl.DataFrame(rows, schema=_SCHEMA)


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
