"""mc_grade, choice_prob and brier from the choices' log-likelihoods, and the choice tasks' chance levels.

``_choice_block`` is the plain procedure over ragged rows; ``_few_choices_block`` is the fast path for rows of
the same K < 8 choices and must give the same bits (``tests/unit/test_metrics_paths.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis import schema, threads
from analysis.metrics.registry import BRIER, CHOICE_PROB, MC_GRADE
from analysis.metrics.runs import _nan_where_absent

_FEW_CHOICES = 8  # below this, numpy sums a row left to right, so a column loop gives the same bits
_BLOCK = 1 << 14  # rows per block of the choice metrics: a block's temporaries stay in cache


def _few_choices_block(matrix: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """``_choice_block`` for rows with the same K < 8 choices, a (rows, K) matrix: a few passes per choice.

    numpy reductions along a short last axis, masked writes and gathers are each several times slower than
    an elementwise pass, so everything is elementwise over the columns of a transposed (contiguous) copy:
    the first maximum is the number of leading running maxima below the row max, and the correct choice's
    weight is picked as the sum of ``weight_k * [correct == k]``. The sums run left to right as numpy's own
    do for fewer than 8 terms and every formula is ``_choice_block``'s: the values are bit-for-bit the same.
    """
    rows, choices = matrix.shape
    columns = [matrix[:, k] for k in range(choices)]
    running = np.empty((choices, rows))  # running[k]: max of choices 0..k (NaN propagates, as in ndarray.max)
    running[0] = columns[0]
    for k in range(1, choices):
        np.maximum(running[k - 1], columns[k], out=running[k])
    top = running[-1]
    usable = np.isfinite(top)
    usable &= correct >= 0
    usable &= correct < choices
    first = np.zeros(rows, dtype=np.int8)  # index of the first maximum (where usable)
    flag = np.empty(rows, dtype=bool)
    for k in range(choices - 1):
        first += np.less(running[k], top, out=flag)
    total, squares, picked = np.empty(rows), np.empty(rows), np.zeros(rows)
    weight, scratch = np.empty(rows), np.empty(rows)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k, column in enumerate(columns):
            np.exp(np.subtract(column, top, out=weight), out=weight)
            if k == 0:
                total[:] = weight
                np.multiply(weight, weight, out=squares)
            else:
                total += weight
                squares += np.multiply(weight, weight, out=scratch)
            picked += np.multiply(weight, np.equal(correct, k, out=flag), out=scratch)
        q_correct = picked / total
        brier = np.clip(squares / total**2 - 2 * q_correct + 1, 0.0, 2.0)
    grade = (first == correct).astype(np.float64)
    return tuple(np.where(usable, metric, np.nan) for metric in (grade, q_correct, brier))


def _softmax_parts(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row of a flattened ragged array: max, sum of exp(x - max), sum of exp(2(x - max)), first argmax.

    Equal lengths use a reshaped matrix; ragged rows use ``reduceat`` over offsets. Rows without choices get
    NaN max and argmax -1.
    """
    rows = len(lengths)
    if rows and lengths.min() == lengths.max() > 0:
        matrix = values.reshape(rows, int(lengths[0]))
        top = matrix.max(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            weights = np.exp(matrix - top[:, None])
        argmax = np.where(np.isnan(top), -1, matrix.argmax(axis=1))
        return top, weights.sum(axis=1), (weights * weights).sum(axis=1), argmax
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    nonempty = lengths > 0
    first = starts[nonempty]
    top, total, squares = (np.full(rows, np.nan) for _ in range(3))
    argmax = np.full(rows, -1, dtype=np.int64)
    if not first.size:
        return top, total, squares, argmax
    top[nonempty] = np.maximum.reduceat(values, first)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = values - np.repeat(top, lengths)
        weights = np.exp(shifted)
    total[nonempty] = np.add.reduceat(weights, first)
    squares[nonempty] = np.add.reduceat(weights * weights, first)
    local = np.arange(values.size, dtype=np.int64) - np.repeat(starts, lengths)
    argmax[nonempty] = np.minimum.reduceat(np.where(shifted == 0, local, np.iinfo(np.int64).max), first)
    return top, total, squares, argmax


def _choice_metrics(frame: pl.DataFrame) -> pl.DataFrame:
    """mc_grade, choice_prob and brier from choice log-likelihoods, vectorised and numerically stable.

    Everything is shifted by the row max before ``exp``. Rows with no choices, a missing or out-of-range
    correct index, or no finite log-likelihood give null. The frame is cut into zero-copy slices of rows that
    two threads read and score (polars and numpy release the GIL), each writing its own rows of the output.
    """
    logliks, correct = frame[schema.CHOICE_LOGLIKS], frame[schema.CORRECT_CHOICE]
    columns = _nan_where_absent(logliks.is_not_null().to_numpy(), 3)

    def solve(start: int) -> None:
        part = logliks.slice(start, _SLICE)
        has_choices = part.is_not_null()
        present = has_choices.arg_true().to_numpy().astype(np.int64) + start  # only rows with choices work
        if not len(present):
            return
        given = part.drop_nulls()
        values = given.explode(empty_as_null=False, keep_nulls=False).cast(pl.Float64).to_numpy()
        lengths = given.list.len().to_numpy().astype(np.int64)
        indices = correct.slice(start, _SLICE).filter(has_choices).fill_null(-1).cast(pl.Int64).to_numpy()
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for first in range(0, len(present), _BLOCK):
            rows = slice(first, first + _BLOCK)
            block_lengths = lengths[rows]
            block = values[bounds[first] : bounds[min(first + _BLOCK, len(present))]]
            width = int(block_lengths[0])
            if 0 < width < _FEW_CHOICES and block_lengths.min() == block_lengths.max():
                metrics = _few_choices_block(block.reshape(-1, width), indices[rows])
            else:
                metrics = _choice_block(block, block_lengths, indices[rows])
            where: np.ndarray | slice = present[rows]
            if where[-1] - where[0] == len(where) - 1:  # consecutive rows: a slice copies, no scatter
                where = slice(int(where[0]), int(where[-1]) + 1)
            for column, metric in zip(columns, metrics, strict=True):
                column[where] = metric

    with threads.pool(2) as pool:
        list(pool.map(solve, range(0, len(frame), _SLICE)))
    return pl.DataFrame(
        [
            pl.Series(name, column, dtype=pl.Float64, nan_to_null=True)
            for name, column in zip((MC_GRADE, CHOICE_PROB, BRIER), columns, strict=True)
        ]
    )


_SLICE = 1 << 18  # rows read and scored by one task: a zero-copy slice, its exploded values a few MB


def _choice_block(values: np.ndarray, lengths: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """mc_grade, choice_prob and brier of consecutive rows (flat ``values``), NaN where unusable."""
    top, total, squares, argmax = _softmax_parts(values, lengths)
    usable = np.isfinite(top) & (correct >= 0) & (correct < lengths)
    offsets = np.cumsum(lengths) - lengths
    correct_ll = values[np.where(usable, offsets + correct, 0)] if values.size else np.zeros(len(lengths))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        q_correct = np.exp(correct_ll - top) / total
        brier = np.clip(squares / total**2 - 2 * q_correct + 1, 0.0, 2.0)
    grade = (argmax == correct).astype(np.float64)
    return tuple(np.where(usable, metric, np.nan) for metric in (grade, q_correct, brier))


def _chance(frame: pl.DataFrame, computed: Sequence[str]) -> dict[tuple[str, str], float]:
    """Per-task chance levels for the choice metrics: the mean over items of 1/K (brier: 1 - 1/K)."""
    if not {MC_GRADE, CHOICE_PROB, BRIER} & set(computed):
        return {}
    choices = pl.col(schema.CHOICE_LOGLIKS).list.len().cast(pl.Float64).alias("choices")
    per_task = (  # staged: rows without choices leave before the group-by (they add nothing to the mean)
        frame.lazy()
        .select(schema.TASK, choices)
        .filter(pl.col("choices").is_not_null())
        .group_by(schema.TASK)
        .agg((1.0 / pl.col("choices")).mean().alias("uniform"))
        .collect()
    )
    chance: dict[tuple[str, str], float] = {}
    for task, uniform in per_task.iter_rows():
        if uniform is None or not np.isfinite(uniform):
            continue
        chance[(task, MC_GRADE)] = uniform
        chance[(task, CHOICE_PROB)] = uniform
        chance[(task, BRIER)] = 1.0 - uniform
    return chance
