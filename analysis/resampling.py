"""Points with honest intervals: per family x model x task x metric a mean, n and a bootstrap/binomial CI.

Per-sample metrics (SCIENCE.md section 4):

* the value is the mean over the model's items that have the metric, ``stderr`` is ``sd(ddof=1) / sqrt(n)``;
* ``lo``/``hi`` is a percentile bootstrap over items. Paired (the default): per family x task ONE draw of item
  ids over the union of the task's items is applied to every model and every metric, so between-model and
  between-metric comparisons on a replicate are honest. A model missing some drawn items averages over
  the drawn items it has (a ratio estimator, ``counts @ values / counts @ present``); a replicate that drew
  none of its items is NaN and ignored by the percentiles. Unpaired: each model (and metric) is resampled
  on its own; a 0/1 metric then draws ``Binomial(n, p_hat) / n`` directly;
* the draws are resample-count matrices (B x items) multiplied into items x models value matrices, in
  chunks of B to bound memory. When every metric of a task is 0/1, items with identical rows are
  exchangeable, so the counts are drawn as a multinomial over the distinct rows (exact, and far cheaper
  when models are few);
* 0/1 metrics also get ``binom_lo``/``binom_hi``: the Wilson interval, which unlike the bootstrap does not
  collapse to [0, 0] at 0 of n.

Aggregate rows: a 0/1 metric with n known gets the Wilson interval and binomial replicates (independent per
model); else a row with stderr gets ``value +- z stderr`` and normal replicates; else no interval.

Random streams are seeded from ``(seed, family, task[, metric])``, so a group's numbers do not depend on which
other groups are present, and the same seed gives the same numbers exactly.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.errors import InputError
from analysis.intervals import normal_interval, wilson_interval
from analysis.metrics import METRICS, direction_from_name
from analysis.options import ResampleSettings
from analysis.schema import (
    BINOM_HI,
    BINOM_LO,
    FAMILY,
    FLOPS,
    HI,
    ITEM,
    LO,
    LOSS,
    METRIC,
    MODEL,
    PARAMS,
    SCALES,
    SOURCE,
    STDERR,
    TASK,
    TOKENS,
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
}
MODEL_ORDER: tuple[str, ...] = (PARAMS, TOKENS, FLOPS, MODEL)

# count-matrix entries per chunk of replicates (2**22 float64 = 32 MB)
_CHUNK_ENTRIES = 1 << 22
# multinomial over distinct rows costs ~3x a uniform index draw per class, so collapse only below this ratio
_COLLAPSE_RATIO = 3

# Aggregate metrics that metrics.py does not describe get a spec guessed from the name (noted in the output).
_BINARY_NAMES = frozenset(
    {"acc", "acc_norm", "exact_match", "em", "mc_grade", "accuracy", "multiple_choice_grade"}
)


def compute_points(scored: ScoredSamples, table: ResultTable, settings: ResampleSettings) -> PointSet:
    """Per family x model x task x metric: value, n and intervals, plus bootstrap replicates per group."""
    _check_settings(settings)
    notes: list[str] = []
    rows: list[dict[str, object]] = []
    replicates: dict[tuple[str, str, str], Replicates] = {}
    specs = dict(scored.specs)

    _sample_points(scored, settings, rows, replicates, notes)
    _aggregate_points(table.aggregates, scored, settings, specs, rows, replicates, notes)

    frame = _rows_to_frame(rows)
    frame = frame.sort([FAMILY, TASK, METRIC, *MODEL_ORDER], nulls_last=True)
    return PointSet(frame=frame, replicates=replicates, specs=specs, notes=tuple(notes))


def _check_settings(settings: ResampleSettings) -> None:
    if settings.bootstrap < 0:
        raise InputError(f"--bootstrap must be 0 (off) or a positive count, got {settings.bootstrap}")
    if not 0.0 < settings.ci < 1.0:
        raise InputError(f"--ci must be a level between 0 and 1 such as 0.95, got {settings.ci}")
    if settings.subsample is not None and settings.subsample < 1:
        raise InputError(f"--subsample must be a positive number of items, got {settings.subsample}")


def _rng(seed: int, *labels: str) -> np.random.Generator:
    """A generator keyed by the seed and the group's names, stable across runs and Python processes."""
    digest = hashlib.blake2b("\x1f".join(labels).encode("utf-8"), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), *words]))


