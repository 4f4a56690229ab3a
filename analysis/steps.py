"""Adjacent steps: can these items tell each model from the next-larger one of its family?

A curve (one family x task x metric in ascending order of the scale axis, ``analysis.emergence.curves``) moves
in steps. Each step gets the paired difference ``upper - lower`` (in the metric's units), an interval for it,
a test of "no difference", and a power analysis (``analysis.resolution``):

* **0/1 metrics with per-item outcomes**: McNemar's exact test on the items both models answered. Of the
  items where they disagree (``b`` only the smaller model right, ``c`` only the larger one), ``c`` is
  Binomial(b + c, 1/2) when the models are equal: ``p = min(1, 2 P(X <= min(b, c)))``, the exact binomial
  test on the discordant pairs. The interval is Newcombe's square-and-add interval for paired proportions
  (Newcombe 1998; the version of Fagerland, Lydersen & Laake 2014, whose correlation estimate is
  continuity-corrected): Wilson intervals of the two rates combined with the estimated correlation of the
  paired outcomes. It does not collapse when no item is discordant (0 of 400 for both reads [-0.0095,
  0.0095], not [0, 0]). The exact test is conservative, so in rare borderline cases the interval excludes 0
  while p is just above 1 - level: ``resolved`` follows the test. The items are the points' own (after
  ``--subsample``), read from the same items x models layout the bootstrap uses. Rows with replicates (seeds,
  epochs) give a model several outcomes per item: their steps take the paired bootstrap below.
* **every other metric**: the paired bootstrap. The points' replicates draw one set of items per family x task
  for every model, so ``replicate(upper) - replicate(lower)`` is a replicate of the paired difference; its
  percentile interval at the CI level is the step's interval, and the step is resolved when the interval
  excludes 0. Aggregate rows have independent replicates per model (binomial draws from n, or normal draws
  from the standard error): the same rule, unpaired.

A step is **resolved** when its test rejects at 1 - level; its ``change`` is ``better`` or ``worse``
(oriented: lower is better for losses) when resolved, else ``tie``. **Tie groups** run along the scale axis:
neighbours joined by an unresolved step are not separable and share a group (a chain: the ends of one group
may still differ). The power analysis gives the minimum difference the current items detect with 80%
power (``detectable``) and the items that would resolve the observed difference with that power
(``items_needed``): McNemar's normal approximation at the observed share of discordant items, the two-sample
test of proportions for aggregate 0/1 rows, else the normal approximation from the bootstrap's standard error.
Every step is tested at 1 - level on its own (no correction over the steps of a curve: the column describes
the test set's resolution, it is not a discovery claim).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.emergence import Curve, curves, with_replicates
from analysis.options import ResampleSettings
from analysis.resampling.intervals import wilson_interval
from analysis.resampling.layout import _Group, _groups, subsampled
from analysis.resolution import (
    MAX_ITEMS,
    STEP_POWER,
    independent_detectable,
    independent_items_needed,
    normal_detectable,
    normal_items_needed,
    paired_detectable,
    paired_items_needed,
)

MCNEMAR = "McNemar exact"
PAIRED_BOOTSTRAP = "paired bootstrap"
INDEPENDENT = "bootstrap (independent rows)"
BETTER, WORSE, TIE = "better", "worse", "tie"

STEP_RULE = (
    "steps (each model against the next-larger one of its family): 0/1 metrics with per-item outcomes get "
    "McNemar's exact test on the items both models answered (p = min(1, 2 P(X <= min(b, c))), X ~ "
    "Binomial(b + c, 1/2), b and c the items only the smaller or only the larger model got right) and "
    "Newcombe's square-and-add interval for the paired difference; other metrics the percentile interval of "
    "the paired bootstrap replicates' difference (independent for aggregate rows). A step is resolved when "
    "its test rejects at 1 - CI level (McNemar: p; bootstrap: the interval excludes 0), each step on its "
    "own; tie groups join neighbours whose step is not resolved. detectable: the smallest difference the "
    f"current items resolve with {STEP_POWER:.0%} power; items_needed: the items that resolve the observed "
    f"difference with {STEP_POWER:.0%} power (normal approximations: McNemar's at the observed share of "
    "discordant items; two proportions for aggregate 0/1 rows; else the bootstrap's standard error)"
)

STEP_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "kind": pl.Utf8(),
    "x": pl.Utf8(),
    "lower": pl.Utf8(),
    "upper": pl.Utf8(),
    "lower_x": pl.Float64(),
    "upper_x": pl.Float64(),
    "difference": pl.Float64(),
    "lo": pl.Float64(),
    "hi": pl.Float64(),
    "p_value": pl.Float64(),
    "test": pl.Utf8(),
    "n": pl.Int64(),
    "discordant_up": pl.Int64(),
    "discordant_down": pl.Int64(),
    "resolved": pl.Boolean(),
    "change": pl.Utf8(),
    "detectable": pl.Float64(),
    "items_needed": pl.Int64(),
}
GROUP_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "n_steps": pl.Int64(),
    "n_resolved": pl.Int64(),
    "n_groups": pl.Int64(),
    "groups": pl.Utf8(),
}


# ------------------------------------------------------------------------------------ McNemar (0/1)


def mcnemar_p(down: object, up: object) -> np.ndarray:
    """McNemar's exact two-sided p from the discordant counts (``down``: only the first right, ``up``: only
    the second): the exact binomial test of ``up`` out of ``down + up`` at 1/2; 1 when none disagree."""
    from scipy import stats

    b, c = np.broadcast_arrays(np.asarray(down, dtype=np.float64), np.asarray(up, dtype=np.float64))
    return np.minimum(1.0, 2.0 * stats.binom.cdf(np.minimum(b, c), b + c, 0.5))


def paired_difference_interval(
    both: object, down: object, up: object, neither: object, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's square-and-add interval for ``p2 - p1`` of paired 0/1 outcomes (Fagerland, Lydersen & Laake
    2014): ``both`` right, only the first right (``down``), only the second (``up``), ``neither``.

    With Wilson intervals ``[l1, u1]`` and ``[l2, u2]`` for p1 and p2 and ``r`` the continuity-corrected
    correlation of the pairs (``A = both * neither - down * up``: ``(A - n/2) / sqrt(product of margins)``
    above n/2, 0 between 0 and n/2, ``A / sqrt(...)`` below 0, and 0 when a margin is empty), the bounds are
    ``d - sqrt((p2 - l2)^2 + (u1 - p1)^2 - 2 r (p2 - l2)(u1 - p1))`` and
    ``d + sqrt((p1 - l1)^2 + (u2 - p2)^2 - 2 r (p1 - l1)(u2 - p2))``.
    """
    a, b, c, d = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(both, down, up, neither))
    n = a + b + c + d
    first, second = a + b, a + c
    l1, u1 = wilson_interval(first, n, level)
    l2, u2 = wilson_interval(second, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = first / n, second / n
        margins = first * (n - first) * second * (n - second)
        cross = a * d - b * c
        corrected = np.where(cross > n / 2.0, cross - n / 2.0, np.where(cross >= 0.0, 0.0, cross))
        r = np.where(margins > 0, corrected / np.sqrt(margins), 0.0)
        estimate = p2 - p1
        below = (p2 - l2) ** 2 + (u1 - p1) ** 2 - 2.0 * r * (p2 - l2) * (u1 - p1)
        above = (p1 - l1) ** 2 + (u2 - p2) ** 2 - 2.0 * r * (p1 - l1) * (u2 - p2)
        lo = estimate - np.sqrt(np.maximum(below, 0.0))
        hi = estimate + np.sqrt(np.maximum(above, 0.0))
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


@dataclass(frozen=True, eq=False)
class PairCounts:
    """The per-item outcomes of one family x task x 0/1 metric, summed over every pair of its models: for
    models i and j, ``table[:, i, j]`` counts the items both answered that both got right, only i, only j
    and neither (what McNemar's test of a step between i and j reads, whatever the order of the curve)."""

    models: tuple[str, ...]
    table: np.ndarray  # (4, models, models) float64: whole counts

    @classmethod
    def of(cls, models: tuple[str, ...], matrix: np.ndarray) -> PairCounts:
        """From the items x models matrix of 0, 1 and NaN (NaN: the model has no outcome for the item)."""
        answered = np.isfinite(matrix)
        right = (answered & (matrix > 0.5)).astype(np.float64)
        wrong = (answered & ~(matrix > 0.5)).astype(np.float64)
        # sums of 0/1 products: whole numbers, exact in float64 up to 2**53 items
        table = np.stack([right.T @ right, right.T @ wrong, wrong.T @ right, wrong.T @ wrong])
        return cls(tuple(models), table)


Outcomes = dict[tuple[str, str, str], PairCounts]


def step_outcomes(
    scored: S.ScoredSamples | None, resample: ResampleSettings, layout: Sequence[_Group] | None = None
) -> Outcomes:
    """Per family x task x 0/1 metric: the pair counts (``PairCounts``) of the items the points used (after
    the subsample), from the same layout as the bootstrap; only matrices that hold nothing but 0, 1 and NaN.
    Each family x task's counts depend on its own rows only, so a file read a task at a time gives the union
    of its tasks' outcomes. ``layout``: the frame laid out without a subsample (``Pipeline.layout``), shared
    with the points stage instead of laid out again (the same matrices: tests/unit/test_sweep.py)."""
    if scored is None or scored.frame.height == 0:
        return {}
    binary = [m for m, spec in scored.specs.items() if spec.binary and m in scored.frame.columns]
    if not binary or _replicated(scored.frame):
        return {}
    if layout is None:
        groups = _groups(scored.frame, binary, resample)
    else:
        groups = [g for g in (subsampled(group, resample) for group in layout) if g is not None]
    out = {}
    for group in groups:
        for metric, matrix in group.values.items():
            if metric not in binary:
                continue
            finite = matrix[np.isfinite(matrix)]
            if np.isin(finite, (0.0, 1.0)).all():
                out[(group.family, group.task, metric)] = PairCounts.of(group.models, matrix)
    return out


def _replicated(frame: pl.DataFrame) -> bool:
    """Rows carry replicates (seeds, epochs): a model has several outcomes per item, so McNemar's one pair
    of outcomes per item does not apply and the steps take the paired bootstrap of the points' replicates
    (which combine a model's replicates by ``--resample-unit``). Laid out as models, their rows collided."""
    return S.REPLICATE in frame.columns and frame[S.REPLICATE].null_count() < frame.height


def _counts(pairs: PairCounts, order: tuple[str, ...]) -> np.ndarray | None:
    """(4, steps) counts of both right, only the lower right, only the upper right and neither, over the
    items both models of each step answered; None when a model of the curve has no column."""
    index = {m: j for j, m in enumerate(pairs.models)}
    if any(m not in index for m in order):
        return None
    columns = [index[m] for m in order]
    return pairs.table[:, columns[:-1], columns[1:]]


def _mcnemar_steps(counts: np.ndarray, level: float) -> dict[str, np.ndarray]:
    both, down, up, neither = counts
    n = counts.sum(axis=0)
    lo, hi = paired_difference_interval(both, down, up, neither, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.where(n > 0, (up - down) / n, np.nan)
        discordant = np.where(n > 0, (up + down) / n, np.nan)
    p = np.where(n > 0, mcnemar_p(down, up), np.nan)
    return {
        "difference": difference,
        "lo": lo,
        "hi": hi,
        "p_value": p,
        "n": n,
        "discordant_up": up,
        "discordant_down": down,
        "resolved": np.where(n > 0, p < 1.0 - level, np.nan),
        "detectable": paired_detectable(discordant, n, level),
        "items_needed": paired_items_needed(difference, discordant, level),
    }


# --------------------------------------------------------------------------------- bootstrap (others)


def _bootstrap_steps(curve: Curve, independent: bool, level: float) -> dict[str, np.ndarray]:
    """Steps from the curve's replicates (paired for per-sample points, independent for aggregate rows)."""
    difference = np.diff(curve.y)
    n = np.fmin(curve.n[:-1], curve.n[1:])
    out: dict[str, np.ndarray] = {"difference": difference, "n": n}
    if curve.replicates is None or curve.replicates.shape[0] < 2:
        return out
    replicated = np.diff(curve.replicates, axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    replicated = np.where(np.isfinite(replicated), replicated, np.nan)
    some = np.isfinite(replicated).sum(axis=0) >= 2
    lo, hi, spread = (np.full(difference.shape, np.nan) for _ in range(3))
    if some.any():
        chosen = replicated[:, some]
        percentile = np.nanpercentile if np.isnan(chosen).any() else np.percentile
        lo[some], hi[some] = percentile(chosen, [tail, 100.0 - tail], axis=0)
        spread[some] = np.nanstd(chosen, axis=0, ddof=1)
    out.update(lo=lo, hi=hi, resolved=np.where(some, (lo > 0) | (hi < 0), np.nan))
    if independent and curve.binary and np.isfinite(n).all():
        up = difference >= 0
        out["detectable"] = independent_detectable(curve.y[:-1], n, level, up=up)
        out["items_needed"] = independent_items_needed(curve.y[:-1], curve.y[1:], level)
    else:
        # the replicates' spread is the standard error of the difference at the current n (a rate with n
        # unknown still has one), and times sqrt(n) the standard deviation of one item's difference
        out["detectable"] = normal_detectable(spread, 1.0, level)
        out["items_needed"] = normal_items_needed(difference, spread * np.sqrt(n), level)
    return out


# ------------------------------------------------------------------------------------------ frames


def _whole(values: np.ndarray, j: int) -> int | None:
    value = float(values[j])
    return None if not math.isfinite(value) else int(min(value, MAX_ITEMS))


def _number(values: np.ndarray | None, j: int) -> float | None:
    if values is None:
        return None
    value = float(values[j])
    return None if math.isnan(value) else value


def adjacent_steps(
    points: S.PointSet,
    scored: S.ScoredSamples | None,
    resample: ResampleSettings,
    x: str = S.PARAMS,
    outcomes: Outcomes | None = None,
) -> pl.DataFrame:
    """Every adjacent step of every family x task x metric along ``x`` (columns ``STEP_SCHEMA``; rules in the
    module docstring). Curves whose models share a value of ``x`` have no order, so no steps. ``outcomes``:
    ``step_outcomes(scored, resample)`` computed beforehand (then ``scored`` is not read)."""
    level = resample.ci
    if outcomes is None:
        outcomes = step_outcomes(scored, resample)
    aggregate: dict[tuple[str, str, str], bool] = {}
    if S.SOURCE in points.frame.columns:
        sources = points.frame.group_by(S.FAMILY, S.TASK, S.METRIC).agg(pl.col(S.SOURCE) == "aggregate")
        aggregate = {(f, t, m): all(a) for f, t, m, a in sources.iter_rows()}
    rows: list[dict[str, object]] = []
    for curve in curves(points, x, level, replicates=False) if not points.frame.is_empty() else []:
        if len(curve.models) < 2 or np.unique(curve.x).size < len(curve.x):
            continue
        key = (curve.family, curve.task, curve.metric)
        counts = None
        if curve.binary and key in outcomes:
            counts = _counts(outcomes[key], curve.models)
        if counts is not None:
            test, found = MCNEMAR, _mcnemar_steps(counts, level)
        else:
            independent = aggregate.get(key, False)
            test = INDEPENDENT if independent else PAIRED_BOOTSTRAP
            # one curve's replicates at a time, not every curve's at once
            found = _bootstrap_steps(with_replicates(curve, points), independent, level)
            if "lo" not in found:
                test = None
        for j in range(len(curve.models) - 1):
            resolved = _number(found.get("resolved"), j)
            difference = _number(found.get("difference"), j)
            change = None
            if resolved is not None and difference is not None:
                change = TIE if not resolved else (BETTER if difference * curve.direction > 0 else WORSE)
            rows.append(
                {
                    S.FAMILY: curve.family,
                    S.TASK: curve.task,
                    S.METRIC: curve.metric,
                    "kind": curve.kind,
                    "x": x,
                    "lower": curve.models[j],
                    "upper": curve.models[j + 1],
                    "lower_x": float(curve.x[j]),
                    "upper_x": float(curve.x[j + 1]),
                    "difference": difference,
                    "lo": _number(found.get("lo"), j),
                    "hi": _number(found.get("hi"), j),
                    "p_value": _number(found.get("p_value"), j),
                    "test": test,
                    "n": _whole(found["n"], j),
                    "discordant_up": _whole(found["discordant_up"], j) if "discordant_up" in found else None,
                    "discordant_down": (
                        _whole(found["discordant_down"], j) if "discordant_down" in found else None
                    ),
                    "resolved": None if resolved is None else bool(resolved),
                    "change": change,
                    "detectable": _number(found.get("detectable"), j),
                    "items_needed": _whole(found["items_needed"], j) if "items_needed" in found else None,
                }
            )
    return pl.DataFrame(rows, schema=STEP_SCHEMA)


def tie_groups(steps: pl.DataFrame) -> pl.DataFrame:
    """Per family x task x metric: its models in ascending scale, split where a step is resolved (columns
    ``GROUP_SCHEMA``; ``groups`` reads ``a, b | c | d, e``). A step without a test splits nothing."""
    rows = []
    for part in steps.partition_by(S.FAMILY, S.TASK, S.METRIC, maintain_order=True):
        groups = [[part["lower"][0]]]
        for upper, resolved in zip(part["upper"], part["resolved"], strict=True):
            if resolved:
                groups.append([upper])
            else:
                groups[-1].append(upper)
        rows.append(
            {
                S.FAMILY: part[S.FAMILY][0],
                S.TASK: part[S.TASK][0],
                S.METRIC: part[S.METRIC][0],
                "n_steps": part.height,
                "n_resolved": int(part["resolved"].fill_null(False).sum()),
                "n_groups": len(groups),
                "groups": " | ".join(", ".join(group) for group in groups),
            }
        )
    return pl.DataFrame(rows, schema=GROUP_SCHEMA)
