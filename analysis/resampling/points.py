"""Points with honest intervals: per family x model x task x metric a mean, n and a bootstrap/binomial CI.

Per-sample metrics (SCIENCE.md section 4):

* the value is the mean over the model's items that have the metric, ``stderr`` is ``sd(ddof=1) / sqrt(n)``;
* ``lo``/``hi`` is a percentile bootstrap over items. Paired (the default): per family x task ONE draw of item
  ids over the union of the task's items is applied to every model and every metric, so between-model and
  between-metric comparisons on a replicate are honest. A model missing some drawn items averages over
  the drawn items it has (a ratio estimator, ``counts @ values / counts @ present``); a replicate that drew
  none of its items is NaN and ignored by the percentiles. Unpaired: each model (and metric) is resampled
  on its own; a 0/1 metric then draws ``Binomial(n, p_hat) / n`` directly;
* 0/1 metrics also get ``binom_lo``/``binom_hi``: the Wilson interval, which unlike the bootstrap does not
  collapse to [0, 0] at 0 of n.

Aggregate rows: a 0/1 metric with n known gets the Wilson interval and binomial replicates (independent per
model); else a row with stderr gets ``value +- z stderr`` and normal replicates; else no interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis.metrics import guesses, spec_for, with_overrides
from analysis.options import ResampleSettings
from analysis.resampling.bootstrap import _bootstrap_groups, _percentiles
from analysis.resampling.intervals import normal_interval, wilson_interval
from analysis.resampling.layout import _Group, _groups, subsampled
from analysis.resampling.seeds import stream
from analysis.schema import (
    BINOM_HI,
    BINOM_LO,
    FAMILY,
    FLOPS,
    HI,
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


def compute_points(
    scored: ScoredSamples,
    table: ResultTable,
    settings: ResampleSettings,
    *,
    layout: Sequence[_Group] | None = None,
) -> PointSet:
    """Per family x model x task x metric: value, n and intervals, plus bootstrap replicates per group.

    ``layout``: ``sample_layout(scored)``, the per-sample frame laid out once without a subsample, for runs
    that differ only in seed, subsample or B (the same numbers as laying it out again, up to rounding).
    """
    notes: list[str] = []
    rows: list[dict[str, object]] = []
    replicates: dict[tuple[str, str, str], Replicates] = {}
    specs = dict(scored.specs)

    _sample_points(scored, settings, rows, replicates, notes, layout)
    _aggregate_points(table.aggregates, scored, settings, specs, rows, replicates, notes)

    frame = _rows_to_frame(rows)
    frame = frame.sort([FAMILY, TASK, METRIC, *MODEL_ORDER], nulls_last=True)
    notes += [f"kind guessed: {line}" for line in guesses(specs)]
    return PointSet(frame=frame, replicates=replicates, specs=specs, notes=tuple(notes))


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
    if layout is None:
        groups = _groups(frame, metrics, settings)
    else:
        groups = [g for g in (subsampled(group, settings) for group in layout) if g is not None]
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
            "missing a drawn item averages over the drawn items it has; tasks with the same item count "
            "reuse one count draw through their own random permutation of items (each task's bootstrap "
            "is exact; replicates of different tasks are uncorrelated but not independent)"
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

    all_reps = _bootstrap_groups(groups, scored.specs, settings) if settings.bootstrap > 0 else {}
    found: dict[tuple[str, str, str], Replicates] = {}
    for index, group in enumerate(groups):
        reps = all_reps.get(index, {})
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
                found[(group.family, group.task, metric)] = Replicates(model_names, reps[metric])
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
    replicates.update(sorted(found.items()))


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
    specs.update(with_overrides({m: spec_for(m) for m in guessed}, scored.overrides))
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
            rng = stream(settings.seed, family, task, metric, "aggregate")
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


def sample_layout(scored: ScoredSamples) -> list[_Group]:
    """The per-sample frame as items x models matrices without a subsample (``compute_points(layout=)``)."""
    metrics = [m for m in scored.specs if m in scored.frame.columns]
    if scored.frame.height == 0 or not metrics:
        return []
    return _groups(scored.frame, metrics, ResampleSettings(bootstrap=0))


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
