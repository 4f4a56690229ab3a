"""Checks on loaded tables, each failing with ONE line that names the file, the column or row, and the fix.

Rows are reported as 1-based *data* rows (the header is not counted) when the reader recorded them in the
``ROW`` column; otherwise the message names the model, task and item instead.

Decisions: a model with no scale at all is allowed (it can be listed and scored but not placed on a scale
axis; the loader warns). Outputs may hold -inf log-probabilities (probability 0) but not NaN or +inf.

Counts (``n``, shots) are whole numbers from 0 to 2**53 (``MAX_COUNT``, the largest a float holds exactly):
NaN, infinities, fractions (beyond ``COUNT_TOLERANCE``), negative numbers and booleans are refused naming the
field, from JSON (``as_count``) and from table columns (``cast_count``) alike. A column whose type cannot hold
its role (a struct ``value``, a list ``params``, a binary ``model``, a date ``value``) is refused naming the
type found and the type wanted (``check_column_types``), never cast into something else. Values quoted in a
message are cut to ``MESSAGE_VALUE_CHARS`` characters (``shown``), so a 200,000-character cell stays one
short line.
"""

from __future__ import annotations

import itertools
import math
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


MESSAGE_VALUE_CHARS = 60
MAX_COUNT = 2**53
COUNT_TOLERANCE = 1e-6  # a count given as 1000.0000004 (float arithmetic) is 1000


