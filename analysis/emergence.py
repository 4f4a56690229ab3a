"""Emergence scores, trend flags and permutation p-values per family x task x metric (SCIENCE.md section 5).

All curves are oriented so that higher is better (value times the metric's direction) and ordered by ascending
scale before scoring; the emergence score uses only that ordering. Families are never pooled.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import false_discovery_control, spearmanr

from analysis import schema as S
from analysis.errors import InputError

ZERO_DENOMINATOR_CONVENTION = (
    "emergence score = sign(argmax - argmin) * (max - min) / sqrt(median squared step) over scales in "
    "ascending order; when more than half the steps are flat the denominator is 0 and the score is "
    "reported as +inf (-inf when the maximum comes before the minimum) if the curve changes at all, and 0.0 "
    "for a flat curve; ties for max/min go to the smallest scale"
)
TREND_ALPHA = 0.05  # Spearman significance level for `rising` / `inverse`
# Benjamini-Hochberg p_adjusted is computed when MORE than this many triplets have p-values
FDR_MIN_TRIPLETS = 5
TREND_RULES = (
    "trend: spearman rho of the oriented value against log scale; `inverse` = rho < 0 with p < 0.05, "
    "`rising` = rho > 0 with p < 0.05; `u_shaped` = the minimum of the curve smoothed by a 3-point moving "
    "average (5+ scales; raw otherwise) lies at an interior scale and that point's CI upper bound is below "
    "the CI lower bounds of the best points on both sides (`inverted_u` mirrored; both -> `mixed`); these "
    "take precedence over rising/inverse; `flat` = no significant trend and all CIs share a common value (or "
    "the curve is constant); else `none`. Without point CIs no u/inverted-u/flat-by-CI flag is given."
)


def emergence_scores(y: np.ndarray) -> np.ndarray:
    """Emergence score of each row of y (B, M): rows are curves oriented higher-is-better at ascending scales.

    Rows with a NaN, or fewer than 2 scales, score NaN. See ``ZERO_DENOMINATOR_CONVENTION``.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if y.shape[1] < 2:
        return np.full(y.shape[0], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the score is scale-free, so dividing each curve by its largest |y| changes nothing but keeps
        # squared steps of huge values (1e300) from overflowing
        size = np.abs(np.where(np.isnan(y), 0.0, y)).max(axis=1, keepdims=True)
        y = y / np.where((size > 0) & np.isfinite(size), size, 1.0)
        span = y.max(axis=1) - y.min(axis=1)
        sign = np.sign(np.argmax(y, axis=1) - np.argmin(y, axis=1)).astype(float)
        denominator = np.sqrt(np.median(np.diff(y, axis=1) ** 2, axis=1))
        score = sign * span / denominator
    zero = denominator == 0
    score[zero] = np.where(span[zero] > 0, np.copysign(np.inf, sign[zero]), 0.0)
    score[np.isnan(y).any(axis=1)] = np.nan
    return score


def emergence_score(y: np.ndarray) -> float:
    """Emergence score (BIG-bench breakthroughness) of one curve, higher-is-better, at ascending scales."""
    return float(emergence_scores(np.asarray(y, dtype=float)[None, :])[0])


def permutation_p_value(y: np.ndarray, permutations: int, rng: np.random.Generator) -> float:
    """One-sided p of the observed score under shuffled scale order: (1 + #{perm >= observed}) / (1 + P)."""
    y = np.asarray(y, dtype=float)
    observed = emergence_score(y)
    if np.isnan(observed):
        return float("nan")
    order = np.argsort(rng.random((permutations, y.size)), axis=1)
    return _p_value(observed, emergence_scores(y[order]), permutations)


def _p_value(observed: float, shuffled: np.ndarray | None, permutations: int) -> float:
    """(1 + #{shuffled >= observed}) / (1 + P), with a relative tolerance of 1e-12 for ties; NaN when the
    observed score is NaN."""
    if np.isnan(observed) or shuffled is None:
        return float("nan")
    tolerance = 1e-12 * abs(observed) if np.isfinite(observed) else 0.0
    return float((1 + np.count_nonzero(shuffled >= observed - tolerance)) / (1 + permutations))


def _scores_by_length(curves: list[np.ndarray | None]) -> list[np.ndarray | None]:
    """``emergence_scores`` of many curve batches (each (M,) or (B, M), or None), one call per length M."""
    out: list[np.ndarray | None] = [None] * len(curves)
    by_length: dict[int, list[int]] = {}
    for i, c in enumerate(curves):
        if c is not None:
            by_length.setdefault(np.shape(c)[-1], []).append(i)
    for members in by_length.values():
        blocks = [np.atleast_2d(curves[i]) for i in members]
        scores = emergence_scores(np.concatenate(blocks)) if blocks else None
        offsets = np.cumsum([0, *(len(b) for b in blocks)])
        for i, lo, hi in zip(members, offsets[:-1], offsets[1:], strict=True):
            out[i] = scores[lo:hi]
    return out


@dataclass(frozen=True)
class Trend:
    """A trend flag with its Spearman statistics and a note saying why, when it matters."""

    flag: str  # inverse, rising, u_shaped, inverted_u, mixed, flat, none
    spearman: float | None
    spearman_p: float | None
    note: str = ""


def _smoothed(y: np.ndarray) -> np.ndarray:
    """3-point moving average for 5+ scales (ends kept raw): keeps a real dip, removes one-off noise."""
    if y.size < 5:
        return y
    out = y.copy()
    out[1:-1] = (y[:-2] + y[1:-1] + y[2:]) / 3.0
    return out


def _interior_extremum(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, dip: bool) -> bool:
    """Whether the smoothed curve has an interior minimum (dip) or maximum that the point CIs support."""
    sign = 1.0 if dip else -1.0
    smooth = sign * _smoothed(y)
    at = int(np.argmin(smooth))
    if at == 0 or at == y.size - 1:
        return False
    window = np.arange(max(at - 1, 1), min(at + 2, y.size - 1))
    j = int(window[np.argmin(sign * y[window])])
    if dip:
        left, right = int(np.argmax(y[:j])), j + 1 + int(np.argmax(y[j + 1 :]))
        return bool(hi[j] < lo[left] and hi[j] < lo[right])
    left, right = int(np.argmin(y[:j])), j + 1 + int(np.argmin(y[j + 1 :]))
    return bool(lo[j] > hi[left] and lo[j] > hi[right])


def classify_trend(
    x: np.ndarray, y: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None
) -> Trend:
    """Trend of a curve y (oriented higher-is-better) at ascending scales x, with optional point CIs
    (oriented).

    Rules in ``TREND_RULES``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if y.size < 3:
        return Trend("none", None, None, "fewer than 3 scales: no trend test")
    rho, p = None, None
    if np.ptp(y) > 0 and np.ptp(x) > 0:
        result = spearmanr(np.log10(x), y)
        rho, p = float(result.statistic), float(result.pvalue)
    has_ci = lo is not None and hi is not None and np.isfinite(lo).all() and np.isfinite(hi).all()
    if has_ci:
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        dip = _interior_extremum(y, lo, hi, dip=True)
        peak = _interior_extremum(y, lo, hi, dip=False)
        if dip and peak:
            return Trend(
                "mixed", rho, p, "both an interior dip and an interior peak are supported by the CIs"
            )
        if dip:
            return Trend("u_shaped", rho, p)
        if peak:
            return Trend("inverted_u", rho, p)
    significant = p is not None and p < TREND_ALPHA
    if significant and rho < 0:
        return Trend("inverse", rho, p)
    if significant and rho > 0:
        return Trend("rising", rho, p)
    if np.ptp(y) == 0 or (has_ci and lo.max() <= hi.min()):
        return Trend("flat", rho, p)
    return Trend("none", rho, p, "" if has_ci else "no point CIs: u-shape and flat-by-CI not tested")


def _quantiles(samples: np.ndarray, level: float) -> tuple[float | None, float | None]:
    """Percentile interval by order statistics (no interpolation: infinite replicate scores stay defined)."""
    samples = samples[~np.isnan(samples)]
    if samples.size < 2:
        return None, None
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [tail, 1.0 - tail], method="inverted_cdf")
    return float(lo), float(hi)


_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "kind": pl.Utf8(),
    "x": pl.Utf8(),
    "score": pl.Float64(),
    "lo": pl.Float64(),
    "hi": pl.Float64(),
    "trend": pl.Utf8(),
    "spearman": pl.Float64(),
    "spearman_p": pl.Float64(),
    "p_value": pl.Float64(),
    "p_adjusted": pl.Float64(),
    "n_models": pl.Int64(),
    "note": pl.Utf8(),
}


def _first_present(values: list) -> object | None:
    """The first non-null entry of a group's column (per-triplet constants such as direction and kind)."""
    return next((v for v in values if v is not None), None)


def _point_intervals(
    columns: dict[str, np.ndarray], rows: np.ndarray, direction: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Oriented per-point CIs of the used rows: lo/hi, else the binomial interval, else none."""
    for lo_col, hi_col in ((S.LO, S.HI), (S.BINOM_LO, S.BINOM_HI)):
        if lo_col in columns and hi_col in columns:
            lo, hi = columns[lo_col][rows], columns[hi_col][rows]
            if np.isfinite(lo).all() and np.isfinite(hi).all():
                return (lo, hi) if direction > 0 else (-hi, -lo)
    return None, None


def _replicate_matrix(points: S.PointSet, key: tuple[str, str, str], models: list[str]) -> np.ndarray | None:
    """The (B, M) replicate values of ``models`` in that order, or None when any model has none."""
    reps = points.replicates.get(key)
    if reps is None:
        return None
    index = {m: i for i, m in enumerate(reps.models)}
    if any(m not in index for m in models):
        return None
    values = np.asarray(reps.values, dtype=float)
    if values.ndim != 2 or values.shape[0] == 0:
        return None
    return values[:, [index[m] for m in models]]


def score_emergence(
    points: S.PointSet, x: str = S.PARAMS, permutations: int = 1000, seed: int = 0, ci: float = 0.95
) -> pl.DataFrame:
    """Emergence score, CI, trend and p-values for every family x task x metric of ``points`` against scale
    ``x``.

    Columns: family, task, metric, kind, x, score, lo, hi (percentiles of the score recomputed on each paired
    bootstrap replicate in ``points.replicates``; null without replicates), trend, spearman, spearman_p,
    p_value (permutation test of the scale order, ``permutations`` shuffles, null below 3 scales), p_adjusted
    (Benjamini-Hochberg over all triplets with a p-value, only when more than ``FDR_MIN_TRIPLETS``), n_models
    and a note (skipped rows, missing CIs). Points with no ``x`` are skipped and counted in the note.
    """
    frame = points.frame
    for col in (S.FAMILY, S.TASK, S.METRIC, S.MODEL, S.VALUE, x):
        if col not in frame.columns:
            raise InputError(f"points have no {col!r} column: choose an x axis from {', '.join(S.SCALES)}")
    rng = np.random.default_rng(seed)
    keys = [S.FAMILY, S.TASK, S.METRIC]
    # one sort and one conversion to numpy for all triplets: within a triplet, rows by ascending scale then
    # model (rows with no scale last); per-triplet polars filters cost more than the scoring itself
    ordered = frame.sort([*keys, x, S.MODEL], nulls_last=True)
    run = ordered.select(pl.struct(keys).rle_id()).to_series().to_numpy()
    starts = np.flatnonzero(np.diff(run, prepend=-1))
    bounds = np.append(starts, ordered.height)
    identity = {k: ordered[k].to_list() for k in keys}
    models = ordered[S.MODEL].to_list()
    usable_all = (ordered[x].is_not_null() & ordered[S.VALUE].is_not_null()).to_numpy()
    xs_all = ordered[x].cast(pl.Float64).to_numpy()
    values_all = ordered[S.VALUE].cast(pl.Float64).to_numpy()
    directions = ordered["direction"].to_list() if "direction" in ordered.columns else None
    kinds = ordered["kind"].to_list() if "kind" in ordered.columns else None
    interval_columns = {
        col: ordered[col].cast(pl.Float64).to_numpy()
        for col in (S.LO, S.HI, S.BINOM_LO, S.BINOM_HI)
        if col in ordered.columns
    }

    # pass 1: each triplet's oriented curve, replicate matrix and permutation draws (in triplet order, so the
    # seeded draws are those of scoring the triplets one by one)
    triplets = []
    for lo_row, hi_row in itertools.pairwise(bounds):
        key = (identity[S.FAMILY][lo_row], identity[S.TASK][lo_row], identity[S.METRIC][lo_row])
        direction = _first_present(directions[lo_row:hi_row]) if directions is not None else None
        if direction is None:
            spec = points.specs.get(key[2])
            direction = -1 if spec is not None and spec.direction < 0 else 1
        else:
            direction = -1 if direction < 0 else 1
        rows = lo_row + np.flatnonzero(usable_all[lo_row:hi_row])
        y = direction * values_all[rows]
        replicates = _replicate_matrix(points, key, [models[i] for i in rows])
        score = emergence_score(y) if y.size >= 2 else float("nan")
        permuted_test = y.size >= 3 and permutations > 0
        shuffled = None
        if permuted_test and not np.isnan(score):
            shuffled = y[np.argsort(rng.random((permutations, y.size)), axis=1)]
        kind = _first_present(kinds[lo_row:hi_row]) if kinds is not None else None
        if kind is None and key[2] in points.specs:
            kind = points.specs[key[2]].kind
        skipped = (hi_row - lo_row) - rows.size
        triplets.append((key, direction, rows, y, score, permuted_test, replicates, shuffled, kind, skipped))

    # pass 2: every replicate and permutation curve scored in one call per curve length
    replicate_scores = _scores_by_length(
        [None if t[6] is None or t[3].size < 2 else t[1] * t[6] for t in triplets]
    )
    permuted = _scores_by_length([t[7] for t in triplets])

    rows_out = []
    for (key, direction, rows, y, score, permuted_test, _, _, kind, skipped), reps, perm in zip(
        triplets, replicate_scores, permuted, strict=True
    ):
        notes = []
        if skipped:
            notes.append(f"skipped {skipped} models with no {x} or value")
        lo = hi = None
        if reps is not None:
            lo, hi = _quantiles(reps, ci)
        point_lo, point_hi = _point_intervals(interval_columns, rows, direction)
        trend = classify_trend(xs_all[rows], y, point_lo, point_hi)
        if trend.note:
            notes.append(trend.note)
        p_value = _p_value(score, perm, permutations) if permuted_test else None
        rows_out.append(
            {
                S.FAMILY: key[0],
                S.TASK: key[1],
                S.METRIC: key[2],
                "kind": kind,
                "x": x,
                "score": None if np.isnan(score) else score,
                "lo": lo,
                "hi": hi,
                "trend": trend.flag,
                "spearman": trend.spearman,
                "spearman_p": trend.spearman_p,
                "p_value": p_value,
                "p_adjusted": None,
                "n_models": int(y.size),
                "note": "; ".join(notes) or None,
            }
        )
    result = pl.DataFrame(rows_out, schema=_SCHEMA)
    tested = result["p_value"].is_not_null().to_numpy()
    if tested.sum() > FDR_MIN_TRIPLETS:
        adjusted = np.full(result.height, np.nan)
        adjusted[tested] = false_discovery_control(result["p_value"].to_numpy()[tested], method="bh")
        result = result.with_columns(pl.Series("p_adjusted", adjusted).fill_nan(None))
    return result
