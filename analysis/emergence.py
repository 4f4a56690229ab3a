"""Each family x task x metric curve judged on the scale where "smooth" means a straight line.

A curve is a metric's values at a family's models in ascending order of one scale axis (docs/science.md
section 5). Every curve gets, in this order of precedence, one ``status`` with the numbers behind it:

* ``not on this axis``: fewer than 3 distinct values of the axis (checkpoints of one run on params, final
  models on tokens): no score, CI or trend;
* ``tied scales``: two models at the same value of the axis (the order of tied models is arbitrary, so no
  statistic of the order is defined): refused, naming them;
* ``same as <metric>``: the same numbers as another metric of the task (lm-eval's ``acc`` and the computed
  ``mc_grade``): judged once, under the other name;
* ``too few scales``: 3 or 4 distinct scales cannot tell a step from a bend;
* ``unresolved``: fewer than 3 points can be placed on the link scale (their intervals include the floor or
  the ceiling: the test set is too small to place them);
* ``jump``: some model beats the line through its next-smaller models by more than ``JUMP_EFFECT`` on the
  link scale, and the minimum-effect test of that miss against this curve's own noise survives
  Benjamini-Hochberg at ``FDR_LEVEL`` (``JUMP_RULE``);
* a trend that is not a rise: ``inverse``, ``u_shaped``, ``inverted_u``, ``mixed`` (``TREND_RULES``), when
  no jump is found (a dip among the small models does not hide a jump at a larger one);
* ``inconclusive``: such a miss, but not beyond the noise (or no noise estimate);
* ``smooth``: no model beats its prediction by more than ``JUMP_EFFECT``.

The BIG-bench emergence score (breakthroughness) is still computed with a CI from the paired replicates: it is
the number in BIG-bench and in Schaeffer et al., reported in the JSON, but it no longer decides anything
(it rewards any curve that saturates, or is convex over log-spaced scales). For discontinuous metrics the
*apparent* jump on the raw scale, what a plot of the raw metric shows, is measured too: the share of the
curve's rise by which its best model beats the line through all smaller models (``APPARENT_RULE``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from analysis import links
from analysis import schema as S
from analysis.errors import InputError
from analysis.jumps import jump_test, largest_miss, line_fit, miss_weights, misses_fast, misses_matrix
from analysis.resolution import resolved

FDR_LEVEL = 0.05  # Benjamini-Hochberg level over every triplet of one kind (discontinuous, continuous)
JUMP_EFFECT = math.log(2)  # a miss of a factor 2 (implied loss, or odds) is the smallest jump called one
APPARENT_SHARE = 0.2  # raw scale: a fifth of the rise above the smaller models' line looks like a jump
MIN_SCALES = 5  # fewer distinct scales cannot tell a step from a bend
MIN_USABLE = 3  # points on the link scale needed for one prediction (two to draw the line, one to test)
NULL_DRAWS = 1000  # null curves drawn for points without bootstrap replicates (binomial or normal noise)
TREND_ALPHA = 0.05  # Spearman significance level for `rising` / `inverse`

NOT_ON_AXIS = "not on this axis"
TIED = "tied scales"
SAME_AS = "same as"
TOO_FEW = "too few scales"
UNRESOLVED = "unresolved"
JUMP = "jump"
INCONCLUSIVE = "inconclusive"
SMOOTH = "smooth"
TREND_STATUSES = ("inverse", "u_shaped", "inverted_u", "mixed")

ZERO_DENOMINATOR_CONVENTION = (
    "emergence score (BIG-bench breakthroughness, JSON only) = sign(argmax - argmin) * (max - min) / "
    "sqrt(median squared step) over scales in ascending order; when more than half the steps are flat the "
    "denominator is 0 and the score is +inf (-inf when the maximum comes before the minimum) if the curve "
    "changes at all, and 0.0 for a flat curve; ties for max/min go to the smallest scale; it does not decide "
    "the status"
)
TREND_RULES = (
    "trend: spearman rho of the oriented value against log scale; `inverse` = rho < 0 with p < 0.05, "
    "`rising` = rho > 0 with p < 0.05; `u_shaped` = the minimum of the curve smoothed by a 3-point moving "
    "average (5+ scales; raw otherwise) lies at an interior scale and that point's CI upper bound is below "
    "the CI lower bounds of the best points on both sides (`inverted_u` mirrored; both -> `mixed`); these "
    "take precedence over rising/inverse; `flat` = no significant trend and all CIs share a common value (or "
    "the curve is constant); else `none`. Without point CIs no u/inverted-u/flat-by-CI flag is given."
)
JUMP_RULE = (
    "jump test: each metric is judged on its link scale (token_loss: log; token_prob, choice_prob, "
    "exact_match: log(-log p); token_edit_distance: log(-log(1 - TED/L)); brier: the correct-choice "
    "probability it implies with the other choices sharing the rest; accuracies: logit above chance), where "
    "the smooth case of the mirage model is a straight line in log scale. Each model is predicted by the "
    "line through its 3 next-smaller models that are resolved on that scale (interval clear of the floor "
    "and the ceiling); a miss is how far a model beats its prediction (natural-log units: log 2 is twice as "
    "good). p tests 'no miss larger than log 2' against curves made of the straight-line fit plus this "
    "curve's own noise (its paired bootstrap deviations; binomial draws from n, or normal draws from the "
    "stderr, for aggregate points), each miss studentised by its own null spread (max-t over the models; "
    "a Gumbel tail beyond the replicates, p below 1e-12 reported as 1e-12), adjusted by Benjamini-Hochberg "
    "at 5% over the triplets computed in this run of the same kind (discontinuous, continuous; --task, "
    "--family and --metric restrict what is computed). `jump`: a miss of at least log 2 and p_adj < 0.05; "
    "`inconclusive`: such a miss otherwise; `smooth`: every miss below log 2; `unresolved`: fewer than 3 "
    "points resolved on the link scale; `too few scales`: fewer than 5; `not on this axis`: fewer than 3 "
    "distinct values; `tied scales`: two models at one value"
)
APPARENT_RULE = (
    "apparent jump (discontinuous metrics, raw scale): the largest amount by which a model beats the line "
    "through all smaller models, as a share of the curve's range; it looks like a jump when that share is "
    "at least 20% and the model's interval lies above the line; the jump is placed at the largest step"
)


# --------------------------------------------------------------------------------- breakthroughness


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
        # (a row with a NaN, whose size is NaN here and is left undivided, scores NaN below)
        size = np.abs(y).max(axis=1, keepdims=True)
        y = y / np.where((size > 0) & np.isfinite(size), size, 1.0)
        rows = np.arange(y.shape[0])
        highest, lowest = np.argmax(y, axis=1), np.argmin(y, axis=1)
        span = y[rows, highest] - y[rows, lowest]  # the max and the min, read where they were found
        sign = np.sign(highest - lowest).astype(float)
        denominator = np.sqrt(_row_medians(np.diff(y, axis=1) ** 2))
        score = sign * span / denominator
    zero = denominator == 0
    score[zero] = np.where(span[zero] > 0, np.copysign(np.inf, sign[zero]), 0.0)
    score[np.isnan(y).any(axis=1)] = np.nan
    return score


def _row_medians(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=1)`` bit for bit for 1+ columns of squares (the middle value, or the mean of
    the two middle ones; NaN for a row with a NaN; a -0.0 may come out as 0.0), from one sort of the rows:
    np.median's partition and checks cost 5x as much on the (B, M) replicate rows, a sixth of the emergence
    stage on a tree of checkpoints."""
    ordered = np.sort(values, axis=1)
    half = values.shape[1] // 2
    odd = values.shape[1] % 2
    middle = ordered[:, half] if odd else (ordered[:, half - 1] + ordered[:, half]) / 2.0
    return np.where(np.isnan(ordered[:, -1]), np.nan, middle)  # NaN sorts last


