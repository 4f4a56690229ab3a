"""Checks on loaded tables, each failing with ONE line that names the file, the column or row, and the fix.

Rows are reported as 1-based *data* rows (the header is not counted) when the reader recorded them in the
``ROW`` column; otherwise the message names the model, task and item instead.

Decisions: a model with no scale at all is allowed (it can be listed and scored but not placed on a scale
axis; the loader warns). Outputs may hold -inf log-probabilities (probability 0) but not NaN or +inf.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from analysis import schema
from analysis.errors import InputError
from analysis.row_hashes import column_hashes, mixed_hash, run_starts

ROW = "_row"  # 1-based data row number, added by readers that know it and dropped by the loader

# Names people give the canonical columns, tried before fuzzy matching when suggesting a --map.
ALIASES: dict[str, tuple[str, ...]] = {
    schema.MODEL: ("model_name", "name", "model_id", "checkpoint", "llm", "model_args"),
    schema.TASK: ("task_name", "benchmark", "dataset", "operation", "subtask", "eval", "test"),
    schema.FAMILY: ("model_family", "series", "organization"),
    schema.ITEM: ("doc_id", "id", "item_id", "sample_id", "example_id", "idx", "index", "question_id"),
    schema.METRIC: ("metric_name", "measure", "score_name"),
    schema.VALUE: ("score", "acc", "accuracy", "result", "mean", "metric_value"),
    schema.N: ("n_items", "count", "num_samples", "n_samples", "total", "number_of_data", "size"),
    schema.N_CORRECT: ("correct", "num_correct", "n_right", "hits", "successes"),
    schema.PARAMS: ("params_total", "n_params", "num_params", "parameters", "size", "model_size"),
    schema.TOKENS: ("n_tokens", "train_tokens", "data", "dataset_size"),
    schema.FLOPS: ("compute", "flop", "training_flops", "c"),
    schema.TARGET: ("answer", "gold", "reference", "label", "expected"),
    schema.PREDICTION: ("output", "response", "completion", "generation", "pred", "model_output"),
    schema.CORRECT_CHOICE: ("gold_index", "label_index", "answer_index", "correct"),
    schema.CHOICE_LOGLIKS: ("logliks", "loglikelihoods", "choice_logprobs", "choice_scores"),
    schema.TARGET_LOGPROBS: ("logprobs", "token_logprobs", "target_token_logprobs"),
}


def suggest_column(canonical: str, columns: Iterable[str]) -> str | None:
    """The user's column most likely meant as ``canonical``: a known alias, else the best fuzzy match."""
    candidates = [c for c in columns if c not in schema.CANONICAL_COLUMNS and c != ROW]
    lowered = {c.lower(): c for c in candidates}
    for alias in ALIASES.get(canonical, ()):
        if alias in lowered:
            return lowered[alias]
    best = process.extractOne(canonical, candidates, scorer=fuzz.ratio, score_cutoff=70)
    return best[0] if best else None


def describe_columns(columns: Sequence[str], limit: int = 12) -> str:
    """The file's own columns, shortened, for error messages."""
    own = [c for c in columns if c != ROW]
    return ", ".join(own[:limit]) + (", ..." if len(own) > limit else "")


def require_columns(columns: Sequence[str], required: Sequence[str], path: str | Path, what: str) -> None:
    """Raise naming each missing required column and the ``--map`` that would supply it."""
    missing = [c for c in required if c not in columns]
    if not missing:
        return
    fixes = []
    for name in missing:
        guess = suggest_column(name, columns)
        fixes.append(f"--map {guess}={name}" if guess else f"--map <your column>={name}")
    shown = describe_columns(columns)
    raise InputError(
        f"{what} needs column(s) {', '.join(missing)}; try {' '.join(fixes)} (the file has: {shown})",
        path=str(path),
    )


def _where(frame: pl.DataFrame, index: int) -> str:
    """How to point a person at row ``index`` of ``frame``: its data row number, else its identity values."""
    if ROW in frame.columns and frame[ROW][index] is not None:
        return f"row {frame[ROW][index]}"
    parts = [
        f"{c}={frame[c][index]!r}"
        for c in (schema.MODEL, schema.TASK, schema.ITEM, schema.METRIC)
        if c in frame.columns
    ]
    return "row with " + ", ".join(parts) if parts else f"row {index + 1}"


def _first_index(frame: pl.DataFrame, mask: pl.Expr) -> int | None:
    hits = frame.select(mask.fill_null(False).arg_true().first()).item()
    return None if hits is None else int(hits)


