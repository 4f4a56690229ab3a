"""Points with honest intervals: per family x model x task x metric a mean, n and a bootstrap/binomial CI.

Per-sample metrics (SCIENCE.md section 4):

* the value is the mean over the model's items that have the metric, ``stderr`` is ``sd(ddof=1) / sqrt(n)``;
* ``lo``/``hi`` is a percentile bootstrap over items. Paired (the default): per family x task ONE draw of item
  ids over the union of the task's items is applied to every model and every metric, so between-model and
  between-metric comparisons on a replicate are honest. A model missing some drawn items averages over
  the drawn items it has (a ratio estimator, ``counts @ values / counts @ present``); a replicate that drew
  none of its items is NaN and ignored by the percentiles. Unpaired: each model (and metric) is resampled
  on its own; a 0/1 metric then draws ``Binomial(n, p_hat) / n`` directly;
* the draws are resample-count matrices (B x items) multiplied into items x models value matrices. When every
  metric of a task is 0/1, items with identical rows are exchangeable, so the counts are drawn as a
  multinomial over the distinct rows (exact, and far cheaper when models are few). Otherwise (paired) ONE
  count matrix is drawn per distinct item count n, from a stream keyed by ``(seed, n)``, and every task with
  n items uses it through its own seeded random permutation of its items: the rows of a multinomial count
  matrix are exchangeable, so each task's replicates are still an exact multinomial bootstrap, independent
  across replicates. Tasks with the same n then share count rows: their replicate means are uncorrelated
  (given the counts, the permutations are independent and every count row sums to n) but not independent;
  nothing here compares replicates across tasks (emergence scores use one family x task x metric at a time).
  The tasks sharing a draw are multiplied by it in one wide product (several times faster than one skinny
  product per task). Above ``_SHARED_ENTRIES`` (B x n) each task draws its own counts in chunks instead;
* 0/1 metrics also get ``binom_lo``/``binom_hi``: the Wilson interval, which unlike the bootstrap does not
  collapse to [0, 0] at 0 of n.

Aggregate rows: a 0/1 metric with n known gets the Wilson interval and binomial replicates (independent per
model); else a row with stderr gets ``value +- z stderr`` and normal replicates; else no interval.

Random streams are seeded from ``(seed, family, task[, metric])`` and the shared counts from ``(seed, n)``,
so a group's numbers do not depend on which other groups are present (up to floating-point rounding, since
the batched product's blocking depends on its width), and the same seed and input give the same numbers
exactly.

Splitting rows into tasks does not sort them: names are coded from hashes at the starts of runs of equal
family/task/model rows, items by their position when every model lists the same ids in the same order
(checked), else by a categorical cast. In the usual layout each run (one model's items of a task) is copied
into its model's row of the task's matrix, and only tasks that have a metric get a matrix for it; otherwise
each row's cell is computed and values scattered into one flat buffer per metric (see ``_groups``).
"""

from __future__ import annotations

import hashlib
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from analysis.errors import InputError
from analysis.intervals import normal_interval, wilson_interval
from analysis.metrics import spec_for
from analysis.options import ResampleSettings
from analysis.row_hashes import column_hashes
from analysis.row_hashes import run_starts as row_runs
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

_T = TypeVar("_T")

# count-matrix entries per chunk of replicates (2**22 float64 = 32 MB)
_CHUNK_ENTRIES = 1 << 22
# multinomial over distinct rows costs ~3x a uniform index draw per class, so collapse only below this ratio
_COLLAPSE_RATIO = 3
# groups x distinct item ids up to this are ranked with a dense presence table (bytes), else by a sort
_DENSE_ITEM_CELLS = 1 << 26
# the layout fast path needs runs of equal family/task/model rows at least this long on average
_MIN_RUN_LENGTH = 16
# a paired count matrix shared by the tasks with the same item count is kept up to this many entries (128 MB)
_SHARED_ENTRIES = 1 << 24
# tasks wait for one product with the shared counts until their columns hold this many entries (64 MB)
_BATCH_ENTRIES = 1 << 23


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