def emergence_score(y: np.ndarray) -> float:
    """Emergence score (BIG-bench breakthroughness) of one curve, higher-is-better, at ascending scales."""
    return float(emergence_scores(np.asarray(y, dtype=float)[None, :])[0])


def _quantiles(samples: np.ndarray, level: float) -> tuple[float | None, float | None]:
    """Percentile interval by order statistics (no interpolation: infinite replicate scores stay defined)."""
    samples = samples[~np.isnan(samples)]
    if samples.size < 2:
        return None, None
    tail = (1.0 - level) / 2.0
    # np.quantile(samples, [tail, 1 - tail], method="inverted_cdf"), its order statistics picked as it picks
    # them (the virtual index n q - 1, rounded up unless whole), without its checks (a twentieth of the stage)
    index = samples.size * np.array([tail, 1.0 - tail]) - 1
    below = np.floor(index)
    at = np.maximum(np.where(index - below == 0, below, below + 1), 0).astype(np.intp)
    lo, hi = np.partition(samples, at)[at]
    return float(lo), float(hi)


# ------------------------------------------------------------------------------------------- trend


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


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average (``scipy.stats.rankdata``'s default, exact half-integers)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, values.size))
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(starts + 1 + (counts - 1) / 2, counts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Spearman's rho of two 1-d float arrays and its two-sided p, bit for bit what ``scipy.stats.spearmanr``
    gives (NaN, NaN for fewer than 2 points, a constant input or a NaN), without its per-call overhead (an
    eighth of the emergence stage on a tree of checkpoints): Pearson's r of the average ranks as
    ``np.corrcoef`` computes it (the centred ranks' sums of products are exact: multiples of 1/4), clipped to
    [-1, 1]; t = r sqrt(dof / ((1 + r)(1 - r))) on n - 2 degrees of freedom (infinite at |r| = 1, p = 0),
    p = 2 stdtr(dof, -|t|). ``tests/equivalence/test_emergence_paths.py`` holds it equal to scipy."""
    from scipy import special  # scipy loads on first use: the app's process reads statuses only

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = a.size
    if n <= 1 or (a[0] == a).all() or (b[0] == b).all() or np.isnan(a).any() or np.isnan(b).any():
        return math.nan, math.nan
    ranks_a, ranks_b = _average_ranks(a), _average_ranks(b)
    ranks_a -= ranks_a.mean()
    ranks_b -= ranks_b.mean()
    scale = np.true_divide(1, n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (float(ranks_a @ ranks_b) * scale) / np.sqrt(float(ranks_b @ ranks_b) * scale)
        r = np.minimum(np.maximum(r / np.sqrt(float(ranks_a @ ranks_a) * scale), -1.0), 1.0)
        dof = n - 2
        t = r * np.sqrt(np.maximum(dof / ((r + 1.0) * (1.0 - r)), 0.0))
    return float(r), float(2 * special.stdtr(dof, -abs(t)))


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
        rho, p = spearman(np.log10(x), y)
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


# ------------------------------------------------------------------------------------------- curves


@dataclass(frozen=True, eq=False)
class Curve:
    """One family x task x metric at ascending scale: raw values, their intervals and replicates."""

    family: str
    task: str
    metric: str
    kind: str | None
    direction: int
    binary: bool
    chance: float | None
    models: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray  # the point's interval (exact/Wilson for 0/1 metrics, else bootstrap), NaN if none
    hi: np.ndarray
    n: np.ndarray  # items per point, NaN if unknown
    stderr: np.ndarray
    replicates: np.ndarray | None  # (B, M) paired bootstrap means, or None
    skipped: int  # models with no value or no scale on this axis

    @property
    def oriented(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(y, lo, hi) with higher better."""
        if self.direction > 0:
            return self.y, self.lo, self.hi
        return -self.y, -self.hi, -self.lo


@dataclass(frozen=True)
class JudgeSettings:
    """How curves are judged; ``ci`` is the level of the emergence-score CI (``--ci``)."""

    x: str = S.PARAMS
    ci: float = 0.95
    seed: int = 0
    fdr: float = FDR_LEVEL
    effect: float = JUMP_EFFECT


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


def _column(frame: pl.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(frame.height, np.nan)
    return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


def _intervals(frame: pl.DataFrame, binary: bool, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Each point's interval: the binomial one for 0/1 metrics, else the bootstrap's, else value +- z se."""
    lo, hi = _column(frame, S.LO), _column(frame, S.HI)
    if binary:
        b_lo, b_hi = _column(frame, S.BINOM_LO), _column(frame, S.BINOM_HI)
        has = np.isfinite(b_lo) & np.isfinite(b_hi)
        lo, hi = np.where(has, b_lo, lo), np.where(has, b_hi, hi)
    value, stderr = _column(frame, S.VALUE), _column(frame, S.STDERR)
    z = _normal_quantile(ci)
    missing = ~(np.isfinite(lo) & np.isfinite(hi)) & np.isfinite(stderr)
    lo = np.where(missing, value - z * stderr, lo)
    hi = np.where(missing, value + z * stderr, hi)
    return lo, hi


def curves(points: S.PointSet, x: str, ci: float = 0.95, *, replicates: bool = True) -> list[Curve]:
    """Every family x task x metric of ``points`` as a curve in ascending ``x`` (rows with no ``x`` or no
    value left out and counted). ``replicates=False`` leaves each curve's replicates out (None) for the
    caller to take one curve at a time (``with_replicates``): all curves' replicate matrices at once are
    B x the points (4 GB for 10,000 curves of 50 models at B = 1000).

    The columns are read once for the whole frame and cut per curve: the fast path of ``_curves_plain``,
    which reads each curve's rows on its own (``tests/equivalence/test_emergence_paths.py`` holds them
    equal)."""
    frame = points.frame
    _check_columns(frame, x)
    keys = [S.FAMILY, S.TASK, S.METRIC]
    ordered = frame.sort([*keys, x, S.MODEL], nulls_last=True)
    if ordered.height == 0:
        return []
    spans = (
        ordered.select(keys)
        .with_row_index("_row")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_row").first().alias("start"), pl.len().alias("length"))
    )
    used_all = (ordered[x].is_not_null() & ordered[S.VALUE].is_not_null()).to_numpy()
    x_all, y_all = _column(ordered, x), _column(ordered, S.VALUE)
    n_all, stderr_all = _column(ordered, S.N), _column(ordered, S.STDERR)
    models_all = ordered[S.MODEL].to_list()
    metric_binary = {m: bool(s.binary) for m, s in points.specs.items()}
    binary_all = np.array([metric_binary.get(m, False) for m in ordered[S.METRIC].to_list()], dtype=bool)
    lo_all, hi_all = _row_intervals(ordered, binary_all, ci)
    z = _normal_quantile(ci)
    stderr_all = np.where(np.isfinite(stderr_all), stderr_all, (hi_all - lo_all) / (2.0 * z))
    directions, kinds, chances = (_values(ordered, name) for name in ("direction", "kind", "chance"))
    out = []
    for family, task, metric, start, length in spans.iter_rows():
        stop = start + length
        key = (family, task, metric)
        spec = points.specs.get(metric)
        rows = np.arange(start, stop)[used_all[start:stop]]
        direction = next((d for d in directions[start:stop] if d is not None), None)
        if direction is None:
            direction = spec.direction if spec is not None else 1
        kind = next((k for k in kinds[start:stop] if k), None) or (spec.kind if spec else None)
        chance = next((c for c in chances[start:stop] if c is not None), None)
        if chance is None and spec is not None:
            chance = spec.chance
        models = [models_all[i] for i in rows]
        out.append(
            Curve(
                family=family,
                task=task,
                metric=metric,
                kind=kind,
                direction=-1 if direction < 0 else 1,
                binary=bool(spec.binary) if spec is not None else False,
                chance=chance,
                models=tuple(models),
                x=x_all[rows],
                y=y_all[rows],
                lo=lo_all[rows],
                hi=hi_all[rows],
                n=n_all[rows],
                stderr=stderr_all[rows],
                replicates=_replicate_matrix(points, key, models) if replicates else None,
                skipped=length - rows.size,
            )
        )
    return out


def _check_columns(frame: pl.DataFrame, x: str) -> None:
    for col in (S.FAMILY, S.TASK, S.METRIC, S.MODEL, S.VALUE, x):
        if col not in frame.columns:
            raise InputError(f"points have no {col!r} column: choose an x axis from {', '.join(S.SCALES)}")


def _row_intervals(frame: pl.DataFrame, binary: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """``_intervals`` of every row at once, ``binary`` per row."""
    lo, hi = _column(frame, S.LO), _column(frame, S.HI)
    b_lo, b_hi = _column(frame, S.BINOM_LO), _column(frame, S.BINOM_HI)
    has = binary & np.isfinite(b_lo) & np.isfinite(b_hi)
    lo, hi = np.where(has, b_lo, lo), np.where(has, b_hi, hi)
    value, stderr = _column(frame, S.VALUE), _column(frame, S.STDERR)
    z = _normal_quantile(ci)
    missing = ~(np.isfinite(lo) & np.isfinite(hi)) & np.isfinite(stderr)
    lo = np.where(missing, value - z * stderr, lo)
    hi = np.where(missing, value + z * stderr, hi)
    return lo, hi


def _curves_plain(points: S.PointSet, x: str, ci: float = 0.95, *, replicates: bool = True) -> list[Curve]:
    """``curves``, one curve's rows at a time (the plain procedure its fast path must equal)."""
    frame = points.frame
    _check_columns(frame, x)
    keys = [S.FAMILY, S.TASK, S.METRIC]
    ordered = frame.sort([*keys, x, S.MODEL], nulls_last=True)
    out = []
    for group in ordered.partition_by(keys, maintain_order=True):
        key = (group[S.FAMILY][0], group[S.TASK][0], group[S.METRIC][0])
        spec = points.specs.get(key[2])
        used = group.filter(pl.col(x).is_not_null() & pl.col(S.VALUE).is_not_null())
        direction = next((d for d in _values(group, "direction") if d is not None), None)
        if direction is None:
            direction = spec.direction if spec is not None else 1
        kind = next((k for k in _values(group, "kind") if k), None) or (spec.kind if spec else None)
        chance = next((c for c in _values(group, "chance") if c is not None), None)
        if chance is None and spec is not None:
            chance = spec.chance
        binary = bool(spec.binary) if spec is not None else False
        models = used[S.MODEL].to_list()
        lo, hi = _intervals(used, binary, ci)
        stderr = _column(used, S.STDERR)
        # an interval without a standard error (a table of lo/hi) still says how noisy the point is
        stderr = np.where(np.isfinite(stderr), stderr, (hi - lo) / (2.0 * _normal_quantile(ci)))
        out.append(
            Curve(
                family=key[0],
                task=key[1],
                metric=key[2],
                kind=kind,
                direction=-1 if direction < 0 else 1,
                binary=binary,
                chance=chance,
                models=tuple(models),
                x=used[x].cast(pl.Float64).to_numpy(),
                y=used[S.VALUE].cast(pl.Float64).to_numpy(),
                lo=lo,
                hi=hi,
                n=_column(used, S.N),
                stderr=stderr,
                replicates=_replicate_matrix(points, key, models) if replicates else None,
                skipped=group.height - used.height,
            )
        )
    return out


def with_replicates(curve: Curve, points: S.PointSet) -> Curve:
    """The curve with its replicate matrix from ``points``, as ``curves(replicates=True)`` gives it."""
    key = (curve.family, curve.task, curve.metric)
    return replace(curve, replicates=_replicate_matrix(points, key, list(curve.models)))


def _values(frame: pl.DataFrame, name: str) -> list:
    return frame[name].to_list() if name in frame.columns else []


@functools.lru_cache(maxsize=16)
def _normal_quantile(level: float) -> float:
    """z with P(|Z| < z) = level."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2.0))


# ------------------------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class LinkScale:
    """The link a curve is judged on, its domain, and which points it can place."""

    name: str
    lower: float
    upper: float
    note: str = ""


def link_scale(curve: Curve, spec: S.MetricSpec | None, length: float | None) -> LinkScale:
    """The curve's link and domain (an edit distance without a known target length is judged as a loss)."""
    spec = spec or S.MetricSpec(curve.metric, curve.direction, curve.kind or "continuous", curve.binary)
    finite = curve.y[np.isfinite(curve.y)]
    name = links.scale_for(spec, float(finite.max()) if finite.size else None)
    domain = links.bounds(name, curve.chance, length)
    if domain is None:
        note = f"{curve.metric}: link parameters unknown (target length or choices): judged on the log scale"
        name = links.LOG if curve.direction < 0 else links.IDENTITY
        domain = links.bounds(name, None, None)
        return LinkScale(name, domain[0], domain[1], note)
    return LinkScale(name, domain[0], domain[1])


def _clip_binary(values: np.ndarray, n: np.ndarray, scale: LinkScale) -> np.ndarray:
    """0/1 means kept half a count inside the domain, so a replicate of 0 of n stays on the link scale."""
    half = 0.5 / np.where(np.isfinite(n) & (n > 0), n, np.inf)
    width = scale.upper - scale.lower
    return np.clip(values, scale.lower + half * width, scale.upper - half * width)


def null_curves(
    curve: Curve, scale: LinkScale, z: np.ndarray, usable: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """Link values of smooth curves with this curve's noise: the straight-line fit to the usable points plus
    each paired bootstrap deviation, or draws around the line for aggregate points (binomial from n for 0/1
    metrics, normal from the stderr otherwise); None when the noise is unknown."""
    u = np.log10(curve.x)
    slope, intercept = line_fit(u[usable], z[usable])
    line = intercept + slope * u
    if curve.replicates is not None and curve.replicates.shape[0] >= 2:
        values = curve.replicates
        if curve.binary:
            values = _clip_binary(values, curve.n, scale)
        deviations = links.to_link(scale.name, values, scale.lower, scale.upper) - z[None, :]
        return line[None, :] + deviations
    smooth = links.from_link(scale.name, line, scale.lower, scale.upper)
    if curve.binary and np.isfinite(curve.n[usable]).all():
        n = np.where(np.isfinite(curve.n), curve.n, 1).astype(np.int64)
        share = np.clip((smooth - scale.lower) / (scale.upper - scale.lower), 0.0, 1.0)
        draws = scale.lower + (scale.upper - scale.lower) * rng.binomial(n, share, (NULL_DRAWS, n.size)) / n
        draws = _clip_binary(draws, curve.n, scale)
    elif np.isfinite(curve.stderr[usable]).all():
        draws = smooth + curve.stderr * rng.standard_normal((NULL_DRAWS, smooth.size))
    else:
        return None
    return links.to_link(scale.name, draws, scale.lower, scale.upper)


def _ties(curve: Curve) -> list[str]:
    """Groups of models sharing one value of the axis, as 'a, b (x=...)'."""
    groups: list[str] = []
    if np.unique(curve.x).size == curve.x.size:
        return groups
    for value in np.unique(curve.x):
        members = [m for m, v in zip(curve.models, curve.x, strict=True) if v == value]
        if len(members) > 1:
            groups.append(
                f"{', '.join(repr(m) for m in members[:4])}{' ...' if len(members) > 4 else ''} "
                f"at {value:.3g}"
            )
    return groups


def _head(curve: Curve, settings: JudgeSettings) -> dict[str, object]:
    """The columns of a curve's row that every status has."""
    return {
        S.FAMILY: curve.family,
        S.TASK: curve.task,
        S.METRIC: curve.metric,
        "kind": curve.kind,
        "x": settings.x,
        "n_models": len(curve.models),
        "n_scales": int(np.unique(curve.x).size),
    }


def _skipped(curve: Curve, settings: JudgeSettings) -> list[str]:
    return [f"skipped {curve.skipped} models with no {settings.x} or value"] if curve.skipped else []


def refusal(curve: Curve, settings: JudgeSettings) -> dict[str, object] | None:
    """The row of a curve that is not judged on this axis (``not on this axis``, ``tied scales``), else None:
    what ``judge`` returns for it, without the curve's replicates (``score_emergence`` takes them only for
    the curves it judges)."""
    row = _head(curve, settings)
    if row["n_scales"] < 3:
        row["status"] = NOT_ON_AXIS
    else:
        ties = _ties(curve)
        if not ties:
            return None
        row["status"] = TIED
        row["ties"] = "; ".join(ties)
    row["note"] = "; ".join(_skipped(curve, settings)) or None
    return row


def judge(
    curve: Curve,
    spec: S.MetricSpec | None,
    length: float | None,
    settings: JudgeSettings,
    rng: np.random.Generator,
) -> dict[str, object]:
    """Everything about one curve except the FDR adjustment (a row of ``score_emergence``'s frame)."""
    return refusal(curve, settings) or _judge_placed(curve, spec, length, settings, rng)


def _judge_placed(
    curve: Curve,
    spec: S.MetricSpec | None,
    length: float | None,
    settings: JudgeSettings,
    rng: np.random.Generator,
) -> dict[str, object]:
    """``judge`` of a curve ``refusal`` lets through (at least 3 distinct scales, none tied)."""
    row: dict[str, object] = _head(curve, settings)
    notes = _skipped(curve, settings)
    distinct = row["n_scales"]

    y, lo, hi = curve.oriented
    score = emergence_score(y)
    row["score"] = None if math.isnan(score) else score
    if curve.replicates is not None:
        row["lo"], row["hi"] = _quantiles(emergence_scores(curve.direction * curve.replicates), settings.ci)
    trend = classify_trend(curve.x, y, lo, hi)
    row.update(trend=trend.flag, spearman=trend.spearman, spearman_p=trend.spearman_p)
    if trend.note:
        notes.append(trend.note)

    scale = link_scale(curve, spec, length)
    if scale.note:
        notes.append(scale.note)
    row["scale"] = scale.name
    floor = scale.lower if scale.name in (links.LOG_LOG, links.LOGIT) else None
    known = np.isfinite(curve.lo) & np.isfinite(curve.hi)  # without an interval nothing says how far it is
    unresolved = known & ~resolved(curve.lo, curve.hi, floor) if floor is not None else np.zeros(y.size, bool)
    if scale.name == links.EDIT:  # an edit distance's floor is the worst end: every token wrong
        unresolved = known & ~(curve.hi < scale.upper)
    row["n_unresolved"] = int(unresolved.sum())
    row["unresolved"] = ", ".join(m for m, bad in zip(curve.models, unresolved, strict=True) if bad) or None

    u = np.log10(curve.x)
    z = links.to_link(scale.name, curve.y, scale.lower, scale.upper)
    has_interval = np.isfinite(curve.lo) & np.isfinite(curve.hi)
    usable = np.where(
        has_interval, links.inside(curve.lo, curve.hi, scale.lower, scale.upper), np.isfinite(z)
    ) & np.isfinite(z)
    row["n_usable"] = int(usable.sum())

    if curve.kind == "discontinuous":  # the raw-scale picture: how much of the rise comes above the trend
        raw_missed = misses_fast(u, y, np.isfinite(y), window=y.size)
        raw_jump, raw_at = largest_miss(raw_missed)
        span = float(np.ptp(y))
        if raw_at is not None and span > 0:
            row["apparent"] = raw_jump / span
            row["apparent_at"] = curve.models[int(np.argmax(np.diff(y))) + 1]  # where the largest step ends
            clears = not np.isfinite(lo[raw_at]) or raw_missed[raw_at] > y[raw_at] - lo[raw_at]
            row["apparent_jump"] = bool(raw_jump / span >= APPARENT_SHARE and clears)

    if distinct < MIN_SCALES:
        row["status"] = TOO_FEW
    elif trend.flag in TREND_STATUSES:
        row["pending"] = trend.flag  # unless the jump test finds a jump: a jump is the sharper finding
    elif usable.sum() < MIN_USABLE:
        row["status"] = UNRESOLVED
    weights = miss_weights(u, usable)  # the curve's and its null's misses are made the same way
    missed = misses_fast(u, z, usable, weights=weights)
    jump, at = largest_miss(missed)
    if at is not None:
        row["jump"], row["jump_at"] = jump, curve.models[at]
        null = null_curves(curve, scale, z, usable, rng)
        if null is None:
            notes.append("no noise estimate (no replicates, n or stderr): no p-value")
        elif jump >= settings.effect:
            null_missed = misses_matrix(u, null, usable, weights=weights)
            p_value, tested = jump_test(missed, null_missed, settings.effect)
            row["p_value"] = p_value
            if tested is not None:
                row["tested_at"], row["tested_jump"] = curve.models[tested], float(missed[tested])
        else:
            row["p_value"] = 1.0  # no miss reaches the effect: nothing to test
    row["note"] = "; ".join(notes) or None
    return row


def _same_numbers(curves_: list[Curve], registry: tuple[str, ...]) -> dict[int, str]:
    """Curves of one family x task that repeat another's numbers (index -> the metric kept): the
    registry's metric is kept over a pre-scored copy (lm-eval's acc is the computed mc_grade)."""
    out: dict[int, str] = {}
    by_task: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(curves_):
        by_task.setdefault((c.family, c.task), []).append(i)
    for members in by_task.values():
        order = {metric: rank for rank, metric in enumerate(registry)}  # the registry's order, then by name
        ranked = sorted(members, key=lambda i: (order.get(curves_[i].metric, len(order)), curves_[i].metric))
        for a, b in itertools.combinations(ranked, 2):
            if b in out or a in out:
                continue
            first, second = curves_[a], curves_[b]
            if (
                first.models == second.models
                and first.direction == second.direction
                and np.unique(first.y).size >= 3  # a constant curve (all 0) is not evidence of one quantity
                and np.allclose(first.y, second.y, rtol=1e-12, atol=0.0, equal_nan=True)
            ):
                out[b] = first.metric
    return out


def _factor(value: float) -> str:
    return f"{math.exp(value):.3g}x" if value < 50 else "more than 1e20x"


def sentence(row: Mapping[str, object], label: str) -> str:
    """The status of a curve in one sentence, with the numbers behind it (``label``: the link scale)."""
    status = row.get("status")
    metric = row[S.METRIC]
    if status == NOT_ON_AXIS:
        return f"{metric}: {row['n_models']} models at {row['n_scales']} value(s) of {row['x']}: no curve"
    if status == TIED:
        return (
            f"{metric}: models share a value of {row['x']} ({row.get('ties')}): one model per scale is "
            "needed; split the family (e.g. --map instruction_tuned=variant, or --family-from-name)"
        )
    if status == TOO_FEW:
        return f"{metric}: {row['n_scales']} scales cannot tell a step from a bend (5 or more needed)"
    if status == "inverse":
        p = row["spearman_p"]
        p_text = "p < 1e-4" if p < 1e-4 else f"p {p:.2g}"
        return f"inverse: {metric} gets worse with scale (Spearman rho {row['spearman']:.2f}, {p_text})"
    if status in ("u_shaped", "inverted_u", "mixed"):
        word = {"u_shaped": "U-shaped", "inverted_u": "inverted-U", "mixed": "both a dip and a peak"}[status]
        return f"{word}: {metric} is {word} in scale (the point intervals support it)"
    if status == UNRESOLVED:
        below = row.get("n_unresolved") or 0
        why = (
            f"{below} below resolution: too few items to judge"
            if below
            else "the others sit at its ends (0 or 1) or outside it, with no interval to say how far"
        )
        placed = f"only {row['n_usable']} of {row['n_models']} points can be placed on its {label}"
        return f"{metric}: {placed} ({why})"
    if isinstance(status, str) and status.startswith(SAME_AS):
        return f"{metric}: the same numbers as {status[len(SAME_AS) + 1 :]}, judged there"
    jump, at, p = row.get("jump"), row.get("jump_at"), row.get("p_adjusted")
    p_text = f"p_adj {p:.2g}" if isinstance(p, float) and not math.isnan(p) else "no noise estimate"
    if status == JUMP:
        better = f"{_factor(jump)} better than its smaller models predict"
        return f"{metric} jumps at {at}: {better} ({label}; {p_text})"
    if status == INCONCLUSIVE and p_text == "no noise estimate":
        return (
            f"{metric}: a {_factor(jump)} miss at {at} ({label}), but no n, stderr or replicates say how "
            "noisy the points are: it cannot be tested"
        )
    if status == INCONCLUSIVE:
        return f"{metric}: a {_factor(jump)} miss at {at}, not beyond the noise ({label}; {p_text})"
    if jump is None or (isinstance(jump, float) and math.isnan(jump)):
        return f"{metric}: smooth"
    return f"{metric} follows its smaller models' trend ({label}; largest miss {_factor(max(jump, 0.0))})"


_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "kind": pl.Utf8(),
    "x": pl.Utf8(),
    "status": pl.Utf8(),
    "sentence": pl.Utf8(),
    "scale": pl.Utf8(),
    "n_models": pl.Int64(),
    "n_scales": pl.Int64(),
    "n_usable": pl.Int64(),
    "n_unresolved": pl.Int64(),
    "unresolved": pl.Utf8(),
    "jump": pl.Float64(),
    "jump_at": pl.Utf8(),
    "p_value": pl.Float64(),
    "p_adjusted": pl.Float64(),
    "apparent": pl.Float64(),
    "apparent_at": pl.Utf8(),
    "apparent_jump": pl.Boolean(),
    "score": pl.Float64(),
    "lo": pl.Float64(),
    "hi": pl.Float64(),
    "trend": pl.Utf8(),
    "spearman": pl.Float64(),
    "spearman_p": pl.Float64(),
    "ties": pl.Utf8(),
    "note": pl.Utf8(),
}


def score_emergence(
    points: S.PointSet,
    x: str = S.PARAMS,
    ci: float = 0.95,
    seed: int = 0,
    lengths: Mapping[tuple[str, str], float] | None = None,
) -> pl.DataFrame:
    """A status, a sentence and the numbers behind them for every family x task x metric of ``points``.

    Columns in ``_SCHEMA``; the rules are in the module docstring and ``JUMP_RULE``. ``ci`` is the level of
    the emergence-score CI; ``lengths`` maps (family, task) to the mean target length in tokens (the edit
    distance's link needs it); ``seed`` seeds the null draws of aggregate points.
    """
    settings = JudgeSettings(x=x, ci=ci, seed=seed)
    lengths = lengths or {}
    all_curves = curves(points, x, ci, replicates=False)  # each curve's replicates are taken as it is judged
    registry = tuple(links.KNOWN_METRICS)  # kept over a copy: the registry's metric, earliest first
    same = _same_numbers(all_curves, registry)
    rows = []
    for i, curve in enumerate(all_curves):
        spec = points.specs.get(curve.metric)
        if i in same:
            row = {**_head(curve, settings), "status": f"{SAME_AS} {same[i]}"}
        else:  # the replicates are taken only for a curve that is judged
            row = refusal(curve, settings) or _judge_placed(
                with_replicates(curve, points),
                spec,
                lengths.get((curve.family, curve.task)),
                settings,
                np.random.default_rng([seed, i]),  # seeded by the curve's place: the same draws either way
            )
        rows.append(row)
    for kind in {r.get("kind") for r in rows}:  # one Benjamini-Hochberg family per kind of metric
        tested = [
            r for r in rows if r.get("kind") == kind and "status" not in r and _defined(r.get("p_value"))
        ]
        if tested:
            from scipy.stats import false_discovery_control

            adjusted = false_discovery_control([float(r["p_value"]) for r in tested], method="bh")
            for r, p in zip(tested, adjusted, strict=True):
                r["p_adjusted"] = float(p)
    for r in rows:
        if "status" not in r:
            r["status"] = _jump_status(r, settings)
        for scratch in ("tested_at", "tested_jump", "pending"):
            r.pop(scratch, None)
        r["sentence"] = sentence(r, links.LINKS[r["scale"]].label if r.get("scale") else "")
    return pl.DataFrame(rows, schema=_SCHEMA)


def _defined(value: object) -> bool:
    return isinstance(value, float) and not math.isnan(value)


def _jump_status(row: dict[str, object], settings: JudgeSettings) -> str:
    """smooth / jump / inconclusive; a jump is reported at the model that makes the case (``jump_test``)."""
    jump, p = row.get("jump"), row.get("p_adjusted")
    tested = _defined(p) and p < settings.fdr and row.get("tested_at")
    if _defined(jump) and jump >= settings.effect and tested:
        row["jump"], row["jump_at"] = row["tested_jump"], row["tested_at"]
        return JUMP
    if row.get("pending"):  # a trend that is not a rise, without a jump
        return str(row["pending"])
    return SMOOTH if not _defined(jump) or jump < settings.effect else INCONCLUSIVE