def cast_numeric(frame: pl.DataFrame, column: str, dtype: pl.DataType, path: str | Path) -> pl.DataFrame:
    """Cast ``column`` to a numeric dtype, naming the first row whose value is not a number."""
    source = frame[column]
    if source.dtype == dtype:
        return frame
    if source.dtype == pl.Boolean:
        source = source.cast(pl.Int8)
    cast = (
        source.cast(dtype, strict=False)
        if source.dtype != pl.Utf8
        else source.str.strip_chars().cast(dtype, strict=False)
    )
    bad = (cast.is_null() & source.is_not_null()).arg_true()
    if len(bad):
        index = int(bad[0])
        hint = "an integer" if dtype == pl.Int64 else "a number"
        raise InputError(
            f"column {column}, {_where(frame, index)}: {frame[column][index]!r} is not {hint}; "
            "fix the value or map another column to it",
            path=str(path),
        )
    return frame.with_columns(cast.alias(column))


def check_scales(frame: pl.DataFrame, path: str | Path) -> None:
    """Scales must be finite and positive (they go on log axes); null means unknown and is allowed."""
    for column in schema.SCALES:
        if column not in frame.columns:
            continue
        values = pl.col(column)
        index = _first_index(frame, values.is_nan() | values.is_infinite())
        if index is not None:
            raise InputError(
                f"column {column}, {_where(frame, index)}: {frame[column][index]} is not finite; "
                "give a finite positive number or leave the cell empty",
                path=str(path),
            )
        index = _first_index(frame, values <= 0)
        if index is not None:
            raise InputError(
                f"column {column}, {_where(frame, index)}: {frame[column][index]} is not positive; "
                "scales go on a log axis, so give a positive number or leave the cell empty",
                path=str(path),
            )


def _flat_values_finite(lists: pl.Series) -> bool:
    """True when no element of any list is NaN or +inf, decided from the list sums without exploding.

    A list's sum is NaN or +inf whenever one of its elements is NaN or +inf (-inf alone gives -inf), so clean
    sums prove clean lists; a flagged sum (a bad element, or finite values overflowing) returns False and the
    caller locates the row element by element.
    """
    sums = lists.list.sum()
    return not bool((sums.is_nan() | (sums == float("inf"))).any())


def check_outputs(frame: pl.DataFrame, numeric_columns: Sequence[str], path: str | Path) -> None:
    """No NaN (or +inf) in per-sample outputs or pre-scored values; -inf log-probabilities are allowed."""
    for column in numeric_columns:
        if column not in frame.columns:
            continue
        dtype = frame.schema[column]
        values = pl.col(column)
        if isinstance(dtype, pl.List):
            if dtype.inner.is_float() and _flat_values_finite(frame[column]):
                continue  # fast path: no element is NaN or +inf, so no row needs locating
            bad = values.list.eval(pl.element().is_nan() | (pl.element() == float("inf"))).list.any()
        elif dtype.is_float():
            bad = values.is_nan() | values.is_infinite()
        else:
            continue
        index = _first_index(frame, bad)
        if index is not None:
            raise InputError(
                f"column {column}, {_where(frame, index)}: holds NaN or infinity; fix or drop that row",
                path=str(path),
            )


def check_choices(frame: pl.DataFrame, path: str | Path) -> None:
    """``correct_choice`` must index into that row's ``choice_logliks`` (0-based)."""
    if schema.CORRECT_CHOICE not in frame.columns or schema.CHOICE_LOGLIKS not in frame.columns:
        return
    choice, count = pl.col(schema.CORRECT_CHOICE), pl.col(schema.CHOICE_LOGLIKS).list.len()
    index = _first_index(frame, (choice < 0) | (choice >= count))
    if index is not None:
        choice, count = frame[schema.CORRECT_CHOICE][index], frame[schema.CHOICE_LOGLIKS][index].len()
        raise InputError(
            f"column {schema.CORRECT_CHOICE}, {_where(frame, index)}: choice {choice} is out of range for "
            f"{count} choices; it is 0-based (0 = first)",
            path=str(path),
        )


_MIN_RUN = 64  # rows per run, on average, below which one global sort beats a check run by run


def _distinct_within_runs(groups: list[np.ndarray], item: np.ndarray) -> bool | None:
    """Whether every (group, item) hash combination is distinct, for rows laid out as evaluation logs are:
    each group (model x task) in one run, its items in the same order as other groups of the task.

    Runs with the same item sequence as one already checked need one comparison, not a sort. None when the
    layout is otherwise (short runs, a group split over runs): the caller sorts everything instead.
    """
    starts = run_starts(groups)
    if len(starts) * _MIN_RUN > len(item):
        return None  # short runs
    if len(np.unique(mixed_hash([g[starts] for g in groups]))) < len(starts):
        return None  # a group in more than one run
    checked: dict[tuple[int, int, int], list[np.ndarray]] = {}
    for start, stop in itertools.pairwise([*starts.tolist(), len(item)]):
        run = item[start:stop]
        signature = (len(run), int(run[0]), int(run[-1]))
        if any(np.array_equal(run, seen) for seen in checked.get(signature, ())):
            continue
        ordered = np.sort(run)
        if (ordered[1:] == ordered[:-1]).any():
            return False
        checked.setdefault(signature, []).append(run)
    return True