# ----------------------------------------------------------------------------------------------- per-sample


@dataclass(frozen=True)
class _Group:
    """One family x task as matrices: ``values[metric]`` is items x models, NaN where missing."""

    family: str
    task: str
    models: tuple[str, ...]  # in replicate order: ascending params, tokens, flops, then name
    scales: tuple[dict[str, float | None], ...]  # per model: params, tokens, flops, loss (None when unknown)
    values: dict[str, np.ndarray]


def _sample_points(
    scored: ScoredSamples,
    settings: ResampleSettings,
    rows: list[dict[str, object]],
    replicates: dict[tuple[str, str, str], Replicates],
    notes: list[str],
) -> None:
    frame = scored.frame
    metrics = [m for m in scored.specs if m in frame.columns]
    if frame.height == 0 or not metrics:
        return
    groups = _groups(frame, metrics, settings)
    if not groups:
        return
    if settings.subsample is not None:
        unit = "the same item ids for every model of a task" if settings.paired else "drawn per model"
        notes.append(
            f"subsample: each model evaluated on a seeded random {settings.subsample} of its items ({unit})"
        )
    if settings.bootstrap > 0:
        how = (
            "paired: one draw of item ids per family x task applied to every model and metric; a model "
            "missing a drawn item averages over the drawn items it has"
            if settings.paired
            else "unpaired: each model resampled on its own; 0/1 metrics drawn as Binomial(n, p_hat)/n"
        )
        notes.append(
            f"lo/hi (per-sample metrics): {settings.ci:.0%} percentile bootstrap over items, "
            f"B={settings.bootstrap}, seed={settings.seed}, {how}"
        )
    else:
        notes.append("bootstrap off: lo/hi are the Wilson interval for 0/1 metrics and empty otherwise")
    if any(scored.specs[m].binary for m in metrics):
        notes.append(f"binom_lo/binom_hi: {settings.ci:.0%} Wilson score interval for 0/1 metrics")
    notes.append("stderr (per-sample metrics): sample standard deviation (ddof=1) / sqrt(n)")

    for group in groups:
        reps = _bootstrap_group(group, scored.specs, settings) if settings.bootstrap > 0 else {}
        model_names = group.models
        for metric, matrix in group.values.items():
            spec = scored.specs[metric]
            present = ~np.isnan(matrix)
            n = present.sum(axis=0)
            total = np.where(present, matrix, 0.0).sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = total / n
                squares = np.where(present, (matrix - mean) ** 2, 0.0).sum(axis=0)
                stderr = np.where(n > 1, np.sqrt(squares / (n - 1) / n), np.nan)
            binom_lo = binom_hi = np.full(len(n), np.nan)
            if spec.binary:
                binom_lo, binom_hi = wilson_interval(total, n, settings.ci)
            if metric in reps:
                lo, hi = _percentiles(reps[metric], settings.ci)
                replicates[(group.family, group.task, metric)] = Replicates(model_names, reps[metric])
            elif spec.binary:
                lo, hi = binom_lo, binom_hi
            else:
                lo = hi = np.full(len(n), np.nan)
            chance = scored.chance.get((group.task, metric), spec.chance)
            for j, scales in enumerate(group.scales):
                if n[j] == 0:
                    continue
                rows.append(
                    {
                        **scales,
                        MODEL: group.models[j],
                        FAMILY: group.family,
                        TASK: group.task,
                        METRIC: metric,
                        VALUE: mean[j],
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
                    }
                )


