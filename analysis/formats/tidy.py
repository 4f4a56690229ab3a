"""Tidy tables (CSV/TSV, Parquet, JSON Lines): one row per model x task x item, or per model x task x metric.

Which kind a file is follows from its columns (after ``--map``): an ``item`` column makes it per-sample;
``value`` (with ``metric``), or ``n_correct`` + ``n``, make it aggregate. In CSV, list columns are JSON
arrays in a cell. Without a ``metric`` column the metric id is the name of the column mapped to ``value``
(``--map exact_match_accuracy=value`` gives ``exact_match_accuracy``), or ``accuracy`` for a count table.
A table without ``item``, ``value`` and counts but with a ``loss`` column (model, params and/or tokens, loss:
Chinchilla's runs) is a loss table: task ``pretraining``, metric ``loss``, the table ``--y loss`` fits.
A shots column (``shots``, ``num_fewshot``, ``n_shots``, ``number_of_shots``, ``fewshot``) is folded into
the name of each task run at several settings as ``<task> <k>-shot``, so settings are never pooled. Other
numeric columns of a per-sample file are pre-scored metrics; other columns of an aggregate file are ignored.

The file is read into memory first (``analysis.files.read_bytes``) and polars parses the bytes: a
memory-mapped read of a file rewritten meanwhile would kill the process with SIGBUS. Text with classic-Mac
line ends (CR only) is read as if its line ends were LF. A numeric shots value must be a count
(a whole number from 0 up); a text label is folded as it is.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.files import read_bytes, with_lf_line_ends
from analysis.formats.finalize import finalize
from analysis.formats.frames import drop_where, fold_shots
from analysis.formats.jsonio import check_utf8_text
from analysis.formats.mapping import apply_mapping
from analysis.formats.validation import (
    ROW,
    check_column_types,
    check_counts,
    describe_columns,
    require_columns,
    suggest_column,
)
from analysis.formats.wide import LOSS_TASK
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "tidy"
SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "ndjson",
    ".ndjson": "ndjson",
    ".json-lines": "ndjson",
}
SHOTS_COLUMNS: tuple[str, ...] = ("shots", "num_fewshot", "n_shots", "number_of_shots", "fewshot")
COUNTS_METRIC = "accuracy"


def sniff(path: Path) -> bool:
    """Any file with a tidy-table suffix (this reader is the fallback, tried last)."""
    return path.is_file() and path.suffix.lower() in SUFFIXES


def _kind(path: Path) -> str:
    return SUFFIXES.get(path.suffix.lower(), "csv")  # a forced --format-in tidy reads other names as CSV


_TEXT_COLUMNS = frozenset(
    (schema.FAMILY, schema.MODEL, schema.TASK, schema.ITEM, schema.TARGET, schema.PREDICTION, schema.METRIC)
)


def _scan(path: Path, data: bytes, mapping: dict[str, str], all_strings: bool = False) -> pl.LazyFrame:
    """Scan the file's bytes ``data`` (never the path: polars would memory-map it) as ``path``'s kind."""
    kind = _kind(path)
    if kind == "parquet":
        return pl.scan_parquet(io.BytesIO(data))
    if kind == "ndjson":
        return pl.scan_ndjson(io.BytesIO(data), infer_schema_length=None)
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    if all_strings:
        return pl.scan_csv(data, separator=separator, infer_schema=False)
    header = pl.scan_csv(data, separator=separator, infer_schema=False).collect_schema().names()
    text = {name: pl.Utf8 for name in header if mapping.get(name, name) in _TEXT_COLUMNS}
    return pl.scan_csv(data, separator=separator, infer_schema_length=None, schema_overrides=text)


def _collect(path: Path, options: LoadOptions) -> pl.DataFrame:
    """Read lazily with the mapping applied; fall back to all-text CSV so validation can name the row."""
    kind = _kind(path)
    if kind != "parquet":
        check_utf8_text(path)
    data = read_bytes(path)
    if kind != "parquet":
        data = with_lf_line_ends(data)
    try:
        return (
            apply_mapping(_scan(path, data, options.mapping), options.mapping, path)
            .with_row_index(ROW, offset=1)
            .collect()
        )
    except InputError:
        raise
    except pl.exceptions.NoDataError as err:
        raise InputError(
            "the file is empty; give a table with a header row and data rows", path=str(path)
        ) from err
    except pl.exceptions.PolarsError as err:  # a CSV gets a second, all-text read below
        if kind != "csv":
            raise InputError(f"cannot read it as {kind}: {err}", path=str(path)) from err
    except OSError as err:
        raise InputError(f"cannot read the file ({err})", path=str(path)) from err
    try:
        return (
            apply_mapping(_scan(path, data, options.mapping, all_strings=True), options.mapping, path)
            .with_row_index(ROW, offset=1)
            .collect()
        )
    except (pl.exceptions.PolarsError, OSError) as err:
        problem = _first_line(err)
        hint = "; re-save it as UTF-8 text" if "utf-8" in problem.lower() else ""
        raise InputError(f"cannot read it as CSV ({problem}){hint}", path=str(path)) from err


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _fold_shots(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    shots = next((c for c in SHOTS_COLUMNS if c in frame.columns), None)
    if shots is None or schema.TASK not in frame.columns:
        return frame
    check_counts(frame, shots, path)
    return fold_shots(frame.with_columns(pl.col(schema.TASK).cast(pl.Utf8)), shots)


def _read_loss_table(
    frame: pl.DataFrame, options: LoadOptions, path: Path, notes: list[str] | None = None
) -> ResultTable:
    """A table of training runs (model, params and/or tokens, loss): the aggregate table ``--y loss`` fits.

    Each row is one run; its loss becomes the value of task ``pretraining`` (or the row's task), metric
    ``loss`` (lower is better), as the wide reader does for a loss-only table.
    """
    columns = frame.columns
    scales = [c for c in (schema.PARAMS, schema.TOKENS, schema.FLOPS) if c in columns]
    required = [schema.MODEL] + ([] if scales else [schema.PARAMS, schema.TOKENS])
    require_columns(columns, required, path, "a loss table (model, params and/or tokens, loss)")
    frame = frame.with_columns(
        pl.col(schema.LOSS).alias(schema.VALUE),
        pl.lit(schema.LOSS).alias(schema.METRIC),
        *([] if schema.TASK in columns else [pl.lit(LOSS_TASK).alias(schema.TASK)]),
    )
    unused = [c for c in columns if c not in schema.CANONICAL_COLUMNS and c != ROW]
    note = f"{path}: a loss table: each row is a training run, scored as task {LOSS_TASK!r}, metric 'loss'"
    notes = [*(notes or []), note + " (fit it with --y loss)"]
    if unused:
        notes.append(f"{path.name}: columns not used: {', '.join(unused)}")
    return finalize(ResultTable(aggregates=frame, warnings=tuple(notes), sources=(str(path),)), options, path)


def _metric_name(options: LoadOptions, has_value: bool) -> str:
    """The metric id of a table without a metric column: the column mapped to value, else ``accuracy``."""
    if has_value:
        return next(
            (their for their, canonical in options.mapping.items() if canonical == schema.VALUE), "value"
        )
    return COUNTS_METRIC


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Boolean


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read one tidy file into a finalized ResultTable (see the module docstring for the rules)."""
    path = Path(path)
    options = options or LoadOptions()
    return read_frame(_collect(path, options), path, options)


def read_frame(frame: pl.DataFrame, path: Path, options: LoadOptions) -> ResultTable:
    """The rows of a tidy file, read with ``options.mapping`` applied and numbered in ``ROW``, as a finalized
    ResultTable (``read``'s rules; ``analysis.by_task`` gives it one task's rows at a time)."""
    if frame.is_empty():
        raise InputError("the file has a header but no data rows; give at least one row", path=str(path))
    frame, dropped = drop_where(frame, options.drop_where, path, options.mapping)
    check_column_types(frame, path, numeric=SHOTS_COLUMNS)
    columns = frame.columns
    if schema.ITEM in columns:
        require_columns(columns, [schema.MODEL, schema.TASK, schema.ITEM], path, "a per-sample file")
        frame = _fold_shots(frame, path)
        outputs = [c for c in schema.OUTPUT_COLUMNS if c in frame.columns]
        extra = [c for c in frame.columns if c not in schema.CANONICAL_COLUMNS and c != ROW]
        prescored = tuple(c for c in extra if _is_numeric(frame.schema[c]))
        if not outputs and not prescored:
            raise InputError(
                "a per-sample file needs outputs (target and prediction, target_logprobs, or choice_logliks "
                "and correct_choice) or numeric score columns; none found, map them with --map",
                path=str(path),
            )
        table = ResultTable(samples=frame, prescored=prescored, warnings=tuple(dropped), sources=(str(path),))
        return finalize(table, options, path)
    has_value = schema.VALUE in columns
    has_counts = schema.N_CORRECT in columns and schema.N in columns
    if not (has_value or has_counts) and schema.LOSS in columns:
        return _read_loss_table(frame, options, path, dropped)
    if not (has_value or has_counts):
        guesses = {c: suggest_column(c, columns) for c in (schema.ITEM, schema.METRIC, schema.VALUE)}
        fixes = " ".join(f"--map {guess}={c}" for c, guess in guesses.items() if guess)
        fix = f"try {fixes}" if fixes else "map them with --map"
        raise InputError(
            "cannot tell the kind of table: a per-sample file needs an item column, an aggregate file "
            f"metric and value (or n_correct and n) columns; {fix} "
            f"(the file has: {describe_columns(columns)})",
            path=str(path),
        )
    require_columns(columns, [schema.MODEL, schema.TASK], path, "an aggregate file")
    frame = _fold_shots(frame, path)
    if schema.METRIC not in frame.columns:
        frame = frame.with_columns(pl.lit(_metric_name(options, has_value)).alias(schema.METRIC))
    table = ResultTable(aggregates=frame, warnings=tuple(dropped), sources=(str(path),))
    return finalize(table, options, path)
