"""The matrix layout: the wide per-sample frame as one items x models matrix per family x task x metric.

Splitting rows into tasks does not sort them: names are coded from hashes at the starts of runs of equal
family/task/model rows, items by their position when every model lists the same ids in the same order
(checked), else by a categorical cast. In the usual layout each run (one model's items of a task) is copied
into its model's row of the task's matrix, and only tasks that have a metric get a matrix for it; otherwise
each row's cell is computed and values scattered into one flat buffer per metric (see ``_groups``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.errors import InputError
from analysis.options import ResampleSettings
from analysis.resampling.seeds import stream
from analysis.row_hashes import column_hashes
from analysis.row_hashes import run_starts as row_runs
from analysis.schema import (
    FAMILY,
    ITEM,
    MODEL,
    SCALES,
    TASK,
)

# groups x distinct item ids up to this are ranked with a dense presence table (bytes), else by a sort
_DENSE_ITEM_CELLS = 1 << 26
# the layout fast path needs runs of equal family/task/model rows at least this long on average
_MIN_RUN_LENGTH = 16


@dataclass(frozen=True)
class _Group:
    """One family x task as matrices: ``values[metric]`` is items x models, NaN where missing."""

    family: str
    task: str
    models: tuple[str, ...]  # in replicate order: ascending params, tokens, flops, then name
    scales: tuple[dict[str, float | None], ...]  # per model: params, tokens, flops, loss (None when unknown)
    values: dict[str, np.ndarray]
    rows: np.ndarray | None = None  # items x models: which cells have a row in the frame (None: every cell)


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
    runs, item_hash = _runs(frame)
    models = _models(frame, runs)
    ranks, item_index, group_items = _items(frame, runs, item_hash)
    del item_hash
    offsets = np.r_[0, np.cumsum(group_items * models.counts)]
    if ranks is not None and len(_factorize(runs.pair_of_run)[0]) == len(runs.starts):
        # every run covers all of its task's items and each model has one run: no cell twice, none empty
        model_row = models.rank[runs.pair_of_run]
        buffers = _matrices_by_run(
            frame, metrics, runs.starts, runs.group_of_run, model_row, ranks, models.counts
        )
        has_row = None
    else:
        if ranks is not None:  # a model with two runs: cells from the ranks, then the general check
            item_index = np.concatenate([ranks[g] for g in runs.group_of_run.tolist()])
        run_base = offsets[runs.group_of_run] + models.rank[runs.pair_of_run] * group_items[runs.group_of_run]
        cell = np.repeat(run_base, runs.lengths) + item_index
        del item_index
        has_row = _cells_filled_once(frame, cell, int(offsets[-1]))
        shapes = [(int(m), int(n)) for m, n in zip(models.counts, group_items, strict=True)]
        buffers = _matrices_by_cell(frame, metrics, cell, offsets, shapes)
        del cell
    return _assemble(frame, runs, models, buffers, has_row, offsets, group_items, settings)


@dataclass(frozen=True, eq=False)
class _Runs:
    """Runs of rows with equal family, task and model, each coded by its family x task group and model."""

    starts: np.ndarray  # first row of each run
    lengths: np.ndarray
    group_of_run: np.ndarray  # family x task code
    group_first_run: np.ndarray  # each group's first run
    model_code: np.ndarray  # model code (over all groups)
    n_all_models: int
    pair_keys: np.ndarray  # distinct group * n_all_models + model code: one per model of a group
    pair_first_run: np.ndarray  # each pair's first run

    @property
    def n_groups(self) -> int:
        return len(self.group_first_run)

    @property
    def pair_of_run(self) -> np.ndarray:
        return self.group_of_run * self.n_all_models + self.model_code


def _runs(frame: pl.DataFrame) -> tuple[_Runs, np.ndarray]:
    """The frame's runs, coded from the 64-bit hashes of family, task and model; and each row's item hash."""
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
    n_all_models = len(model_keys)
    pair_keys, pair_first_run, _ = _factorize(group_of_run * n_all_models + model_code)
    runs = _Runs(
        run_starts,
        run_lengths,
        group_of_run,
        group_first_run,
        model_code,
        n_all_models,
        pair_keys,
        pair_first_run,
    )
    return runs, item_hash


@dataclass(frozen=True, eq=False)
class _Models:
    """The models of every group, ranked by params, tokens, flops, then name (from each model's first row)."""

    names: list[str]  # per (group, model) pair
    scales: np.ndarray  # per pair: params, tokens, flops, loss (NaN when unknown)
    rank: np.ndarray  # per pair key: the model's row in its group's matrices
    of_group: list[list[int]]  # per group: its pairs in rank order
    counts: np.ndarray  # per group: how many models


def _models(frame: pl.DataFrame, runs: _Runs) -> _Models:
    """Each group's models and their order: ascending params, tokens, flops (unknown last), then name."""
    pair_rows = runs.starts[runs.pair_first_run]
    pair_names = frame[MODEL].gather(pair_rows).cast(pl.Utf8).to_list()
    pair_scales = np.column_stack(
        [
            frame[s].gather(pair_rows).cast(pl.Float64).to_numpy()
            if s in frame.columns
            else np.full(len(pair_rows), np.nan)
            for s in SCALES
        ]
    )
    pair_keys, n_all_models = runs.pair_keys, runs.n_all_models
    pair_group = pair_keys // n_all_models
    model_rank = np.full(runs.n_groups * n_all_models, -1, dtype=np.int64)
    models_of_group: list[list[int]] = [[] for _ in range(runs.n_groups)]
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
    return _Models(pair_names, pair_scales, model_rank, models_of_group, group_models)


def _items(
    frame: pl.DataFrame, runs: _Runs, item_hash: np.ndarray
) -> tuple[list[np.ndarray] | None, np.ndarray | None, np.ndarray]:
    """Items ranked by the hash of their id within each group: per group the ranks of its first run's items
    when every run lists the same ids (``_items_by_layout``), else each row's item index; and the number of
    items of each group."""
    ranks = _items_by_layout(item_hash, runs.starts, runs.lengths, runs.group_of_run, runs.group_first_run)
    if ranks is None:
        item_index, group_items = _items_by_code(
            frame, item_hash, runs.lengths, runs.group_of_run, runs.n_groups
        )
        return None, item_index, group_items
    return ranks, None, np.array([len(rank) for rank in ranks], dtype=np.int64)


def _cells_filled_once(frame: pl.DataFrame, cell: np.ndarray, size: int) -> np.ndarray:
    """Which of the ``size`` cells have a row; an input error naming the first cell given twice."""
    cell_counts = np.bincount(cell, minlength=size)
    if cell_counts.max(initial=0) > 1:
        row = int(np.flatnonzero(cell == int(np.argmax(cell_counts)))[1])
        raise InputError(
            f"scored samples: duplicate rows for family {frame[FAMILY][row]!r}, task "
            f"{frame[TASK][row]!r}, model {frame[MODEL][row]!r}, item {frame[ITEM][row]!r}; keep one "
            "row per model x task x item"
        )
    return cell_counts > 0


def _matrices_by_cell(
    frame: pl.DataFrame,
    metrics: list[str],
    cell: np.ndarray,
    offsets: np.ndarray,
    shapes: list[tuple[int, int]],
) -> dict[str, dict[int, np.ndarray]]:
    """Per metric, every group's items x models matrix as a view of one flat buffer filled by one scatter."""
    buffers = {}
    for metric in metrics:
        buffer = np.full(int(offsets[-1]), np.nan)
        buffer[cell] = frame[metric].cast(pl.Float64).to_numpy()
        buffers[metric] = {  # items x models views of the flat buffer
            g: buffer[offsets[g] : offsets[g + 1]].reshape(shape).T for g, shape in enumerate(shapes)
        }
    return buffers


def _assemble(
    frame: pl.DataFrame,
    runs: _Runs,
    models: _Models,
    buffers: dict[str, dict[int, np.ndarray]],
    has_row: np.ndarray | None,
    offsets: np.ndarray,
    group_items: np.ndarray,
    settings: ResampleSettings,
) -> list[_Group]:
    """The groups with their names, models, scales and the matrices of the metrics they have a value of,
    after the subsample (its cells become NaN)."""
    group_rows = runs.starts[runs.group_first_run]
    families = frame[FAMILY].gather(group_rows).cast(pl.Utf8).to_list()
    tasks = frame[TASK].gather(group_rows).cast(pl.Utf8).to_list()
    groups = []
    for g in range(runs.n_groups):
        start, stop, shape = (
            int(offsets[g]),
            int(offsets[g + 1]),
            (int(models.counts[g]), int(group_items[g])),
        )
        dropped = None
        rows = None if has_row is None else has_row[start:stop].reshape(shape).T
        if settings.subsample is not None:
            has = np.ones(shape[::-1], dtype=bool) if rows is None else rows
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
            members = models.of_group[g]
            scales = tuple(
                {s: None if np.isnan(v) else float(v) for s, v in zip(SCALES, models.scales[p], strict=True)}
                for p in members
            )
            names = tuple(models.names[p] for p in members)
            groups.append(_Group(families[g], tasks[g], names, scales, values, rows))
    return groups


def subsampled(group: _Group, settings: ResampleSettings) -> _Group | None:
    """A group laid out without a subsample, on the subsample ``settings`` draws (the same cells as the
    layout's own ``--subsample``): a copy holding only the drawn items' rows, so a layout can be shared by
    runs that differ in seed, subsample or B (the resolution sweep); None when no value is left."""
    if settings.subsample is None:
        return group
    shape = next(iter(group.values.values())).shape
    has = np.ones(shape, dtype=bool) if group.rows is None else group.rows
    keep = _subsample_mask(has, settings, group.family, group.task)
    chosen = keep.any(axis=1)
    kept = keep[chosen]
    values = {}
    for metric, matrix in group.values.items():
        part = matrix[chosen]
        if not kept.all():
            part[~kept] = np.nan
        if not np.isnan(part).all():
            values[metric] = part
    if not values:
        return None
    rows = None if group.rows is None else group.rows[chosen] & kept
    return _Group(group.family, group.task, group.models, group.scales, values, rows)


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
    rng = stream(settings.seed, family, task, "subsample")
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
