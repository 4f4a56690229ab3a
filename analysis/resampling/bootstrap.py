"""The bootstrap engine: replicate means of every metric of every family x task, paired or unpaired.

A replicate is a row of Bayesian-bootstrap item weights (``seeds.draw_weights``: Gamma(1) per item, Rubin
1981) multiplied into the task's items x models value matrix, ``weights @ values / weights @ present``: a
model missing some items averages over the items it has. Paired: one weight row per replicate for every model
and metric of a task. Unpaired: each model (and metric) draws its own. When every metric of a task is 0/1,
items with identical rows are exchangeable, so a class of m identical items gets one Gamma(m) weight (exact,
and far cheaper when models are few).

0/1 metrics: a replicate that never collapses at 0 of n (or n of n). Each replicate also draws a Jeffreys
pseudo-observation, half an item right and half wrong with weights ``g1, g0 ~ Gamma(1/2)`` (one pair per task
and replicate, shared by every model and 0/1 metric of the task, so the pairing holds), and a 0/1 mean is
``(weights @ values + g1) / (weights @ present + g1 + g0)``. For a model with k of n right its replicates are
then exactly the Jeffreys posterior Beta(k + 1/2, n - k + 1/2) (a sum of Gamma(1) weights over k items is
Gamma(k)): at k = 0 they spread over about [0, 2.5/n] instead of sitting at 0, so every derived number (a fit,
an emergence score, a null curve) sees the uncertainty of a point at the floor. Unpaired 0/1 replicates are
drawn from that Beta directly. The points' own intervals of 0/1 metrics are exact (``points``); replicates are
for what is derived from them.

Shared weight draws (a statistical choice: ``shared_weights``). In the paired bootstrap ONE B x n weight
matrix is drawn per distinct item count n, from the stream ``(seed, "paired weights", n)``, and every task
with n items uses it through its own seeded random permutation of its items. The rows of the weight matrix are
exchangeable, so each task's replicates are still an exact Bayesian bootstrap, independent across replicates.
The price: tasks with the same n share weight rows, so their replicate means are uncorrelated (given the
weights, the permutations are independent) but not independent. Nothing compares replicates across tasks
(emergence scores use one family x task x metric at a time); a statistic of two tasks' replicates together
would need a draw per task. The gain: the tasks sharing a draw are multiplied by it in one wide product
(``_SharedBatch``), several times faster than one skinny product per task. Above ``_SHARED_ENTRIES`` (B x n),
and for collapsed 0/1 tasks, each task draws its own weights instead.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from analysis import threads
from analysis.options import ResampleSettings
from analysis.resampling.layout import _Group
from analysis.resampling.seeds import _CHUNK_ENTRIES, draw_weights, stream
from analysis.schema import MetricSpec

_T = TypeVar("_T")

# a Gamma(m) draw per class costs ~3x an exponential per item, so collapse only below this ratio
_COLLAPSE_RATIO = 3
JEFFREYS = 0.5  # the pseudo-observation of 0/1 means: half an item right, half wrong (the Jeffreys prior)
# a paired weight matrix shared by the tasks with the same item count is kept up to this many entries (128 MB)
_SHARED_ENTRIES = 1 << 24
# tasks wait for one product with the shared weights until their columns hold this many entries (64 MB)
_BATCH_ENTRIES = 1 << 23


def _item_count(group: _Group) -> int:
    """Items with a value for some model and metric: the n that the paired bootstrap draws."""
    missing = np.ones(next(iter(group.values.values())).shape[0], dtype=bool)
    for matrix in group.values.values():
        missing &= np.isnan(matrix).all(axis=1)
    return int(missing.size - missing.sum())


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
                    stream(settings.seed, group.family, group.task, metric),
                )
                for metric, matrix in group.values.items()
            }
            for index, group in enumerate(groups)
        }
    done: dict[int, dict[str, np.ndarray]] = {}
    batch = _SharedBatch(settings.seed, settings.bootstrap)
    # tasks with equal item counts share one count draw, and are multiplied by it together
    order = sorted(range(len(groups)), key=lambda i: _item_count(groups[i]))
    with threads.pool(2) as pool:  # the next task is prepared while this one is multiplied
        prepared_tasks = _in_order(pool, lambda i: _paired(groups[i], specs, settings), order)
        for index, prepared in zip(order, prepared_tasks, strict=True):
            if isinstance(prepared, _Pending):
                batch.add(index, prepared, done)
            else:
                done[index] = prepared
    batch.flush(done)
    return done


def _in_order(pool: Executor, work: Callable[[int], _T], items: Sequence[int]) -> Iterator[_T]:
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
    """One task's paired matrices waiting for the shared weight draw of its item count.

    ``columns`` is ``[values | masks]`` with the task's items already in its own random order; ``which`` maps
    each value column to its denominator mask; ``binary`` marks the value columns of 0/1 metrics, which get
    the ``pseudo`` observation (B, 2).
    """

    n_items: int
    metrics: tuple[str, ...]
    n_models: int
    n_values: int
    columns: np.ndarray
    which: np.ndarray
    binary: np.ndarray
    pseudo: np.ndarray | None

    def finish(self, product: np.ndarray) -> dict[str, np.ndarray]:
        sums = product[:, : self.n_values]
        totals = product[:, self.n_values :][:, self.which]
        means = _means(sums, totals, self.binary, self.pseudo)
        width = self.n_models
        return {m: means[:, i * width : (i + 1) * width] for i, m in enumerate(self.metrics)}


def _means(sums: np.ndarray, totals: np.ndarray, binary: np.ndarray, pseudo: np.ndarray | None) -> np.ndarray:
    """Weighted means (B, columns); 0/1 columns with the Jeffreys pseudo-observation; NaN where a model has
    no item."""
    if pseudo is not None and binary.any():
        g1, g0 = pseudo[:, 0:1], pseudo[:, 1:2]
        sums = np.where(binary, sums + g1, sums)
        totals_with = np.where(binary, totals + g1 + g0, totals)
    else:
        totals_with = totals
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > 0, sums / totals_with, np.nan)


def shared_weights(seed: int, n_items: int, n_replicates: int) -> np.ndarray:
    """The paired bootstrap's weight matrix for every task with ``n_items`` items (the module docstring's
    "Shared weight draws"): keyed by the seed and n only, so it does not depend on which tasks are present."""
    return draw_weights(stream(seed, "paired weights", str(n_items)), n_items, n_replicates)


class _SharedBatch:
    """Collects tasks with the same item count and multiplies them by their ``shared_weights`` in one wide
    product (a product with many columns runs several times faster than one per task). Tasks arrive in order
    of n, so only one weight matrix is alive at a time."""

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
            self._counts = shared_weights(self._seed, n_items, self._n_replicates)
            self._n = n_items
        product = self._counts @ np.hstack([pending.columns for _, pending in self._waiting])
        start = 0
        for index, pending in self._waiting:
            stop = start + pending.columns.shape[1]
            done[index] = pending.finish(product[:, start:stop])
            start = stop
        self._waiting, self._width = [], 0


def _paired(
    group: _Group, specs: dict[str, MetricSpec], settings: ResampleSettings
) -> dict[str, np.ndarray] | _Pending:
    """Replicate means of one task, or its matrices to multiply by the shared weights of its item count."""
    metrics = list(group.values)
    stacked = np.hstack([group.values[m] for m in metrics])
    present = ~np.isnan(stacked)
    used = present.any(axis=1)
    stacked, present = stacked[used], present[used]
    values = np.where(present, stacked, 0.0)
    del stacked
    n_items = values.shape[0]
    n_models = len(group.models)
    binary = np.repeat([specs[m].binary for m in metrics], n_models)
    pseudo = None
    if binary.any():
        pseudo = stream(settings.seed, group.family, group.task, "jeffreys").standard_gamma(
            JEFFREYS, (settings.bootstrap, 2)
        )
    rng = stream(settings.seed, group.family, group.task, "paired")
    classes = None
    if binary.all():
        patterns = np.hstack([values, present]).astype(bool)
        if patterns.shape[1] <= 62:  # rows as bit patterns in one int64, so the collapse is a 1-d unique
            packed = np.zeros((n_items, 8), dtype=np.uint8)  # bit j of the little-endian int64 is column j
            packed[:, : (patterns.shape[1] + 7) // 8] = np.packbits(patterns, axis=1, bitorder="little")
            keys = packed.view("<i8").ravel()
            _, first, counts = np.unique(keys, return_index=True, return_counts=True)
            if len(first) * _COLLAPSE_RATIO < n_items:
                values, present, classes = values[first], present[first], counts
    # models (and metrics) with the same present items share one denominator column
    masks, which = distinct_columns(present)
    masks = masks.astype(np.float64)
    if classes is None and n_items * settings.bootstrap <= _SHARED_ENTRIES:
        order = rng.permutation(n_items)  # item order[k] takes the shared draw's weight k (shared_weights)
        columns = np.hstack([values[order], masks[order]])
        return _Pending(n_items, tuple(metrics), n_models, values.shape[1], columns, which, binary, pseudo)
    sums, totals = _resampled_sums(rng, values, masks, classes, settings.bootstrap)
    means = _means(sums, totals[:, which], binary, pseudo)
    return {m: means[:, i * n_models : (i + 1) * n_models] for i, m in enumerate(metrics)}


def distinct_columns(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct columns of a boolean (items, columns) matrix, in ``np.unique``'s sorted order, and each
    column's index among them: ``np.unique(present.T, axis=0, return_inverse=True)``, transposed.

    Columns are compared as packed bytes (one void key each); ``np.unique(axis=0)`` views each row as a
    structured type with one field per item, which took 40% of a report on 250,000-item tasks. Packing is
    big-endian per byte, so byte order sorts like the rows of booleans (equality test in tests/equivalence).
    """
    packed = np.ascontiguousarray(np.packbits(present, axis=0).T)  # (columns, ceil(items / 8))
    keys = packed.view(f"V{max(packed.shape[1], 1)}").ravel()
    _, first, which = np.unique(keys, return_index=True, return_inverse=True)
    return present[:, first], which.ravel()