def shown(value: object, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with the full length stated."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def _count_problem(number: float) -> str | None:
    """Why ``number`` cannot be a count, or None when it can."""
    if math.isnan(number):
        return "NaN is not a count"
    if math.isinf(number):
        return "infinite (or a number too large for a float) is not a count"
    if number < 0:
        return f"{number:g} is negative, not a count"
    if number > MAX_COUNT:
        return f"{number:.4g} is larger than any count of items or shots (at most 2**53)"
    if abs(number - round(number)) > COUNT_TOLERANCE:
        return f"{number:g} is not a whole number, so not a count"
    return None


def as_count(value: object, field: str, path: str | Path) -> int | None:
    """A count (items, shots) from a JSON value; None when absent or not a number (null, "N/A", a list).

    A number (or numeric string) that cannot be a count raises InputError naming ``field`` (see the module
    docstring); so does a boolean, which JSON keeps apart from numbers.
    """
    if value is None or isinstance(value, list | dict):
        return None
    if isinstance(value, bool):
        raise InputError(f"{field}: {str(value).lower()} is a boolean, not a count", path=str(path))
    if isinstance(value, int):
        number: float = math.inf if value.bit_length() > 1023 else float(value)
        if 0 <= value <= MAX_COUNT:
            return value
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    problem = _count_problem(number)
    if problem is not None:
        raise InputError(
            f"{field}: {problem}; give a whole number of items or shots, or null", path=str(path)
        )
    return round(number)


def check_counts(frame: pl.DataFrame, column: str, path: str | Path) -> pl.Series:
    """The numbers in ``column`` as Float64 (null where a cell is empty or not a number); the first number
    that cannot be a count raises naming its row (see the module docstring), as does a Boolean column."""
    source = frame[column]
    if source.dtype == pl.Boolean:
        index = _first_index(frame, pl.col(column).is_not_null())
        if index is not None:
            raise InputError(
                f"column {column}, {_where(frame, index)}: a boolean is not a count", path=str(path)
            )
    if source.dtype.is_numeric() or source.dtype in (pl.Boolean, pl.Null):
        numbers = source.cast(pl.Float64)
    else:
        numbers = source.cast(pl.Utf8).str.strip_chars().cast(pl.Float64, strict=False)
    whole = (numbers - numbers.round()).abs() <= COUNT_TOLERANCE
    bad = numbers.is_nan() | numbers.is_infinite() | (numbers < 0) | (numbers > MAX_COUNT) | ~whole
    hits = bad.fill_null(False).arg_true()
    if len(hits):
        index = int(hits[0])
        raise _not_a_count(frame, column, index, _count_problem(float(numbers[index])) or "", path)
    return numbers


def _not_a_count(frame: pl.DataFrame, column: str, index: int, problem: str, path: str | Path) -> InputError:
    return InputError(
        f"column {column}, {_where(frame, index)}: {problem}; give a whole number or leave the cell empty",
        path=str(path),
    )


def cast_count(frame: pl.DataFrame, column: str, path: str | Path) -> pl.DataFrame:
    """``column`` as Int64 counts (empty cells are null); a value that is not a number, or a number that
    cannot be a count, raises naming its row."""
    numbers = check_counts(frame, column, path)
    source = frame[column]
    if source.dtype == pl.Utf8:
        text = source.str.strip_chars()
        unparsed = (numbers.is_null() & text.is_not_null() & (text != "")).arg_true()
        if len(unparsed):
            index = int(unparsed[0])
            raise _not_a_count(frame, column, index, f"{shown(source[index])} is not a count", path)
    return frame.with_columns(numbers.round().cast(pl.Int64).alias(column))


# What each canonical column may hold, and the words that say so in a message.
_TEXT, _NUMBER, _FLAG, _NUMBER_LIST, _TEXT_LIST = "text", "number", "flag", "number list", "text list"
WANTED: dict[str, str] = {
    _TEXT: "text (String)",
    _NUMBER: "a number (Float64 or Int64)",
    _FLAG: "true/false (Boolean)",
    _NUMBER_LIST: "a list of numbers (List(Float64), or JSON text like [-0.1, -2.3])",
    _TEXT_LIST: 'a list of texts (List(String), or JSON text like ["a", "b"])',
}
COLUMN_ROLES: dict[str, str] = {
    **{c: _TEXT for c in (*schema.IDENTITY, schema.ITEM, schema.TARGET, schema.PREDICTION, schema.METRIC)},
    **{c: _NUMBER for c in (*schema.SCALES, schema.VALUE, schema.N, schema.STDERR, schema.N_CORRECT)},
    schema.CORRECT_CHOICE: _NUMBER,
    schema.NOMINAL: _FLAG,
    schema.TARGET_LOGPROBS: _NUMBER_LIST,
    schema.CHOICE_LOGLIKS: _NUMBER_LIST,
    schema.TARGET_TOKENS: _TEXT_LIST,
    schema.PREDICTION_TOKENS: _TEXT_LIST,
}


def _is_textual(dtype: pl.DataType) -> bool:
    return dtype == pl.Utf8 or isinstance(dtype, pl.Categorical | pl.Enum)


def _is_plain(dtype: pl.DataType) -> bool:
    """Numbers, booleans, text or all-null: what a scalar cell may hold before casting."""
    return dtype.is_numeric() or dtype in (pl.Boolean, pl.Null) or _is_textual(dtype)


def _fits(dtype: pl.DataType, role: str) -> bool:
    if dtype == pl.Null:
        return True
    if role in (_TEXT, _NUMBER, _FLAG):
        return _is_plain(dtype)
    if isinstance(dtype, pl.List | pl.Array):
        inner = dtype.inner
        return inner is not None and _is_plain(inner)
    return dtype == pl.Utf8


def check_column_types(frame: pl.DataFrame, path: str | Path, numeric: Sequence[str] = ()) -> None:
    """Each canonical column (and each column in ``numeric``) must have a type its role can be read from.

    A struct, list, binary, date or duration where a number or a text is wanted (and so on) raises naming the
    column, the type found and the type wanted, before any cast could fail or turn it into something else.
    """
    roles = {**COLUMN_ROLES, **{c: _NUMBER for c in numeric}}
    for column, dtype in frame.schema.items():
        role = roles.get(column)
        if role is None or _fits(dtype, role):
            continue
        if role == _NUMBER and dtype.is_temporal():
            hint = "store the number itself, not a date or duration"
        elif dtype == pl.Binary:
            hint = "store it as text (a UTF-8 string column), not bytes"
        else:
            hint = "store one plain value per cell, or map another column to it with --map"
        found = str(dtype)
        found = found if len(found) <= MESSAGE_VALUE_CHARS else found[:MESSAGE_VALUE_CHARS] + "..."
        raise InputError(
            f"column {column} has type {found}; {WANTED[role]} is wanted: {hint}", path=str(path)
        )


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
        f"{c}={shown(frame[c][index])}"
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
    elif isinstance(source.dtype, pl.Categorical | pl.Enum):
        source = source.cast(pl.Utf8)
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
            f"column {column}, {_where(frame, index)}: {shown(frame[column][index])} is not {hint}; "
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
    what = ", ".join(f"{c}={shown(values[c])}" for c in key)
    rows = (
        f"{_where(frame, first)} and {_where(frame, second)}"
        if ROW in frame.columns
        else "two rows"  # without row numbers, _where would repeat the values named below
    )
    raise InputError(f"{rows} repeat {what}; {hint}", path=str(path))


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
        f"task {shown(row[schema.TASK])} (family {shown(row[schema.FAMILY])}) has per-sample rows and "
        f"aggregate rows for metric {shown(row[schema.METRIC])}; load one kind, or rename the task in one of "
        "them",
        path=sources,
    )
