"""The verdict: is a jump under a discontinuous metric real, or the metric and the test-set size?

For each family x task, each discontinuous metric (exact match, multiple-choice grade, ...) is read beside
its continuous partners scored on the same outputs (``analysis.metrics.partners``: exact_match ->
token_edit_distance, token_loss, token_prob; mc_grade and lm-eval's acc -> brier, choice_prob; without a
declared partner, the other continuous metrics of the task, marked ``same task``). "Emergent" in Wei et al.
and in Schaeffer et al. means "not predictable by extrapolating smaller models", so the continuous partners'
predictability decides (``VERDICT_RULES``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from analysis import emergence as E
from analysis import schema as S
from analysis.metrics import EXACT_MATCH, SEQ_PROB, TOKEN_PROB, partners
from analysis.resolution import RESOLVE_POWER, items_to_resolve

MIRAGE = "mirage"
SURVIVES = "survives"
SMOOTH = "smooth"
UNRESOLVED = "unresolved"
INCONCLUSIVE = "inconclusive"
UNCHECKED = "emergent (unchecked)"
GATES = (E.NOT_ON_AXIS, E.TIED, E.TOO_FEW, *E.TREND_STATUSES)
# partners that do not invert to the correct choice's probability decide only when no other partner can
INDIRECT = frozenset({"brier"})

VERDICT_RULES = (
    "verdict per discontinuous metric: a jump is seen when its raw curve shows an apparent jump or it jumps "
    "on its own link scale; then `mirage` (metric artefact): every continuous partner that can tell follows "
    "its smaller models' trend (smooth); `survives`: a continuous partner jumps too and none is smooth "
    "(brier, which does not invert to the correct choice's probability, decides only when choice_prob "
    "cannot); "
    "`inconclusive`: partners disagree, or none can tell; without partners, `emergent (unchecked)` when it "
    "jumps on its own link scale, `unresolved` when the points below the jump are all below resolution, "
    "`smooth` when its own link scale shows a smooth rise. No jump seen: `smooth`. Before these: `not on "
    "this axis`, `tied scales`, `too few scales`, `inverse`, `u_shaped`, `inverted_u`, `mixed` (the "
    "metric's own status). Items needed: the smallest n at which an n-item test set would resolve the "
    f"smallest unresolved model ({RESOLVE_POWER:.0%} of such test sets), at the exact-match rate the "
    "continuous outputs imply (seq_prob, the mean probability of the whole target, else token_prob^L). "
    "Exact match is compared with seq_prob, its expectation if answers were sampled from the token "
    "probabilities: each model's count against Binomial(n, seq_prob), two-sided, Bonferroni over the models. "
    "When the step into the model where the jump is seen is not resolved (its adjacent-step test, "
    "analysis/steps.py), the verdict says so"
)

_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "category": pl.Utf8(),
    "verdict": pl.Utf8(),
    "partners": pl.Utf8(),
    "partner_source": pl.Utf8(),
    "jumping": pl.Utf8(),
    "smooth": pl.Utf8(),
    "apparent": pl.Float64(),
    "apparent_at": pl.Utf8(),
    "items_needed": pl.Int64(),
    "items_for": pl.Utf8(),
    "predicted_agree": pl.Int64(),
    "predicted_of": pl.Int64(),
}


def _names(metrics: list[str]) -> str:
    if len(metrics) <= 1:
        return "".join(metrics)
    return ", ".join(metrics[:-1]) + " and " + metrics[-1]


def _lower_side_unresolved(d: Mapping, models_in_order: list[str]) -> bool:
    """Whether every point below the jump is below resolution."""
    at = d.get("apparent_at") or d.get("jump_at")
    unresolved = set((d.get("unresolved") or "").split(", ")) - {""}
    if not at or at not in models_in_order or not unresolved:
        return False
    below = models_in_order[: models_in_order.index(at)]
    return bool(below) and all(m in unresolved for m in below)


def _point_values(points: S.PointSet, family: str, task: str, metric: str) -> pl.DataFrame:
    """The points of one curve: model, value and the interval the verdict reads (binomial for 0/1)."""
    frame = points.frame.filter(
        (pl.col(S.FAMILY) == family) & (pl.col(S.TASK) == task) & (pl.col(S.METRIC) == metric)
    )
    lo = pl.coalesce(S.BINOM_LO, S.LO) if S.BINOM_LO in frame.columns else pl.col(S.LO)
    hi = pl.coalesce(S.BINOM_HI, S.HI) if S.BINOM_HI in frame.columns else pl.col(S.HI)
    columns = [S.MODEL, S.VALUE, lo.alias("lo"), hi.alias("hi")] if S.LO in frame.columns else None
    return frame.select(columns) if columns else frame.select(S.MODEL, S.VALUE)


def _items_needed(
    d: Mapping, points: S.PointSet, lengths: Mapping[tuple[str, str], float], level: float
) -> tuple[int | None, str | None]:
    """Items that would resolve the smallest unresolved model of an exact-match curve at the rate the
    continuous outputs imply: the mean probability of the whole target (seq_prob) when the file has
    log-probs, else token_prob^L; (None, None) when that cannot be said."""
    unresolved = [m for m in (d.get("unresolved") or "").split(", ") if m]
    if not unresolved or d[S.METRIC] != EXACT_MATCH:
        return None, None
    for metric, how in ((SEQ_PROB, "seq_prob"), (TOKEN_PROB, "token_prob^L")):
        row = _point_values(points, d[S.FAMILY], d[S.TASK], metric).filter(pl.col(S.MODEL) == unresolved[0])
        if row.is_empty() or row[S.VALUE][0] is None:
            continue
        implied = float(row[S.VALUE][0])
        if metric == TOKEN_PROB:
            length = lengths.get((d[S.FAMILY], d[S.TASK]))
            if not length:
                continue
            implied **= length
        return items_to_resolve(implied, 0.0, level), f"{unresolved[0]} at exact match {implied:.2g} ({how})"
    return None, None


def _prediction(d: Mapping, points: S.PointSet, level: float) -> tuple[int, int, str] | None:
    """How the exact-match curve compares with what the same items' token probabilities predict: the mean
    probability of each whole target (seq_prob) is the expected exact match if the model sampled its
    answers. Each model's count of exact matches is tested against Binomial(n, seq_prob) (two-sided, exact;
    Bonferroni over the models at 1 - ``level``; seq_prob's own noise, far smaller, is ignored).
    (models that agree, models compared, a sentence), or None."""
    if d[S.METRIC] != EXACT_MATCH:
        return None
    frame = points.frame.filter((pl.col(S.FAMILY) == d[S.FAMILY]) & (pl.col(S.TASK) == d[S.TASK]))
    if S.N not in frame.columns:
        return None
    observed = frame.filter(pl.col(S.METRIC) == EXACT_MATCH).select(S.MODEL, S.VALUE, S.N)
    predicted = frame.filter(pl.col(S.METRIC) == SEQ_PROB).select(S.MODEL, pl.col(S.VALUE).alias("rate"))
    both = observed.join(predicted, on=S.MODEL).drop_nulls()
    if both.is_empty():
        return None
    from scipy.stats import binom  # on first use: the app's process reads verdicts only

    n = both[S.N].to_numpy()
    k = np.round(both[S.VALUE].to_numpy() * n)
    rate = np.clip(both["rate"].to_numpy(), 0.0, 1.0)
    p = np.minimum(1.0, 2.0 * np.minimum(binom.cdf(k, n, rate), binom.sf(k - 1, n, rate)))
    off = p < (1.0 - level) / len(p)
    above, below, m = int((off & (k > n * rate)).sum()), int((off & (k < n * rate)).sum()), len(p)
    if not off.any():
        sentence = (
            "the exact-match curve is what the items' token probabilities predict (the mean probability "
            f"of the whole target is within binomial noise at all {m} models)"
        )
        return m, m, sentence
    sides = ", ".join(
        x for x in (f"above at {above}" if above else "", f"below at {below}" if below else "") if x
    )
    sentence = (
        f"exact match departs from what the items' token probabilities predict ({sides} of {m} models: the "
        "answers are not drawn from those probabilities, e.g. greedy decoding)"
    )
    return m - above - below, m, sentence


def _unresolved_step(d: Mapping, at: str | None, steps: pl.DataFrame | None) -> str:
    """A clause when the step into ``at`` (where the jump is seen) is not resolved by its step test."""
    if steps is None or not at or steps.is_empty():
        return ""
    step = steps.filter(
        (pl.col(S.FAMILY) == d[S.FAMILY])
        & (pl.col(S.TASK) == d[S.TASK])
        & (pl.col(S.METRIC) == d[S.METRIC])
        & (pl.col("upper") == at)
        & pl.col("resolved").cast(pl.Boolean).not_()  # null (no test) says nothing
    )
    if step.is_empty():
        return ""
    row = step.row(0, named=True)
    p = row["p_value"]
    evidence = f"{row['test']} p {p:.2g}" if p is not None else f"{row['test']}: its interval includes 0"
    return (
        f"; the step from {row['lower']} to {at} is not resolved on these {row['n']} items ({evidence}): "
        "the jump is within the test set's noise"
    )


def task_verdicts(
    emergence: pl.DataFrame,
    points: S.PointSet,
    lengths: Mapping[tuple[str, str], float] | None = None,
    level: float = 0.95,
    steps: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One verdict per family x task x discontinuous metric (``VERDICT_RULES``), from ``score_emergence``'s
    frame; columns in ``_SCHEMA``. ``steps`` (``analysis.steps.adjacent_steps``) adds whether the step where
    a jump is seen is resolved."""
    lengths = lengths or {}
    axis = emergence["x"][0] if emergence.height and emergence["x"][0] in points.frame.columns else S.PARAMS
    order = (
        points.frame.sort(axis, S.MODEL, nulls_last=True)
        .group_by(S.FAMILY, S.TASK, maintain_order=True)
        .agg(pl.col(S.MODEL).unique(maintain_order=True))
    )
    models_of = {(r[S.FAMILY], r[S.TASK]): r[S.MODEL] for r in order.iter_rows(named=True)}
    rows = []
    for group in emergence.partition_by(S.FAMILY, S.TASK, maintain_order=True):
        records = {r[S.METRIC]: r for r in group.iter_rows(named=True)}
        judged = {m: r for m, r in records.items() if not (r["status"] or "").startswith(E.SAME_AS)}
        continuous = [m for m, r in judged.items() if r["kind"] == "continuous"]
        for metric, d in judged.items():
            if d["kind"] != "discontinuous":
                continue
            declared = [p for p in partners(metric) if p in judged]
            source = "declared" if declared else "same task"
            mates = declared or continuous
            mates_rows = [judged[m] for m in mates]
            rows.append(_verdict(d, mates_rows, source, models_of, points, lengths, level, steps))
    return pl.DataFrame(rows, schema=_SCHEMA)