def _keys_distinct(frame: pl.DataFrame, key: Sequence[str]) -> bool:
    """True when no two rows share a ``key`` combination, decided from 64-bit hashes of each column.

    Equal keys always give equal hashes, so "all distinct" is exact; a repeated hash (a real duplicate or a
    collision) returns False and the caller runs the exact check. Rows in the usual log layout (see
    ``_distinct_within_runs``) are checked run by run; others by one parallel sort of the mixed hashes.
    """
    hashes = column_hashes(frame, key)
    if len(hashes) > 1:
        by_runs = _distinct_within_runs(hashes[:-1], hashes[-1])
        if by_runs is not None:
            return by_runs
    mixed = pl.Series(mixed_hash(hashes)).sort().to_numpy()  # polars sorts in parallel
    return not bool((mixed[1:] == mixed[:-1]).any())


def check_duplicates(frame: pl.DataFrame, key: Sequence[str], path: str | Path) -> None:
    """Each ``key`` combination once; name two repeated rows and a column that tells them apart, if any."""
    key = [c for c in key if c in frame.columns]
    if frame.is_empty() or not key or _keys_distinct(frame, key):
        return
    duplicated = frame.select(pl.struct(key).is_duplicated()).to_series()
    if not duplicated.any():
        return
    first = int(duplicated.arg_true()[0])
    values = frame.row(first, named=True)
    same = frame.with_row_index("_index").filter(
        pl.all_horizontal([pl.col(c).eq_missing(pl.lit(values[c])) for c in key])
    )
    second = int(same["_index"][1])
    extra = [c for c in same.columns if c not in (*schema.CANONICAL_COLUMNS, ROW, "_index")]
    pair = same.head(2)
    differing = sorted((c for c in extra if pair[c].n_unique() > 1), key=lambda c: frame[c].n_unique())
    hint = (
        f"column '{differing[0]}' tells them apart: fold it into the family or model (e.g. --map "
        f"{differing[0]}={schema.FAMILY}) or keep one value"
        if differing
        else "drop the repeated row"
    )
    what = ", ".join(f"{c}={values[c]!r}" for c in key)
    raise InputError(
        f"{_where(frame, first)} and {_where(frame, second)} repeat {what}; {hint}",
        path=str(path),
    )


def check_aggregates(frame: pl.DataFrame, path: str | Path) -> None:
    """Aggregate values must be present and finite; counts must satisfy 0 <= n_correct <= n and n > 0."""
    if frame.is_empty():
        return
    value = pl.col(schema.VALUE)
    index = _first_index(frame, value.is_null() | value.is_nan() | value.is_infinite())
    if index is not None:
        raise InputError(
            f"column {schema.VALUE}, {_where(frame, index)}: missing or not finite; give a number "
            f"(or {schema.N_CORRECT} and {schema.N})",
            path=str(path),
        )
    if schema.N in frame.columns:
        index = _first_index(frame, pl.col(schema.N) <= 0)
        if index is not None:
            raise InputError(
                f"column {schema.N}, {_where(frame, index)}: {frame[schema.N][index]} items; n must be > 0",
                path=str(path),
            )
    if schema.N_CORRECT in frame.columns and schema.N in frame.columns:
        counts = pl.col(schema.N_CORRECT)
        index = _first_index(frame, (counts < 0) | (counts > pl.col(schema.N)))
        if index is not None:
            raise InputError(
                f"column {schema.N_CORRECT}, {_where(frame, index)}: {frame[schema.N_CORRECT][index]} is not "
                f"between 0 and n = {frame[schema.N][index]}; check which columns hold the counts",
                path=str(path),
            )


def check_not_mixed(
    samples: pl.DataFrame, sample_metrics: Iterable[str], aggregates: pl.DataFrame, sources: str
) -> None:
    """A task x metric comes from per-sample rows or from aggregate rows, not both (they would be pooled)."""
    if samples.is_empty() or aggregates.is_empty():
        return
    metrics = set(sample_metrics)
    sample_tasks = samples.select(schema.FAMILY, schema.TASK).unique()
    clash = aggregates.filter(pl.col(schema.METRIC).is_in(sorted(metrics))).join(
        sample_tasks, on=[schema.FAMILY, schema.TASK], how="semi"
    )
    if clash.is_empty():
        return
    row = clash.row(0, named=True)
    raise InputError(
        f"task {row[schema.TASK]!r} (family {row[schema.FAMILY]!r}) has per-sample rows and aggregate "
        f"rows for metric {row[schema.METRIC]!r}; load one kind, or rename the task in one of them",
        path=sources,
    )