def _item_count(group: _Group) -> int:
    """Items with a value for some model and metric: the n that the paired bootstrap draws."""
    missing = np.ones(next(iter(group.values.values())).shape[0], dtype=bool)
    for matrix in group.values.values():
        missing &= np.isnan(matrix).all(axis=1)
    return int(missing.size - missing.sum())


def _groups(frame: pl.DataFrame, metrics: list[str], settings: ResampleSettings) -> list[_Group]:
    """Split the wide per-sample frame into family x task matrices (after the subsample, if any).

    No sort of the rows: family, task and model are coded from their 64-bit hashes at the starts of runs of
    equal rows (files list a model's items together, so there are few runs). When every model of a task
    lists the same ids in the same order, each run is copied into its model's row (``_matrices_by_run``);
    otherwise items are coded by a categorical cast, every row gets its cell ``offset[group] + item *
    n_models + model`` in one flat buffer per metric, filled by one scatter, and each group's matrix is a view
    of it. Items are ordered by the hash of their id and models by scale, so the numbers do not depend on the
    order of the input rows.
    """
    height = frame.height
    names = (FAMILY, TASK, MODEL)
    *hashes, item_hash = column_hashes(frame, [*names, ITEM])  # Series ops, all four at once on threads
    run_starts = row_runs(hashes)  # a boundary is missed only if a column's hash collides right at it
    run_lengths = np.diff(np.r_[run_starts, height])
    family_hash, task_hash, model_hash = (column[run_starts] for column in hashes)
    del hashes
    family_code = _factorize(family_hash)[2]
    task_keys, _, task_code = _factorize(task_hash)
    model_keys, _, model_code = _factorize(model_hash)
    del family_hash, task_hash, model_hash
    _, group_first_run, group_of_run = _factorize(family_code * len(task_keys) + task_code)
    n_groups, n_all_models = len(group_first_run), len(model_keys)
    pair_keys, pair_first_run, _ = _factorize(group_of_run * n_all_models + model_code)

    # models: per group ranked by params, tokens, flops, then name, from each model's first row
    pair_rows = run_starts[pair_first_run]
    pair_names = frame[MODEL].gather(pair_rows).cast(pl.Utf8).to_list()
    pair_scales = np.column_stack(
        [
            frame[s].gather(pair_rows).cast(pl.Float64).to_numpy()
            if s in frame.columns
            else np.full(len(pair_rows), np.nan)
            for s in SCALES
        ]
    )
    pair_group = pair_keys // n_all_models
    model_rank = np.full(n_groups * n_all_models, -1, dtype=np.int64)
    models_of_group: list[list[int]] = [[] for _ in range(n_groups)]
    for p in sorted(
        range(len(pair_keys)),
        key=lambda p: (
            int(pair_group[p]),
            *((bool(np.isnan(v)), 0.0 if np.isnan(v) else float(v)) for v in pair_scales[p, :3]),
            pair_names[p],
        ),
    ):
        members = models_of_group[int(pair_group[p])]
        model_rank[pair_keys[p]] = len(members)
        members.append(p)
    group_models = np.array([len(m) for m in models_of_group], dtype=np.int64)

    # items: ranked by the hash of their id within each group; cells model-major (a model's items together)
    ranks = _items_by_layout(item_hash, run_starts, run_lengths, group_of_run, group_first_run)
    item_index = None
    if ranks is None:
        item_index, group_items = _items_by_code(frame, item_hash, run_lengths, group_of_run, n_groups)
    else:
        group_items = np.array([len(rank) for rank in ranks], dtype=np.int64)
    del item_hash

    offsets = np.r_[0, np.cumsum(group_items * group_models)]
    pair_of_run = group_of_run * n_all_models + model_code
    run_base = offsets[group_of_run] + model_rank[pair_of_run] * group_items[group_of_run]
    has_row = None
    if ranks is not None and len(_factorize(pair_of_run)[0]) == len(run_starts):
        # every run covers all of its task's items and each model has one run: no cell twice, none empty
        model_row = model_rank[pair_of_run]
        buffers = _matrices_by_run(frame, metrics, run_starts, group_of_run, model_row, ranks, group_models)
    else:
        if ranks is not None:  # a model with two runs: cells from the ranks, then the general check
            item_index = np.concatenate([ranks[g] for g in group_of_run.tolist()])
        cell = np.repeat(run_base, run_lengths) + item_index
        del item_index
        cell_counts = np.bincount(cell, minlength=int(offsets[-1]))
        if cell_counts.max(initial=0) > 1:
            row = int(np.flatnonzero(cell == int(np.argmax(cell_counts)))[1])
            raise InputError(
                f"scored samples: duplicate rows for family {frame[FAMILY][row]!r}, task "
                f"{frame[TASK][row]!r}, model {frame[MODEL][row]!r}, item {frame[ITEM][row]!r}; keep one "
                "row per model x task x item"
            )
        has_row = cell_counts > 0
        del cell_counts
        shapes = [(int(m), int(n)) for m, n in zip(group_models, group_items, strict=True)]
        buffers = {}
        for metric in metrics:
            buffer = np.full(int(offsets[-1]), np.nan)
            buffer[cell] = frame[metric].cast(pl.Float64).to_numpy()
            buffers[metric] = {  # items x models views of the flat buffer
                g: buffer[offsets[g] : offsets[g + 1]].reshape(shape).T for g, shape in enumerate(shapes)
            }
        del cell

    group_rows = run_starts[group_first_run]
    families = frame[FAMILY].gather(group_rows).cast(pl.Utf8).to_list()
    tasks = frame[TASK].gather(group_rows).cast(pl.Utf8).to_list()
    groups = []
    for g in range(n_groups):
        start, stop, shape = int(offsets[g]), int(offsets[g + 1]), (int(group_models[g]), int(group_items[g]))
        dropped = None
        if settings.subsample is not None:
            has = (
                np.ones(shape[::-1], dtype=bool) if has_row is None else has_row[start:stop].reshape(shape).T
            )
            dropped = ~_subsample_mask(has, settings, families[g], tasks[g])
        values = {}
        for metric, matrices in buffers.items():
            matrix = matrices.get(g)  # absent: the group has no value of this metric
            if matrix is None:
                continue
            if dropped is not None:
                matrix[dropped] = np.nan
            if not np.isnan(matrix).all():
                values[metric] = matrix
        if values:
            members = models_of_group[g]
            scales = tuple(
                {s: None if np.isnan(v) else float(v) for s, v in zip(SCALES, pair_scales[p], strict=True)}
                for p in members
            )
            names = tuple(pair_names[p] for p in members)
            groups.append(_Group(families[g], tasks[g], names, scales, values))
    return groups