def _resampled_sums(
    rng: np.random.Generator,
    values: np.ndarray,
    present: np.ndarray,
    classes: np.ndarray | None,
    n_replicates: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``weights @ values`` and ``weights @ present`` for B Bayesian-bootstrap weight rows, in bounded chunks.

    With ``classes`` the rows of ``values`` are classes of that many identical items, each weighing
    Gamma(size of the class) in total; otherwise the rows are the items, each weighing Gamma(1).

    The weights are drawn by blocks of items (all B replicates of a block at once) and the block's products
    are summed: each block of ``values`` is read once, in a B x block by block x columns product. Chunking by
    replicates instead reads all of ``values`` once per chunk, and with many items a chunk holds only a few
    replicates (16 at 250,000 items), so that product was bound by memory and several times slower.
    """
    n_rows = values.shape[0]
    columns = np.hstack([values, present])
    product = np.zeros((n_replicates, columns.shape[1]))
    block = max(1, min(n_rows, _CHUNK_ENTRIES // max(n_replicates, 1)))
    for start in range(0, n_rows, block):
        stop = min(n_rows, start + block)
        if classes is not None:
            weights = rng.standard_gamma(classes[start:stop].astype(np.float64), (n_replicates, stop - start))
        else:
            weights = draw_weights(rng, stop - start, n_replicates)
        product += weights @ columns[start:stop]
    return product[:, : values.shape[1]], product[:, values.shape[1] :]


def _unpaired(
    matrix: np.ndarray, binary: bool, settings: ResampleSettings, rng: np.random.Generator
) -> np.ndarray:
    """Replicate means drawn independently per model (column of ``matrix``): 0/1 metrics from the Jeffreys
    posterior Beta(k + 1/2, n - k + 1/2) (what the paired replicates are marginally), others by the Bayesian
    bootstrap of the model's own items."""
    present = ~np.isnan(matrix)
    n = present.sum(axis=0)
    n_replicates = settings.bootstrap
    if binary:
        k = np.clip(np.where(present, matrix, 0.0).sum(axis=0), 0.0, n)
        draws = rng.beta(k + JEFFREYS, n - k + JEFFREYS, size=(n_replicates, len(n)))
        return np.where(n > 0, draws, np.nan)
    out = np.full((n_replicates, matrix.shape[1]), np.nan)
    for j in range(matrix.shape[1]):
        own = matrix[present[:, j], j]
        if own.size == 0:
            continue
        distinct, counts = np.unique(own, return_counts=True)
        ones = np.ones((len(distinct), 1))
        if len(distinct) * _COLLAPSE_RATIO < own.size:
            sums, totals = _resampled_sums(rng, distinct[:, None], ones, counts, n_replicates)
        else:
            sums, totals = _resampled_sums(rng, own[:, None], np.ones((own.size, 1)), None, n_replicates)
        out[:, j] = sums[:, 0] / totals[:, 0]
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