def _verdict(
    d: Mapping,
    mates: list[Mapping],
    source: str,
    models_of: Mapping[tuple[str, str], list[str]],
    points: S.PointSet,
    lengths: Mapping[tuple[str, str], float],
    level: float,
    steps: pl.DataFrame | None = None,
) -> dict[str, object]:
    metric, status = d[S.METRIC], d["status"]
    direct = [m for m in mates if m[S.METRIC] not in INDIRECT and m["status"] in (E.JUMP, E.SMOOTH)]
    deciding = direct or mates
    jumping = [m[S.METRIC] for m in deciding if m["status"] == E.JUMP]
    smooth = [m[S.METRIC] for m in deciding if m["status"] == E.SMOOTH]
    row: dict[str, object] = {
        S.FAMILY: d[S.FAMILY],
        S.TASK: d[S.TASK],
        S.METRIC: metric,
        "partners": ", ".join(m[S.METRIC] for m in mates) or None,
        "partner_source": source if mates else None,
        "jumping": ", ".join(jumping) or None,
        "smooth": ", ".join(smooth) or None,
        "apparent": d.get("apparent"),
        "apparent_at": d.get("apparent_at"),
    }
    items, items_for = _items_needed(d, points, lengths, level)
    row["items_needed"], row["items_for"] = items, items_for
    prediction = _prediction(d, points, level)
    if prediction is not None:
        row["predicted_agree"], row["predicted_of"] = prediction[0], prediction[1]
    if status in GATES:
        row["category"], row["verdict"] = status, d["sentence"]
        return row
    seen = bool(d.get("apparent_jump")) or status == E.JUMP
    at = d.get("apparent_at") or d.get("jump_at")
    share = d.get("apparent")
    looks = f"{metric} looks like a jump at {at}" + (
        f" (raw scale: {share:.0%} of its rise above its smaller models' line)"
        if isinstance(share, float)
        else ""
    )
    low = _lower_side_unresolved(d, models_of.get((d[S.FAMILY], d[S.TASK]), []))
    resolution = ""
    if low:
        resolution = "; the models below the jump are below resolution"
        if items:
            resolution += f" ({items:,} items would resolve {items_for})"
    if not seen and status in (E.UNRESOLVED, E.INCONCLUSIVE):  # no jump to see, nor a smooth curve to call
        row["category"] = UNRESOLVED if status == E.UNRESOLVED else INCONCLUSIVE
        row["verdict"] = f"{row['category']}: {d['sentence']}"
    elif not seen:
        row["category"] = SMOOTH
        row["verdict"] = f"smooth: {d['sentence']}"
    elif jumping and not smooth:
        row["category"] = SURVIVES
        row["verdict"] = (
            f"survives: {looks}, and {_names(jumping)} jump{'s' if len(jumping) == 1 else ''} "
            f"too: a real jump, not the metric{resolution}"
        )
    elif smooth and not jumping:
        row["category"] = MIRAGE
        row["verdict"] = (
            f"mirage: {looks}, but {_names(smooth)} follow{'s' if len(smooth) == 1 else ''} the smaller "
            f"models' trend on the same outputs: the jump is the metric{resolution}"
        )
    elif smooth and jumping:
        row["category"] = INCONCLUSIVE
        row["verdict"] = f"inconclusive: {looks}; {_names(jumping)} jump but {_names(smooth)} do not"
    elif mates:
        row["category"] = INCONCLUSIVE
        statuses = "; ".join(f"{m[S.METRIC]} {m['status']}" for m in mates)
        row["verdict"] = f"inconclusive: {looks}, and the continuous metrics cannot tell ({statuses})"
    elif status == E.JUMP:
        row["category"] = UNCHECKED
        row["verdict"] = f"emergent (unchecked): {d['sentence']}; no continuous metric from the same outputs"
    elif low:
        row["category"] = UNRESOLVED
        row["verdict"] = f"unresolved: {looks}{resolution}, and no continuous metric can tell"
    elif status == E.SMOOTH:
        row["category"] = SMOOTH
        row["verdict"] = f"smooth: {looks}, but it is a smooth rise on its link scale ({d['sentence']})"
    else:
        row["category"] = UNRESOLVED if status == E.UNRESOLVED else INCONCLUSIVE
        row["verdict"] = f"{row['category']}: {looks}; {d['sentence']}"
    if seen:
        row["verdict"] += _unresolved_step(d, at, steps)
    if prediction is not None and seen:
        row["verdict"] = f"{row['verdict']}; {prediction[2]}"
    return row


def mirage_summary(verdicts: pl.DataFrame) -> pl.DataFrame:
    """Per family x task x metric: the short word (the category) and the verdict sentence, for tables."""
    schema = {S.FAMILY: pl.Utf8, S.TASK: pl.Utf8, S.METRIC: pl.Utf8, "mirage": pl.Utf8, "verdict": pl.Utf8}
    if verdicts.is_empty():
        return pl.DataFrame(schema=schema)
    return verdicts.select(S.FAMILY, S.TASK, S.METRIC, pl.col("category").alias("mirage"), "verdict")


def counts(verdicts: pl.DataFrame) -> dict[str, int]:
    """How many verdicts of each category."""
    if verdicts.is_empty():
        return {}
    return dict(zip(*np.unique(verdicts["category"].to_numpy(), return_counts=True), strict=True))