_FACTORIZE_IN_POLARS = 1 << 20  # keys above which polars' parallel sort beats np.unique (2x at 10M)


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)`` for 1-d integer keys.

    Rows in no particular order make one run per row, so the run-level keys have millions of entries; there
    polars finds the distinct values by hashing, maps each key to its value's rank (or, with many distinct
    values, ranks by a parallel sort) and each value's first index comes from ``minimum.at``.
    """
    if len(keys) < _FACTORIZE_IN_POLARS:
        return np.unique(keys, return_index=True, return_inverse=True)
    series = pl.Series(keys)
    values = np.sort(series.unique().to_numpy())
    if len(values) * 8 <= len(keys):  # few distinct values: a hash lookup instead of a sort
        codes = pl.Series(np.arange(len(values), dtype=np.int64))
        inverse = series.replace_strict(pl.Series(values), codes, return_dtype=pl.Int64).to_numpy()
    else:
        inverse = series.rank("dense").to_numpy().astype(np.int64) - 1
    first = np.full(len(values), len(keys), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(keys), dtype=np.int64))
    return values, first, inverse


def _matrices_by_run(
    frame: pl.DataFrame,
    metrics: list[str],
    run_starts: np.ndarray,
    group_of_run: np.ndarray,
    model_row: np.ndarray,
    ranks: list[np.ndarray],
    group_models: np.ndarray,
) -> dict[str, dict[int, np.ndarray]]:
    """Per metric, the items x models matrix of every group that has the metric, filled run by run.

    For the usual layout (one run per model and task, every run listing the task's items): each run is a
    slice of the column put into its model's row at its items' ranks. Runs without a value are skipped and no
    matrix is made for a group without the metric, so no full-length copy of a column is ever made.
    """
    stops = np.r_[run_starts[1:], frame.height].tolist()
    runs = list(zip(run_starts.tolist(), stops, group_of_run.tolist(), model_row.tolist(), strict=True))
    out: dict[str, dict[int, np.ndarray]] = {}
    for metric in metrics:
        column = frame[metric].cast(pl.Float64).rechunk()
        matrices: dict[int, np.ndarray] = {}
        filled: dict[int, np.ndarray] = {}
        for start, stop, g, row in runs:
            piece = column.slice(start, stop - start)
            if piece.null_count() == len(piece):
                continue
            if g not in matrices:
                matrices[g] = np.empty((int(group_models[g]), len(ranks[g])))
                filled[g] = np.zeros(int(group_models[g]), dtype=bool)
            matrices[g][row, ranks[g]] = piece.to_numpy()
            filled[g][row] = True
        for g, matrix in matrices.items():
            matrix[~filled[g]] = np.nan  # models without this metric on this task
        out[metric] = {g: matrix.T for g, matrix in matrices.items()}  # items x models views
    return out


def _items_by_layout(
    item_hash: np.ndarray,
    run_starts: np.ndarray,
    run_lengths: np.ndarray,
    group_of_run: np.ndarray,
    group_first_run: np.ndarray,
) -> list[np.ndarray] | None:
    """Per task, each item's hash rank when every model of the task lists the same distinct ids in the same
    order (the usual layout of evaluation logs), checked run by run; None when the layout differs."""
    if len(run_starts) > max(1, len(item_hash) // _MIN_RUN_LENGTH):
        return None  # short runs (e.g. shuffled rows): a Python loop over runs would be slow
    reference = group_first_run[group_of_run]
    if not np.array_equal(run_lengths, run_lengths[reference]):
        return None
    ranks = []
    for first in group_first_run.tolist():
        own = item_hash[run_starts[first] : run_starts[first] + run_lengths[first]]
        order = np.argsort(own, kind="stable")
        if np.any(own[order][1:] == own[order][:-1]):
            return None  # a repeated id: the general path names the duplicate
        rank = np.empty(len(own), dtype=np.int64)
        rank[order] = np.arange(len(own))
        ranks.append(rank)
    for run, first in enumerate(reference.tolist()):
        start, ref_start, length = run_starts[run], run_starts[first], run_lengths[run]
        if run != first and not np.array_equal(
            item_hash[start : start + length], item_hash[ref_start : ref_start + length]
        ):
            return None
    return ranks


def _items_by_code(
    frame: pl.DataFrame,
    item_hash: np.ndarray,
    run_lengths: np.ndarray,
    group_of_run: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Item positions for any layout: integer codes of the ids (categorical cast), ranked by hash per task."""
    codes = frame.select(
        pl.col(ITEM).cast(pl.Utf8).fill_null("").cast(pl.Categorical(pl.Categories.random())).to_physical()
    )
    item_code = codes.to_series().to_numpy().astype(np.int64)
    del codes
    n_codes = int(item_code.max()) + 1
    code_hash = np.zeros(n_codes, dtype=np.uint64)
    code_hash[item_code] = item_hash
    code_rank = np.empty(n_codes, dtype=np.int64)
    code_rank[np.argsort(code_hash, kind="stable")] = np.arange(n_codes)
    group_of_row = np.repeat(group_of_run, run_lengths)
    item_key = group_of_row * n_codes + code_rank[item_code]
    del item_code
    if n_groups * n_codes <= _DENSE_ITEM_CELLS:
        seen = np.zeros(n_groups * n_codes, dtype=bool)
        seen[item_key] = True
        position = np.cumsum(seen.reshape(n_groups, n_codes), axis=1, dtype=np.int64)
        group_items = position[:, -1].copy()
        item_index = position.ravel()[item_key] - 1
    else:  # many groups x distinct ids: rank the (group, item) keys by sorting them instead
        distinct, item_index = np.unique(item_key, return_inverse=True)
        group_items = np.bincount(distinct // n_codes, minlength=n_groups)
        item_index -= np.r_[0, np.cumsum(group_items)[:-1]][group_of_row]
    return item_index, group_items


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


def _bootstrap_groups(
    groups: list[_Group], specs: dict[str, MetricSpec], settings: ResampleSettings
) -> dict[int, dict[str, np.ndarray]]:
    """Replicate means (B x models) for every metric of every family x task, by the group's index."""
    if not settings.paired:
        return {
            index: {
                metric: _unpaired(
                    matrix,
                    specs[metric].binary,
                    settings,
                    _rng(settings.seed, group.family, group.task, metric),
                )
                for metric, matrix in group.values.items()
            }
            for index, group in enumerate(groups)
        }
    done: dict[int, dict[str, np.ndarray]] = {}
    batch = _SharedBatch(settings.seed, settings.bootstrap)
    # tasks with equal item counts share one count draw, and are multiplied by it together
    order = sorted(range(len(groups)), key=lambda i: _item_count(groups[i]))
    with ThreadPoolExecutor(2) as pool:  # the next task is prepared while this one is multiplied
        prepared_tasks = _in_order(pool, lambda i: _paired(groups[i], specs, settings), order)
        for index, prepared in zip(order, prepared_tasks, strict=True):
            if isinstance(prepared, _Pending):
                batch.add(index, prepared, done)
            else:
                done[index] = prepared
    batch.flush(done)
    return done


def _in_order(pool: ThreadPoolExecutor, work: Callable[[int], _T], items: Sequence[int]) -> Iterator[_T]:
    """``pool.map`` that keeps at most two results waiting (each task's matrices can be large)."""
    waiting: deque[Future[_T]] = deque()
    for item in items:
        waiting.append(pool.submit(work, item))
        if len(waiting) > 2:
            yield waiting.popleft().result()
    while waiting:
        yield waiting.popleft().result()


@dataclass(frozen=True)
class _Pending:
    """One task's paired matrices waiting for the shared count draw of its item count.

    ``columns`` is ``[values | masks]`` with the task's items already in its own random order; ``which`` maps
    each value column to its denominator mask (None: every item present, the denominator is n).
    """

    n_items: int
    metrics: tuple[str, ...]
    n_models: int
    n_values: int
    columns: np.ndarray
    which: np.ndarray | None

    def finish(self, product: np.ndarray) -> dict[str, np.ndarray]:
        sums = product[:, : self.n_values]
        totals = float(self.n_items) if self.which is None else product[:, self.n_values :][:, self.which]
        with np.errstate(divide="ignore", invalid="ignore"):
            means = sums / totals
        width = self.n_models
        return {m: means[:, i * width : (i + 1) * width] for i, m in enumerate(self.metrics)}


class _SharedBatch:
    """Collects tasks with the same item count and multiplies them by the shared counts in one wide product.

    One B x n count matrix is drawn per distinct n from a stream keyed by ``(seed, n)`` only (independent of
    which groups are present); a product with many columns runs several times faster than one per task.
    Tasks arrive in order of n, so only one count matrix is alive at a time.
    """

    def __init__(self, seed: int, n_replicates: int) -> None:
        self._seed, self._n_replicates = seed, n_replicates
        self._waiting: list[tuple[int, _Pending]] = []
        self._width = 0
        self._n: int | None = None
        self._counts: np.ndarray | None = None

    def add(self, index: int, pending: _Pending, done: dict[int, dict[str, np.ndarray]]) -> None:
        if self._waiting and self._waiting[0][1].n_items != pending.n_items:
            self.flush(done)
        self._waiting.append((index, pending))
        self._width += pending.columns.shape[1]
        if self._width * pending.n_items >= _BATCH_ENTRIES:
            self.flush(done)

    def flush(self, done: dict[int, dict[str, np.ndarray]]) -> None:
        if not self._waiting:
            return
        n_items = self._waiting[0][1].n_items
        if n_items != self._n:
            self._counts = None  # free the previous matrix before drawing the next
            self._counts = _draw_counts(
                _rng(self._seed, "paired counts", str(n_items)), n_items, self._n_replicates
            )
            self._n = n_items
        product = self._counts @ np.hstack([pending.columns for _, pending in self._waiting])
        start = 0
        for index, pending in self._waiting:
            stop = start + pending.columns.shape[1]
            done[index] = pending.finish(product[:, start:stop])
            start = stop
        self._waiting, self._width = [], 0


def _draw_counts(rng: np.random.Generator, n_items: int, n_replicates: int) -> np.ndarray:
    """B rows of how often each of n items is drawn in n uniform draws with replacement (float64)."""
    counts = np.empty((n_replicates, n_items))
    chunk = max(1, min(n_replicates, _CHUNK_ENTRIES // max(n_items, 1)))
    for start in range(0, n_replicates, chunk):
        size = min(chunk, n_replicates - start)
        drawn = rng.integers(0, n_items, size=(size, n_items))
        drawn += (np.arange(size) * n_items)[:, None]
        counts[start : start + size] = np.bincount(drawn.ravel(), minlength=size * n_items).reshape(
            size, n_items
        )
    return counts


def _paired(
    group: _Group, specs: dict[str, MetricSpec], settings: ResampleSettings
) -> dict[str, np.ndarray] | _Pending:
    """Replicate means of one task, or its matrices to multiply by the shared counts of its item count."""
    metrics = list(group.values)
    stacked = np.hstack([group.values[m] for m in metrics])
    present = ~np.isnan(stacked)
    used = present.any(axis=1)
    stacked, present = stacked[used], present[used]
    values = np.where(present, stacked, 0.0)
    del stacked
    n_items = values.shape[0]
    rng = _rng(settings.seed, group.family, group.task, "paired")
    weights = None
    if all(specs[m].binary for m in metrics):
        patterns = np.hstack([values, present]).astype(bool)
        if patterns.shape[1] <= 62:  # rows as bit patterns in one int64, so the collapse is a 1-d unique
            packed = np.zeros((n_items, 8), dtype=np.uint8)  # bit j of the little-endian int64 is column j
            packed[:, : (patterns.shape[1] + 7) // 8] = np.packbits(patterns, axis=1, bitorder="little")
            keys = packed.view("<i8").ravel()
            _, first, counts = np.unique(keys, return_index=True, return_counts=True)
            if len(first) * _COLLAPSE_RATIO < n_items:
                values, present, weights = values[first], present[first], counts
    # models (and metrics) with the same missing items share one denominator column
    if present.all():
        masks, which = None, None
    else:
        masks, which = np.unique(present.T, axis=0, return_inverse=True)
        masks, which = masks.T.astype(np.float64), which.ravel()
    n_models = len(group.models)
    if weights is None and n_items * settings.bootstrap <= _SHARED_ENTRIES:
        order = rng.permutation(n_items)  # item order[k] takes the shared draw's count k
        columns = values[order] if masks is None else np.hstack([values[order], masks[order]])
        return _Pending(n_items, tuple(metrics), n_models, values.shape[1], columns, which)
    sums, totals = _resampled_sums(rng, values, masks, weights, n_items, settings.bootstrap)
    if masks is not None:
        totals = totals[:, which]
    with np.errstate(divide="ignore", invalid="ignore"):
        means = sums / totals
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
        specs[metric] = spec_for(metric)  # aggregate rows: 0/1 known by name
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