def _groups(frame: pl.DataFrame, metrics: list[str], settings: ResampleSettings) -> list[_Group]:
    """Split the wide per-sample frame into family x task matrices (after the subsample, if any).

    Polars does one pass (64-bit hashes of the group, model and item names, one integer arg-sort); each group
    is then a contiguous slice of numpy arrays. Items are ordered by the hash of their id and models by scale,
    so the numbers do not depend on the order of the input rows.
    """
    scale_columns = [
        pl.col(s).cast(pl.Float64) if s in frame.columns else pl.lit(None, dtype=pl.Float64).alias(s)
        for s in SCALES
    ]
    frame = frame.select(
        pl.col(FAMILY).cast(pl.Utf8),
        pl.col(MODEL).cast(pl.Utf8),
        pl.col(TASK).cast(pl.Utf8),
        *scale_columns,
        pl.col(ITEM).cast(pl.Utf8),
        *[pl.col(m).cast(pl.Float64).fill_nan(None) for m in metrics],
        pl.struct(FAMILY, TASK).hash(seed=0).alias("_group"),
        pl.col(MODEL).hash(seed=0).alias("_model"),
        pl.col(ITEM).hash(seed=0).alias("_item"),
    )
    rows = frame["_group"].arg_sort().to_numpy()  # only numeric arrays are reordered; strings are looked up
    group_keys = frame["_group"].to_numpy()[rows]
    model_keys = frame["_model"].to_numpy()[rows]
    item_keys = frame["_item"].to_numpy()[rows]
    scales = np.column_stack([frame[s].to_numpy()[rows] for s in SCALES])
    metric_values = {m: frame[m].to_numpy()[rows] for m in metrics}
    bounds = np.flatnonzero(np.diff(group_keys)) + 1
    groups = []
    for start, stop in zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(group_keys)].tolist(), strict=True):
        family, task = frame[FAMILY][int(rows[start])], frame[TASK][int(rows[start])]
        _, first_rows, model_index = np.unique(model_keys[start:stop], return_index=True, return_inverse=True)
        _, item_index = np.unique(item_keys[start:stop], return_inverse=True)
        model_column = frame[MODEL]
        names = [model_column[int(i)] for i in rows[start + first_rows]]
        model_scales = scales[start + first_rows]
        order = sorted(
            range(len(names)),
            key=lambda j: (
                *((np.isnan(v), 0.0 if np.isnan(v) else v) for v in model_scales[j, :3]),
                names[j],
            ),
        )
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        model_index = rank[model_index]
        n_items, n_models = int(item_index.max()) + 1, len(names)
        cell_counts = np.bincount(item_index * n_models + model_index, minlength=n_items * n_models)
        if cell_counts.max() > 1:
            bad = int(np.argmax(cell_counts))
            at = np.flatnonzero((item_index == bad // n_models) & (model_index == bad % n_models))[0]
            row = int(rows[start + at])
            raise InputError(
                f"scored samples: duplicate rows for family {family!r}, task {task!r}, model "
                f"{frame[MODEL][row]!r}, item {frame[ITEM][row]!r}; keep one row per model x task x item"
            )
        has_row = (cell_counts > 0).reshape(n_items, n_models)
        keep = _subsample_mask(has_row, settings, family, task)
        values = {}
        for metric in metrics:
            matrix = np.full((n_items, n_models), np.nan)
            matrix[item_index, model_index] = metric_values[metric][start:stop]
            matrix[~keep] = np.nan
            if not np.isnan(matrix).all():
                values[metric] = matrix
        if values:
            ordered_scales = tuple(
                {s: None if np.isnan(v) else float(v) for s, v in zip(SCALES, model_scales[j], strict=True)}
                for j in order
            )
            groups.append(_Group(family, task, tuple(names[j] for j in order), ordered_scales, values))
    return groups


def _subsample_mask(has_row: np.ndarray, settings: ResampleSettings, family: str, task: str) -> np.ndarray:
    """Which (item, model) cells survive ``--subsample n'``; paired picks n' ids from the task's items."""
    if settings.subsample is None:
        return has_row
    size = settings.subsample
    rng = _rng(settings.seed, family, task, "subsample")
    keep = np.zeros_like(has_row)
    if settings.paired:
        union = np.flatnonzero(has_row.any(axis=1))
        chosen = union if size >= len(union) else rng.choice(union, size=size, replace=False)
        keep[chosen] = True
        return keep & has_row
    for j in range(has_row.shape[1]):
        own = np.flatnonzero(has_row[:, j])
        chosen = own if size >= len(own) else rng.choice(own, size=size, replace=False)
        keep[chosen, j] = True
    return keep


def _bootstrap_group(
    group: _Group, specs: dict[str, MetricSpec], settings: ResampleSettings
) -> dict[str, np.ndarray]:
    """Replicate means (B x models) for every metric of one family x task."""
    if settings.paired:
        return _paired(group, specs, settings)
    return {
        metric: _unpaired(
            matrix, specs[metric].binary, settings, _rng(settings.seed, group.family, group.task, metric)
        )
        for metric, matrix in group.values.items()
    }


def _paired(group: _Group, specs: dict[str, MetricSpec], settings: ResampleSettings) -> dict[str, np.ndarray]:
    metrics = list(group.values)
    stacked = np.hstack([group.values[m] for m in metrics])
    present = ~np.isnan(stacked)
    used = present.any(axis=1)
    stacked, present = stacked[used], present[used]
    values = np.where(present, stacked, 0.0)
    n_items = values.shape[0]
    rng = _rng(settings.seed, group.family, group.task, "paired")
    weights = None
    if all(specs[m].binary for m in metrics):
        patterns = np.hstack([values, present]).astype(bool)
        if patterns.shape[1] <= 62:  # rows as bit patterns in one int64, so the collapse is a 1-d unique
            keys = patterns.astype(np.int64) @ (np.int64(1) << np.arange(patterns.shape[1], dtype=np.int64))
            _, first, counts = np.unique(keys, return_index=True, return_counts=True)
            if len(first) * _COLLAPSE_RATIO < n_items:
                values, present, weights = values[first], present[first], counts
    denominators = None if present.all() else present.astype(np.float64)
    sums, totals = _resampled_sums(rng, values, denominators, weights, n_items, settings.bootstrap)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = sums / totals
    n_models = len(group.models)
    return {m: means[:, i * n_models : (i + 1) * n_models] for i, m in enumerate(metrics)}


def _resampled_sums(
    rng: np.random.Generator,
    values: np.ndarray,
    present: np.ndarray | None,
    weights: np.ndarray | None,
    n_draw: int,
    n_replicates: int,
) -> tuple[np.ndarray, np.ndarray | float]:
    """``counts @ values`` (and ``counts @ present``) for B resample-count rows, drawn in bounded chunks.

    With ``weights`` the rows of ``values`` are classes of identical items drawn as Multinomial(n, w / n);
    otherwise each replicate draws ``n_draw`` row indices uniformly with replacement.
    """
    n_rows = values.shape[0]
    chunk = max(1, min(n_replicates, _CHUNK_ENTRIES // max(n_rows, 1)))
    sums = np.empty((n_replicates, values.shape[1]))
    totals = np.empty_like(sums) if present is not None else float(n_draw)
    probabilities = None if weights is None else weights / weights.sum()
    for start in range(0, n_replicates, chunk):
        size = min(chunk, n_replicates - start)
        if probabilities is not None:
            counts = rng.multinomial(n_draw, probabilities, size=size).astype(np.float64)
        else:
            drawn = rng.integers(0, n_rows, size=(size, n_draw))
            drawn += (np.arange(size) * n_rows)[:, None]
            counts = (
                np.bincount(drawn.ravel(), minlength=size * n_rows).reshape(size, n_rows).astype(np.float64)
            )
        sums[start : start + size] = counts @ values
        if present is not None:
            totals[start : start + size] = counts @ present
    return sums, totals


def _unpaired(
    matrix: np.ndarray, binary: bool, settings: ResampleSettings, rng: np.random.Generator
) -> np.ndarray:
    """Replicate means drawn independently per model (column of ``matrix``)."""
    present = ~np.isnan(matrix)
    n = present.sum(axis=0)
    n_replicates = settings.bootstrap
    if binary:
        k = np.where(present, matrix, 0.0).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_hat = np.where(n > 0, k / np.maximum(n, 1), 0.0)
            draws = rng.binomial(n, np.clip(p_hat, 0.0, 1.0), size=(n_replicates, len(n))) / n
        return np.where(n > 0, draws, np.nan)
    out = np.full((n_replicates, matrix.shape[1]), np.nan)
    for j in range(matrix.shape[1]):
        own = matrix[present[:, j], j]
        if own.size == 0:
            continue
        distinct, counts = np.unique(own, return_counts=True)
        if len(distinct) * _COLLAPSE_RATIO < own.size:
            sums, _ = _resampled_sums(rng, distinct[:, None], None, counts, own.size, n_replicates)
        else:
            sums, _ = _resampled_sums(rng, own[:, None], None, None, own.size, n_replicates)
        out[:, j] = sums[:, 0] / own.size
    return out


def _percentiles(replicates: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 100.0 * (1.0 - level) / 2.0
    if not np.isnan(replicates).any():
        lo, hi = np.percentile(replicates, [tail, 100.0 - tail], axis=0)
        return lo, hi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no data) give NaN bounds
        lo, hi = np.nanpercentile(replicates, [tail, 100.0 - tail], axis=0)
    return lo, hi


# ------------------------------------------------------------------------------------------------ aggregates


def guess_spec(metric: str) -> MetricSpec:
    """A spec for an aggregate metric that the scored samples do not describe.

    Known ids use the metrics registry; otherwise 0/1 metrics are recognised by name (acc, exact_match, ...),
    since an aggregate mean never shows its 0/1 nature, and the direction comes from the name.
    """
    if metric in METRICS:
        return METRICS[metric]
    binary = metric.lower() in _BINARY_NAMES
    kind = "discontinuous" if binary else "continuous"
    return MetricSpec(
        id=metric,
        direction=direction_from_name(metric),
        kind=kind,
        binary=binary,
        description="guessed from name",
    )


def _aggregate_points(
    aggregates: pl.DataFrame,
    scored: ScoredSamples,
    settings: ResampleSettings,
    specs: dict[str, MetricSpec],
    rows: list[dict[str, object]],
    replicates: dict[tuple[str, str, str], Replicates],
    notes: list[str],
) -> None:
    if aggregates.height == 0:
        return
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
    for metric in guessed:
        specs[metric] = guess_spec(metric)
    if guessed:
        notes.append(f"aggregate metrics described from their names only: {', '.join(guessed)}")
    notes.append(
        "aggregate rows: 0/1 metrics with n get the Wilson interval and Binomial(n, value)/n replicates "
        "(independent per model); otherwise value +- z*stderr with normal replicates when stderr is known"
    )
    partitions = frame.partition_by([FAMILY, TASK, METRIC], as_dict=True)
    fixed_groups = 0
    for key in sorted(partitions, key=lambda k: tuple(str(v) for v in k)):
        family, task, metric = (str(v) for v in key)
        part = partitions[key].sort(list(MODEL_ORDER), nulls_last=True)
        spec = specs[metric]
        value = part[VALUE].to_numpy().astype(np.float64)
        n = part[N].to_numpy().astype(np.float64)  # nulls -> NaN
        stderr = part[STDERR].to_numpy().astype(np.float64)
        binomial = spec.binary & (n > 0) & np.isfinite(value)
        normal = ~binomial & np.isfinite(stderr) & np.isfinite(value)
        k = np.clip(value, 0.0, 1.0) * np.where(binomial, n, 0.0)
        binom_lo, binom_hi = wilson_interval(k, np.where(binomial, n, np.nan), settings.ci)
        normal_lo, normal_hi = normal_interval(value, stderr, settings.ci)
        lo = np.where(binomial, binom_lo, np.where(normal, normal_lo, np.nan))
        hi = np.where(binomial, binom_hi, np.where(normal, normal_hi, np.nan))
        if settings.bootstrap > 0 and (binomial | normal).any():
            rng = _rng(settings.seed, family, task, metric, "aggregate")
            draws = np.tile(value, (settings.bootstrap, 1))
            if binomial.any():
                n_b = n[binomial].astype(np.int64)
                draws[:, binomial] = (
                    rng.binomial(n_b, k[binomial] / n_b, size=(settings.bootstrap, len(n_b))) / n_b
                )
            if normal.any():
                noise = rng.standard_normal((settings.bootstrap, int(normal.sum())))
                draws[:, normal] = value[normal] + noise * stderr[normal]
            fixed_groups += int(not (binomial | normal).all())
            replicates[(family, task, metric)] = Replicates(tuple(part[MODEL].to_list()), draws)
        chance = scored.chance.get((task, metric), spec.chance)
        for j, row in enumerate(part.iter_rows(named=True)):
            rows.append(
                {
                    **row,
                    LO: lo[j],
                    HI: hi[j],
                    BINOM_LO: binom_lo[j] if binomial[j] else None,
                    BINOM_HI: binom_hi[j] if binomial[j] else None,
                    CHANCE: chance,
                    KIND: spec.kind,
                    DIRECTION: spec.direction,
                    SOURCE: "aggregate",
                }
            )
    if fixed_groups:
        notes.append(
            f"{fixed_groups} aggregate groups mix models with and without n/stderr: replicates hold the "
            "models without either fixed at their value"
        )


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
