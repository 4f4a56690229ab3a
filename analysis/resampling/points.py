"""Points with honest intervals: per family x model x task x metric a mean, n, an interval and replicates.

Per-sample metrics (docs/science.md section 4, docs/science.md section 4):

* the value is the mean over the model's items that have the metric (with replicates, such as seeds or epochs,
  the mean over replicates of each replicate's item mean); ``stderr`` is ``sd(ddof=1) / sqrt(n)`` of the
  per-item means, n the model's distinct items;
* 0/1 metrics: ``lo``/``hi`` is the exact Clopper-Pearson interval on k = value x n of n, whose coverage is at
  least the CI level at every true rate (the bootstrap's percentile interval is [0, 0] at 0 of n and covers
  10% of the time at n = 10, p = 0.01). ``binom_lo``/``binom_hi`` hold the same interval, the one the verdict
  stage reads. Under ``--resample-unit seed``/``run`` a point with 2+ replicates gets the hull of that
  interval and the two-level bootstrap's percentile interval (item noise exactly, seed noise by resampling);
* other metrics: ``lo``/``hi`` is the percentile interval of the bootstrap replicates;
* replicates (``PointSet.replicates``, for everything derived): a Bayesian bootstrap over items
  (``bootstrap``), paired by default (one draw of item weights per family x task for every model, replicate
  and metric), combined over each model's replicates by the resampling unit (``units``); 0/1 replicates carry
  a Jeffreys pseudo-observation, so they do not collapse at 0 of n;
* ``unit`` says what each interval resampled; ``resolved`` whether it excludes the floor (0, or chance) and
  ``items_to_resolve`` the test-set size that would resolve the point (``analysis.resolution``), at its value
  or, at or below the floor, at its interval's upper bound (``items_at``).

Aggregate rows: a 0/1 metric with n known gets the Clopper-Pearson interval and Jeffreys-posterior replicates
Beta(k + 1/2, n - k + 1/2) (independent per model); else a row with stderr gets ``value +- z stderr`` and
normal replicates; else no interval. Replicates of an aggregate point (seeds) are combined by the unit as
above; a point whose replicates carry neither n nor stderr has only its seed-level noise, which it uses at any
unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.metrics import guesses, spec_for, with_overrides
from analysis.options import ResampleSettings
from analysis.resampling.bootstrap import JEFFREYS, _bootstrap_groups, _percentiles
from analysis.resampling.intervals import exact_interval, normal_interval
from analysis.resampling.layout import _Group, _groups, subsampled
from analysis.resampling.seeds import stream
from analysis.resampling.units import ITEM, SEED, UNIT_RULE, Columns, combine, unit_of
from analysis.resolution import items_to_resolve, resolved
from analysis.schema import (
    BINOM_HI,
    BINOM_LO,
    FAMILY,
    FLOPS,
    HI,
    ITEMS_AT,
    ITEMS_TO_RESOLVE,
    LO,
    LOSS,
    METRIC,
    MODEL,
    N_REPLICATES,
    PARAMS,
    REPLICATE,
    RESOLVED,
    SCALES,
    SOURCE,
    STDERR,
    TASK,
    TOKENS,
    UNIT,
    VALUE,
    MetricSpec,
    N,
    PointSet,
    Replicates,
    ResultTable,
    ScoredSamples,
)

CHANCE = "chance"
KIND = "kind"
DIRECTION = "direction"

POINT_SCHEMA: dict[str, pl.DataType] = {
    FAMILY: pl.Utf8(),
    MODEL: pl.Utf8(),
    TASK: pl.Utf8(),
    METRIC: pl.Utf8(),
    PARAMS: pl.Float64(),
    TOKENS: pl.Float64(),
    FLOPS: pl.Float64(),
    LOSS: pl.Float64(),
    VALUE: pl.Float64(),
    LO: pl.Float64(),
    HI: pl.Float64(),
    N: pl.Int64(),
    STDERR: pl.Float64(),
    BINOM_LO: pl.Float64(),
    BINOM_HI: pl.Float64(),
    CHANCE: pl.Float64(),
    KIND: pl.Utf8(),
    DIRECTION: pl.Int64(),
    SOURCE: pl.Utf8(),
    UNIT: pl.Utf8(),
    N_REPLICATES: pl.Int64(),
    RESOLVED: pl.Boolean(),
    ITEMS_TO_RESOLVE: pl.Int64(),
    ITEMS_AT: pl.Utf8(),
}
MODEL_ORDER: tuple[str, ...] = (PARAMS, TOKENS, FLOPS, MODEL)
_REPLICATE_SEPARATOR = "\x1f"  # joins model and replicate label into one layout column

BINARY_INTERVAL_NOTE = (
    "0/1 metrics: lo/hi (and binom_lo/binom_hi, the same interval, which the verdicts read) are the exact "
    "Clopper-Pearson interval at the CI level on k = value x n of n items (coverage at least the level at "
    "every true rate; 0 of 1000 reads [0, 0.0037]); under --resample-unit seed/run a point with 2+ "
    "replicates gets the hull of it and the two-level bootstrap's percentile interval"
)
INTERVAL_HOLDS_POINT = (
    "lo/hi (per-sample metrics): the percentile interval of the bootstrap replicates, widened to hold the "
    "point's own value where skewed replicates at a low CI level would leave it outside"
)
RESOLUTION_NOTE = (
    "resolved: the point's interval excludes the floor (0, or chance for a multiple-choice score; wholly "
    "below chance counts as resolved); items_to_resolve: the smallest test set that would resolve the point "
    "from its floor with probability 0.95 under the exact interval (about 3/v from 0: the rule of three), "
    "at the point's value, or at its interval's upper bound when the value is at or below the floor "
    "(items_at); 0/1 metrics only"
)


def compute_points(
    scored: ScoredSamples,
    table: ResultTable,
    settings: ResampleSettings,
    *,
    layout: Sequence[_Group] | None = None,
    materialise: bool = False,
) -> PointSet:
    """Per family x model x task x metric: value, n and intervals, plus bootstrap replicates per group.

    ``layout``: ``sample_layout(scored)``, the per-sample frame laid out once without a subsample, for runs
    that differ only in seed, subsample or B (the same numbers as laying it out again, up to rounding).

    Aggregate groups' replicates are drawn again, from their own seeded stream, each time a stage reads them
    (``Replicates.draw``): held, they are B x the points (4 GB for 10,000 curves of 50 models at B = 1000),
    and each stage reads them one curve at a time. ``materialise`` holds them instead (the plain path: the
    same numbers, tests/equivalence/test_aggregate_memory.py).
    """
    parts = [sample_points(scored, settings, layout=layout)]
    return assemble_points(parts, scored, table, settings, materialise=materialise)


@dataclass(frozen=True, eq=False)
class SamplePoints:
    """The per-sample points of some family x task groups before assembly: one row per point, the replicates
    of each family x task x metric, and the notes their computation adds (``sample_points``)."""

    rows: tuple[dict[str, object], ...]
    replicates: dict[tuple[str, str, str], Replicates]
    notes: tuple[str, ...]


def sample_points(
    scored: ScoredSamples, settings: ResampleSettings, *, layout: Sequence[_Group] | None = None
) -> SamplePoints:
    """The per-sample points of ``scored``; every group's numbers depend only on its own rows (each family x
    task draws from its own seeded streams, ``seeds.stream``), so the rows can be scored and resampled a few
    tasks at a time and assembled once (``assemble_points``)."""
    rows: list[dict[str, object]] = []
    replicates: dict[tuple[str, str, str], Replicates] = {}
    notes: list[str] = []
    _sample_points(scored, settings, rows, replicates, notes, layout)
    return SamplePoints(tuple(rows), replicates, tuple(notes))


def assemble_points(
    parts: Sequence[SamplePoints],
    scored: ScoredSamples,
    table: ResultTable,
    settings: ResampleSettings,
    *,
    materialise: bool = False,
) -> PointSet:
    """The point set from per-sample points computed in ``parts`` (disjoint sets of family x task groups)
    and ``table``'s aggregate rows; ``scored`` gives the specs, chance levels and overrides of every part
    (its frame is not read). ``materialise``: as ``compute_points``."""
    notes: list[str] = list(dict.fromkeys(note for part in parts for note in part.notes))
    rows: list[dict[str, object]] = [row for part in parts for row in part.rows]
    replicates: dict[tuple[str, str, str], Replicates] = dict(
        sorted((item for part in parts for item in part.replicates.items()), key=lambda item: item[0])
    )
    specs = dict(scored.specs)

    single = _aggregate_points(
        table.aggregates, scored, settings, specs, rows, replicates, notes, materialise
    )

    frame = _rows_to_frame(rows)
    if single is not None:
        frame = pl.concat([frame, single], how="vertical")
    frame = frame.sort([FAMILY, TASK, METRIC, *MODEL_ORDER], nulls_last=True)
    frame = _with_resolution(frame, specs, settings.ci)
    if frame.height:
        notes += [UNIT_RULE, INTERVAL_HOLDS_POINT]
        if frame[RESOLVED].drop_nulls().len():
            notes += [BINARY_INTERVAL_NOTE, RESOLUTION_NOTE]
        replicated = frame.filter(pl.col(N_REPLICATES) > 1)
        if replicated.height and settings.unit == ITEM:
            notes.append(
                f"{replicated.height} points average 2+ replicates (seeds, epochs or repeats): their "
                "intervals cover item noise only (aggregate points without n or stderr excepted); "
                "--resample-unit seed adds the between-replicate noise"
            )
    notes += [f"kind guessed: {line}" for line in guesses(specs)]
    return PointSet(frame=frame, replicates=replicates, specs=specs, notes=tuple(notes))


def _with_resolution(frame: pl.DataFrame, specs: dict[str, MetricSpec], level: float) -> pl.DataFrame:
    """``resolved``, ``items_to_resolve`` and ``items_at`` of every 0/1 point (null for other metrics)."""
    if frame.height == 0:
        return frame
    binary = np.array([specs[m].binary if m in specs else False for m in frame[METRIC].to_list()])
    value, lo, hi = (frame[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in (VALUE, LO, HI))
    floor = frame[CHANCE].cast(pl.Float64).fill_null(0.0).to_numpy()
    is_resolved = np.zeros(frame.height, dtype=bool)
    for level_floor in np.unique(floor[binary]):  # one floor per call, as ``resolved`` takes
        rows = binary & (floor == level_floor)
        is_resolved[rows] = resolved(lo[rows], hi[rows], float(level_floor))
    needed: list[int | None] = [None] * frame.height
    at: list[str | None] = [None] * frame.height
    for i in np.flatnonzero(binary):
        above = value[i] > floor[i]
        rate = value[i] if above else hi[i]
        count = items_to_resolve(float(rate), float(floor[i]), level) if np.isfinite(rate) else None
        if count is not None:
            needed[i], at[i] = count, "value" if above else "upper bound"
    return frame.with_columns(
        pl.Series(RESOLVED, is_resolved, dtype=pl.Boolean).set(pl.Series(~binary), None),
        pl.Series(ITEMS_TO_RESOLVE, needed, dtype=pl.Int64),
        pl.Series(ITEMS_AT, at, dtype=pl.Utf8),
    )


def _layout_frame(frame: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """The scored frame with each (model, replicate) as one layout model when rows carry replicates."""
    if REPLICATE not in frame.columns or frame[REPLICATE].null_count() == frame.height:
        return frame, False
    joined = pl.concat_str([pl.col(MODEL), pl.col(REPLICATE).fill_null("")], separator=_REPLICATE_SEPARATOR)
    return frame.with_columns(joined.alias(MODEL)), True


def _columns(names: Sequence[str], replicated: bool) -> Columns:
    """The (model, replicate) pairs of layout columns named ``model<sep>replicate`` (or plain models)."""
    pairs = [tuple(name.split(_REPLICATE_SEPARATOR, 1)) if replicated else (name, "") for name in names]
    models = tuple(dict.fromkeys(model for model, _ in pairs))
    index = {model: i for i, model in enumerate(models)}
    owner = np.array([index[model] for model, _ in pairs], dtype=np.int64)
    return Columns(models, owner, tuple(label for _, label in pairs))


def _sample_points(
    scored: ScoredSamples,
    settings: ResampleSettings,
    rows: list[dict[str, object]],
    replicates: dict[tuple[str, str, str], Replicates],
    notes: list[str],
    layout: Sequence[_Group] | None = None,
) -> None:
    frame = scored.frame
    metrics = [m for m in scored.specs if m in frame.columns]
    if frame.height == 0 or not metrics:
        return
    laid_out, replicated = _layout_frame(frame)
    if layout is None:
        groups = _groups(laid_out, metrics, settings)
    else:
        groups = [g for g in (subsampled(group, settings) for group in layout) if g is not None]
    del laid_out
    if not groups:
        return
    if settings.subsample is not None:
        unit = "the same item ids for every model of a task" if settings.paired else "drawn per model"
        notes.append(
            f"subsample: each model evaluated on a seeded random {settings.subsample} of its items ({unit})"
        )
    if settings.bootstrap > 0:
        how = (
            "paired: one draw of item weights per family x task applied to every model, replicate and "
            "metric; a model missing an item averages over the items it has; tasks with the same item "
            "count reuse one weight draw through their own random permutation of items (each task's "
            "bootstrap is exact; replicates of different tasks are uncorrelated but not independent)"
            if settings.paired
            else "unpaired: each model resampled on its own; 0/1 metrics from Beta(k + 1/2, n - k + 1/2)"
        )
        notes.append(
            f"lo/hi of other per-sample metrics: {settings.ci:.0%} percentile interval of a Bayesian "
            f"bootstrap over items (Gamma(1) item weights), B={settings.bootstrap}, seed={settings.seed}, "
            f"{how}; 0/1 replicates carry a Jeffreys pseudo-observation (half an item right, half wrong, "
            "weights Gamma(1/2)), so a point at 0 of n is Beta(1/2, n + 1/2), not 0"
        )
    else:
        notes.append(
            "bootstrap off: 0/1 metrics keep their exact interval; other per-sample metrics have none"
        )
    notes.append(
        "stderr (per-sample metrics): sample standard deviation (ddof=1) of the item means / sqrt(n)"
    )

    all_reps = _bootstrap_groups(groups, scored.specs, settings) if settings.bootstrap > 0 else {}
    found: dict[tuple[str, str, str], Replicates] = {}
    for index, group in enumerate(groups):
        columns = _columns(group.models, replicated)
        first_column = np.unique(columns.owner, return_index=True)[1]
        reps = all_reps.get(index, {})
        for metric, matrix in group.values.items():
            spec = scored.specs[metric]
            value, n, stderr, counts = _sample_summary(matrix, columns)
            units = unit_of(columns, settings.unit) if replicated else np.full(len(n), ITEM)
            units = np.where(counts >= 2, units, ITEM)
            model_reps = None
            if metric in reps:
                model_reps = combine(
                    reps[metric], columns, settings.unit, settings.ci, settings.seed, group.family, group.task
                )
                found[(group.family, group.task, metric)] = Replicates(columns.models, model_reps)
            lo, hi, binom_lo, binom_hi, has_interval = _intervals(value, n, spec, model_reps, units, settings)
            chance = scored.chance.get((group.task, metric), spec.chance)
            for j, column in enumerate(first_column):
                if n[j] == 0:
                    continue
                rows.append(
                    {
                        **group.scales[column],
                        MODEL: columns.models[j],
                        FAMILY: group.family,
                        TASK: group.task,
                        METRIC: metric,
                        VALUE: value[j],
                        LO: lo[j],
                        HI: hi[j],
                        N: int(n[j]),
                        STDERR: stderr[j],
                        BINOM_LO: binom_lo[j],
                        BINOM_HI: binom_hi[j],
                        CHANCE: chance,
                        KIND: spec.kind,
                        DIRECTION: spec.direction,
                        SOURCE: "samples",
                        UNIT: units[j] if has_interval[j] else None,
                        N_REPLICATES: int(counts[j]),
                    }
                )
    replicates.update(sorted(found.items()))


def _sample_summary(
    matrix: np.ndarray, columns: Columns
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per model: value (mean over replicates of each replicate's item mean), n (distinct items), stderr of
    the per-item means, and the number of replicates with a value."""
    present = ~np.isnan(matrix)
    n_col = present.sum(axis=0)
    total = np.where(present, matrix, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        col_mean = np.where(n_col > 0, total / n_col, np.nan)
    if len(columns.owner) == len(columns.models):  # one replicate per model: the plain mean over items
        value, n, item_means = col_mean, n_col, matrix
        counts = (n_col > 0).astype(np.int64)
    else:
        value = columns.average(col_mean)
        onehot = np.zeros((len(columns.owner), len(columns.models)))
        onehot[np.arange(len(columns.owner)), columns.owner] = 1.0
        item_count = present @ onehot
        with np.errstate(divide="ignore", invalid="ignore"):
            item_means = np.where(
                item_count > 0, (np.where(present, matrix, 0.0) @ onehot) / item_count, np.nan
            )
        n = (item_count > 0).sum(axis=0)
        counts = ((n_col > 0) @ onehot).astype(np.int64)
    item_present = ~np.isnan(item_means)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(item_present, item_means, 0.0).sum(axis=0) / n
        squares = np.where(item_present, (item_means - centre) ** 2, 0.0).sum(axis=0)
        stderr = np.where(n > 1, np.sqrt(squares / (n - 1) / n), np.nan)
    return value, n, stderr, counts


def _intervals(
    value: np.ndarray,
    n: np.ndarray,
    spec: MetricSpec,
    model_reps: np.ndarray | None,
    units: np.ndarray,
    settings: ResampleSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """lo, hi, binom_lo, binom_hi and which points have an interval (the module docstring's rules)."""
    nan = np.full(len(n), np.nan)
    lo = hi = binom_lo = binom_hi = nan
    if model_reps is not None:
        lo, hi = _percentiles(model_reps, settings.ci)
        # a percentile interval of skewed replicates at a low level can miss the estimate itself: widen it to
        # hold the point (INTERVAL_HOLDS_POINT), so no table shows a value outside its own interval
        lo, hi = np.fmin(lo, value), np.fmax(hi, value)
    if spec.binary:
        exact_lo, exact_hi = exact_interval(np.clip(value, 0.0, 1.0) * n, n, settings.ci)
        hull = (units != ITEM) & np.isfinite(lo)
        binom_lo = np.where(hull, np.fmin(exact_lo, lo), exact_lo)
        binom_hi = np.where(hull, np.fmax(exact_hi, hi), exact_hi)
        lo, hi = binom_lo, binom_hi
    return lo, hi, binom_lo, binom_hi, np.isfinite(lo) & np.isfinite(hi)


def _aggregate_points(
    aggregates: pl.DataFrame,
    scored: ScoredSamples,
    settings: ResampleSettings,
    specs: dict[str, MetricSpec],
    rows: list[dict[str, object]],
    replicates: dict[tuple[str, str, str], Replicates],
    notes: list[str],
    materialise: bool = False,
) -> pl.DataFrame | None:
    """The aggregate rows' points: groups whose models have one row each as a frame (returned, computed at
    once by ``_single_points``), the others appended to ``rows`` (``_grouped_points``); replicates added to
    ``replicates`` in the order of their keys."""
    if aggregates.height == 0:
        return None
    frame = aggregates.select(
        pl.col(FAMILY).cast(pl.Utf8),
        pl.col(MODEL).cast(pl.Utf8),
        pl.col(TASK).cast(pl.Utf8),
        *[
            pl.col(s).cast(pl.Float64) if s in aggregates.columns else pl.lit(None, dtype=pl.Float64).alias(s)
            for s in SCALES
        ],
        pl.col(METRIC).cast(pl.Utf8),
        pl.col(VALUE).cast(pl.Float64),
        (pl.col(N).cast(pl.Int64) if N in aggregates.columns else pl.lit(None, dtype=pl.Int64).alias(N)),
        (
            pl.col(STDERR).cast(pl.Float64)
            if STDERR in aggregates.columns
            else pl.lit(None, dtype=pl.Float64).alias(STDERR)
        ),
        (
            pl.col(REPLICATE).cast(pl.Utf8).fill_null("")
            if REPLICATE in aggregates.columns
            else pl.lit("", dtype=pl.Utf8).alias(REPLICATE)
        ),
    )
    taken = {(r[FAMILY], r[MODEL], r[TASK], r[METRIC]) for r in rows}
    if taken:
        before = frame.height
        keys = pl.DataFrame(list(taken), schema=[FAMILY, MODEL, TASK, METRIC], orient="row")
        frame = frame.join(keys, on=[FAMILY, MODEL, TASK, METRIC], how="anti")
        if frame.height < before:
            notes.append(
                f"{before - frame.height} aggregate rows duplicate per-sample points and were left out"
            )
    guessed = sorted({m for m in frame[METRIC].unique().to_list() if m not in specs})
    specs.update(with_overrides({m: spec_for(m) for m in guessed}, scored.overrides))
    if guessed:
        notes.append(f"aggregate metrics described from their names only: {', '.join(guessed)}")
    notes.append(
        "aggregate rows: 0/1 metrics with n get the exact interval and Beta(k + 1/2, n - k + 1/2) replicates "
        "(independent per model); otherwise value +- z*stderr with normal replicates when stderr is known; "
        "a point with 2+ replicates (seeds) averages them, with stderr sd/sqrt(S) across them at the seed "
        "or run unit (or when they carry neither n nor stderr) and the mean of their stderrs at the item unit"
    )
    keys = [FAMILY, TASK, METRIC]
    identity = [FAMILY, TASK, METRIC, MODEL]
    alone = (pl.len().over(identity) == 1).all().over(keys) & pl.any_horizontal(
        pl.col(identity).is_null()
    ).not_().all().over(keys)
    frame = frame.with_columns(alone.alias("_alone"))
    found: dict[tuple[str, str, str], Replicates] = {}
    single_frame, fixed_groups = _single_points(
        frame.filter(pl.col("_alone")).drop("_alone"), scored, settings, specs, found, materialise
    )
    fixed_groups += _grouped_points(
        frame.filter(~pl.col("_alone")).drop("_alone"), scored, settings, specs, rows, found, materialise
    )
    replicates.update(sorted(found.items(), key=lambda item: tuple(str(v) for v in item[0])))
    if fixed_groups:
        notes.append(
            f"{fixed_groups} aggregate groups mix models with and without n/stderr: replicates hold the "
            "models without either fixed at their value"
        )
    return single_frame


def _single_points(
    frame: pl.DataFrame,
    scored: ScoredSamples,
    settings: ResampleSettings,
    specs: dict[str, MetricSpec],
    replicates: dict[tuple[str, str, str], Replicates],
    materialise: bool = False,
) -> tuple[pl.DataFrame | None, int]:
    """The points of aggregate groups in which every model has one row (no replicates), all at once: the fast
    path of ``_grouped_points``, with the same numbers (``tests/equivalence/test_aggregate_points.py``).

    With one row per model a point is its row: the value, n and stderr as they are, the normal interval (the
    exact one for a 0/1 row with n), unit ``item``; only the replicate draws stay per group (each group's
    own seeded stream, as ``_grouped_points`` draws them). Returns the frame and the groups whose models do
    not all have noise."""
    if frame.height == 0:
        return None, 0
    frame = frame.sort([FAMILY, TASK, METRIC, *MODEL_ORDER, REPLICATE], nulls_last=True)
    metric_specs = {m: specs[m] for m in frame[METRIC].unique().to_list()}
    metric = frame[METRIC]
    binary = _per_metric(metric, {m: bool(s.binary) for m, s in metric_specs.items()}, pl.Boolean).to_numpy()
    col_value = frame[VALUE].to_numpy().astype(np.float64)
    col_n = frame[N].to_numpy().astype(np.float64)
    stderr = frame[STDERR].to_numpy().astype(np.float64)
    binomial = binary & (col_n > 0) & np.isfinite(col_value)
    normal = ~binomial & np.isfinite(stderr) & np.isfinite(col_value)
    noisy = binomial | normal
    value = np.where(np.isfinite(col_value), col_value + 0.0, np.nan)  # + 0.0: -0 reads 0, as a mean does
    n = np.where(np.isfinite(col_n), col_n, np.nan)

    fixed_groups = 0
    if settings.bootstrap > 0:
        bounds = frame.select(FAMILY, TASK, METRIC).with_row_index("_row")
        spans = bounds.group_by(FAMILY, TASK, METRIC, maintain_order=True).agg(
            pl.col("_row").first().alias("start"), pl.len().alias("length")
        )
        models = frame[MODEL].to_list()
        for family, task, metric_name, start, length in spans.iter_rows():
            stop = start + length
            if not noisy[start:stop].any():
                continue
            key = (str(family), str(task), str(metric_name))
            draw = _SingleDraw(
                col_value[start:stop],
                col_n[start:stop],
                stderr[start:stop],
                binomial[start:stop],
                normal[start:stop],
                settings,
                key,
            )
            fixed_groups += int(not noisy[start:stop].all())
            group_models = tuple(str(m) for m in models[start:stop])
            # drawn on each read (as ``_AggregateDraw``) unless held: 4 GB held on a 10,000-curve table
            replicates[key] = (
                Replicates(group_models, draw()) if materialise else Replicates(group_models, draw=draw)
            )

    normal_lo, normal_hi = normal_interval(value, stderr, settings.ci)
    binom_n = np.where(binomial, n, np.nan)
    k = np.clip(value, 0.0, 1.0) * np.nan_to_num(binom_n)
    exact_lo, exact_hi = exact_interval(k, binom_n, settings.ci)
    lo = np.where(binomial, exact_lo, normal_lo)
    hi = np.where(binomial, exact_hi, normal_hi)
    chances = {
        (task, m): scored.chance.get((task, m), metric_specs[m].chance)
        for task, m in frame.select(TASK, METRIC).unique().iter_rows()
    }
    chance_keys = pl.DataFrame(
        [(task, m, c) for (task, m), c in chances.items()],
        schema={TASK: pl.Utf8, METRIC: pl.Utf8, CHANCE: pl.Float64},
        orient="row",
    )
    chance = frame.select(TASK, METRIC).join(
        chance_keys, on=[TASK, METRIC], how="left", maintain_order="left"
    )
    out = frame.select(FAMILY, MODEL, TASK, *SCALES, METRIC).with_columns(
        _floats(VALUE, value),
        _floats(LO, lo),
        _floats(HI, hi),
        pl.Series(N, np.where(np.isfinite(n), n, 0).astype(np.int64)).set(pl.Series(~np.isfinite(n)), None),
        _floats(STDERR, stderr),
        _floats(BINOM_LO, np.where(binomial, exact_lo, np.nan)),
        _floats(BINOM_HI, np.where(binomial, exact_hi, np.nan)),
        chance[CHANCE].fill_nan(None).alias(CHANCE),
        _per_metric(metric, {m: s.kind for m, s in metric_specs.items()}, pl.Utf8).alias(KIND),
        _per_metric(metric, {m: s.direction for m, s in metric_specs.items()}, pl.Int64).alias(DIRECTION),
        pl.lit("aggregate", dtype=pl.Utf8).alias(SOURCE),
        pl.Series(UNIT, np.full(frame.height, ITEM), dtype=pl.Utf8).set(pl.Series(~np.isfinite(lo)), None),
        pl.lit(1, dtype=pl.Int64).alias(N_REPLICATES),
    )
    columns = [
        pl.col(name).cast(dtype) if name in out.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in POINT_SCHEMA.items()
    ]
    return out.select(columns), fixed_groups


def _per_metric(metric: pl.Series, values: dict[str, object], dtype: pl.DataType) -> pl.Series:
    """``values[m]`` for each row's metric ``m``."""
    return metric.replace_strict(values, return_dtype=dtype)


def _floats(name: str, values: np.ndarray) -> pl.Series:
    """A Float64 column with NaN as null (``_clean``'s rule: 'unknown' has one representation)."""
    return pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)


def _grouped_points(
    frame: pl.DataFrame,
    scored: ScoredSamples,
    settings: ResampleSettings,
    specs: dict[str, MetricSpec],
    rows: list[dict[str, object]],
    replicates: dict[tuple[str, str, str], Replicates],
    materialise: bool = False,
) -> int:
    """The points of aggregate rows one family x task x metric at a time (any replicates), appended to
    ``rows``; returns the groups whose models do not all have noise."""
    if frame.height == 0:
        return 0
    partitions = frame.partition_by([FAMILY, TASK, METRIC], as_dict=True)
    fixed_groups = 0
    for key in sorted(partitions, key=lambda k: tuple(str(v) for v in k)):
        family, task, metric = (str(v) for v in key)
        part = partitions[key].sort([*MODEL_ORDER, REPLICATE], nulls_last=True)
        spec = specs[metric]
        columns = _columns(
            [f"{m}{_REPLICATE_SEPARATOR}{r}" for m, r in zip(part[MODEL], part[REPLICATE], strict=True)], True
        )
        point = _AggregatePoint.of(part, columns, spec, settings)
        model_reps = None
        if settings.bootstrap > 0 and point.noisy.any():
            draw = _AggregateDraw(point, columns, settings, family, task, metric)
            fixed_groups += int(not point.noisy.all())
            if materialise:
                model_reps = draw()
                replicates[(family, task, metric)] = Replicates(columns.models, model_reps)
            else:
                replicates[(family, task, metric)] = Replicates(columns.models, draw=draw)
                # only a model with 2+ replicates reads its interval from them (``intervals``)
                model_reps = draw() if (point.counts >= 2).any() else None
        lo, hi, binom_lo, binom_hi = point.intervals(model_reps, settings)
        chance = scored.chance.get((task, metric), spec.chance)
        identity = part.select(FAMILY, MODEL, TASK, *SCALES, METRIC)
        for m, j in enumerate(_first(columns).tolist()):
            row = identity.row(j, named=True)
            rows.append(
                {
                    **row,
                    VALUE: point.value[m],
                    N: None if not np.isfinite(point.n[m]) else int(point.n[m]),
                    STDERR: point.stderr[m],
                    LO: lo[m],
                    HI: hi[m],
                    BINOM_LO: binom_lo[m] if point.binomial[m] else None,
                    BINOM_HI: binom_hi[m] if point.binomial[m] else None,
                    CHANCE: chance,
                    KIND: spec.kind,
                    DIRECTION: spec.direction,
                    SOURCE: "aggregate",
                    UNIT: point.unit[m] if np.isfinite(lo[m]) else None,
                    N_REPLICATES: int(point.counts[m]),
                }
            )
    return fixed_groups


@dataclass(frozen=True, eq=False)
class _AggregatePoint:
    """The aggregate rows of one family x task x metric: per (model, replicate) column its value, n, stderr
    and which noise it has (``col_*``); per model its point (value, n, stderr, replicates, unit)."""

    col_value: np.ndarray
    col_n: np.ndarray
    col_stderr: np.ndarray
    col_binomial: np.ndarray  # a 0/1 value with n: Jeffreys-posterior draws
    col_normal: np.ndarray  # a value with a stderr: normal draws
    value: np.ndarray
    n: np.ndarray
    stderr: np.ndarray
    counts: np.ndarray  # replicates per model
    binomial: np.ndarray  # a 0/1 point with n: the exact interval
    seed_only: np.ndarray  # 2+ replicates without n or stderr: the seed level is its only noise
    unit: np.ndarray
    noisy: np.ndarray  # some noise is known (item level, or 2+ replicates)

    @classmethod
    def of(
        cls, part: pl.DataFrame, columns: Columns, spec: MetricSpec, settings: ResampleSettings
    ) -> _AggregatePoint:
        col_value = part[VALUE].to_numpy().astype(np.float64)
        col_n = part[N].to_numpy().astype(np.float64)  # nulls -> NaN
        col_stderr = part[STDERR].to_numpy().astype(np.float64)
        col_binomial = spec.binary & (col_n > 0) & np.isfinite(col_value)
        col_normal = ~col_binomial & np.isfinite(col_stderr) & np.isfinite(col_value)
        counts = columns.counts
        n_models = len(columns.models)
        value = columns.average(col_value)
        spread = np.full(n_models, np.nan)
        n = np.full(n_models, np.nan)
        item_stderr = np.full(n_models, np.nan)
        has_items = np.zeros(n_models, dtype=bool)
        for m in range(n_models):
            own = columns.owner == m
            if counts[m] >= 2:
                spread[m] = np.std(col_value[own], ddof=1) / np.sqrt(counts[m])
            if np.isfinite(col_n[own]).all():
                n[m] = col_n[own].min()  # the replicates' item count (the smallest when they differ)
            if col_normal[own].any():
                item_stderr[m] = np.nanmean(np.where(col_normal[own], col_stderr[own], np.nan))
            has_items[m] = (col_binomial[own] | col_normal[own]).all()
        binomial = spec.binary & (n > 0) & np.isfinite(value)
        seed_only = ~has_items & (counts >= 2)
        seed_level = (counts >= 2) & ((settings.unit != ITEM) | seed_only)
        unit = np.where(seed_level, np.where(seed_only & (settings.unit == ITEM), SEED, settings.unit), ITEM)
        single_stderr = col_stderr[_first(columns)]
        stderr = np.where(seed_level, spread, np.where(counts >= 2, item_stderr, single_stderr))
        noisy = has_items | (counts >= 2)
        return cls(
            col_value=col_value,
            col_n=col_n,
            col_binomial=col_binomial,
            col_normal=col_normal,
            col_stderr=col_stderr,
            value=value,
            n=n,
            stderr=stderr,
            counts=counts,
            binomial=binomial,
            seed_only=seed_only,
            unit=unit,
            noisy=noisy,
        )

    def draws(self, rng: np.random.Generator, n_replicates: int) -> np.ndarray:
        """Item-level replicates (B, columns) (``_draw``)."""
        return _draw(
            rng, n_replicates, self.col_value, self.col_n, self.col_stderr, self.col_binomial, self.col_normal
        )

    def intervals(
        self, model_reps: np.ndarray | None, settings: ResampleSettings
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """lo, hi, binom_lo, binom_hi per model (the module docstring's rules)."""
        normal_lo, normal_hi = normal_interval(self.value, self.stderr, settings.ci)
        single = self.counts < 2
        if model_reps is not None:
            rep_lo, rep_hi = _percentiles(model_reps, settings.ci)
            lo = np.where(single, normal_lo, rep_lo)
            hi = np.where(single, normal_hi, rep_hi)
        else:
            lo, hi = normal_lo, normal_hi
        n = np.where(self.binomial, self.n, np.nan)
        exact_lo, exact_hi = exact_interval(np.clip(self.value, 0.0, 1.0) * np.nan_to_num(n), n, settings.ci)
        hull = self.binomial & (self.unit != ITEM) & np.isfinite(lo)
        binom_lo = np.where(hull, np.fmin(exact_lo, lo), exact_lo)
        binom_hi = np.where(hull, np.fmax(exact_hi, hi), exact_hi)
        lo = np.where(self.binomial, binom_lo, lo)
        hi = np.where(self.binomial, binom_hi, hi)
        return lo, hi, binom_lo, binom_hi


@dataclass(frozen=True, eq=False)
class _AggregateDraw:
    """The replicates of one aggregate group, drawn from its own seeded stream: the same numbers on every
    call. Item-level draws (``_AggregatePoint.draws``) combined over each model's replicates by the unit; a
    model whose replicates carry neither n nor stderr takes the seed level at any unit.

    ``count``: only the first ``count`` replicates (the fits refit 200 of B = 1000). Every draw fills its
    array row by row from the stream, so the first rows of B are the rows of a smaller draw, and they are
    drawn alone where each model has one column (its replicates are its draws) and the group's noise is of
    one kind (the Jeffreys draws of all columns come before the normal ones); otherwise all B are drawn.
    """

    point: _AggregatePoint
    columns: Columns
    settings: ResampleSettings
    family: str
    task: str
    metric: str

    def __call__(self, count: int | None = None) -> np.ndarray:
        settings, columns, point = self.settings, self.columns, self.point
        family, task = self.family, self.task
        single = len(columns.owner) == len(columns.models)
        alone = single and _one_kind(point.col_binomial, point.col_normal)
        rows = _rows_to_draw(count, settings.bootstrap, alone)
        rng = stream(settings.seed, family, task, self.metric, "aggregate")
        draws = point.draws(rng, rows)
        model_reps = combine(draws, columns, settings.unit, settings.ci, settings.seed, family, task)
        if point.seed_only.any():  # no item-level noise: the seed level is all there is, at any unit
            by_seed = combine(draws, columns, SEED, settings.ci, settings.seed, family, task)
            model_reps = np.where(point.seed_only[None, :], by_seed, model_reps)
        return model_reps if count is None else model_reps[:count]


def _one_kind(binomial: np.ndarray, normal: np.ndarray) -> bool:
    """The group's noise is of one kind: its first rows of B are the rows of a smaller draw (``_draw`` draws
    all Jeffreys columns before the normal ones, so a mix shifts the stream)."""
    return not (binomial.any() and normal.any())


def _rows_to_draw(count: int | None, bootstrap: int, alone: bool) -> int:
    """Rows a draw makes for the first ``count`` replicates: only those when drawn alone, else B."""
    return count if alone and count is not None and count < bootstrap else bootstrap


@dataclass(frozen=True, eq=False)
class _SingleDraw:
    """The replicates of one aggregate group whose models have one row each (``_single_points``), drawn from
    its own seeded stream on each read: each model's draws are its replicates (the mean of one column).
    ``count``: only the first ``count`` rows, drawn alone when the group's noise is of one kind (as
    ``_AggregateDraw``)."""

    value: np.ndarray
    n: np.ndarray
    stderr: np.ndarray
    binomial: np.ndarray
    normal: np.ndarray
    settings: ResampleSettings
    key: tuple[str, str, str]

    def __call__(self, count: int | None = None) -> np.ndarray:
        bootstrap = self.settings.bootstrap
        rows = _rows_to_draw(count, bootstrap, _one_kind(self.binomial, self.normal))
        rng = stream(self.settings.seed, *self.key, "aggregate")
        draws = _draw(rng, rows, self.value, self.n, self.stderr, self.binomial, self.normal)
        model_reps = np.where(np.isfinite(draws), draws + 0.0, np.nan)  # combine's mean of one column
        return model_reps if count is None else model_reps[:count]


def _draw(
    rng: np.random.Generator,
    n_replicates: int,
    value: np.ndarray,
    n: np.ndarray,
    stderr: np.ndarray,
    binomial: np.ndarray,
    normal: np.ndarray,
) -> np.ndarray:
    """Item-level replicates (B, columns) of aggregate rows: the Jeffreys posterior for 0/1 rows with n
    (``binomial``), normal draws from the stderr for ``normal`` rows, the value itself when neither is
    known."""
    if normal.all():  # every row has a stderr (the common case): no tile, no masked write
        return value + rng.standard_normal((n_replicates, value.size)) * stderr
    out = np.tile(value, (n_replicates, 1))
    if binomial.any():  # the Jeffreys posterior, as the per-sample 0/1 replicates are marginally
        n_b = n[binomial]
        k_b = np.clip(value[binomial], 0.0, 1.0) * n_b
        out[:, binomial] = rng.beta(k_b + JEFFREYS, n_b - k_b + JEFFREYS, size=(n_replicates, len(n_b)))
    if normal.any():
        noise = rng.standard_normal((n_replicates, int(normal.sum())))
        out[:, normal] = value[normal] + noise * stderr[normal]
    return out


def _first(columns: Columns) -> np.ndarray:
    """Each model's first column."""
    return np.unique(columns.owner, return_index=True)[1]


def sample_layout(scored: ScoredSamples) -> list[_Group]:
    """The per-sample frame as items x models matrices without a subsample (``compute_points(layout=)``),
    each (model, replicate) one layout model as ``_sample_points`` lays it out."""
    metrics = [m for m in scored.specs if m in scored.frame.columns]
    if scored.frame.height == 0 or not metrics:
        return []
    laid_out, _ = _layout_frame(scored.frame)
    return _groups(laid_out, metrics, ResampleSettings(bootstrap=0))


# ------------------------------------------------------------------------------------------------ assembly


def _rows_to_frame(rows: Sequence[dict[str, object]]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=POINT_SCHEMA)
    columns = {
        name: pl.Series(name, [_clean(row.get(name)) for row in rows], dtype=dtype)
        for name, dtype in POINT_SCHEMA.items()
    }
    return pl.DataFrame(columns)


def _clean(value: object) -> object:
    """Python scalars for polars; NaN becomes null so that 'unknown' has one representation."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
