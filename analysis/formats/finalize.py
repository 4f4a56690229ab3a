"""The readers' common tail: one reader's table -> canonical, cast, completed and validated.

Every reader ends with ``finalize`` so that all formats get the same casting, scale handling and validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from analysis import schema, threads
from analysis.errors import InputError
from analysis.files import read_bytes, with_lf_line_ends
from analysis.formats.model_sizes import family_from_name, params_from_name
from analysis.formats.validation import (
    ROW,
    cast_count,
    cast_numeric,
    check_aggregates,
    check_choices,
    check_column_types,
    check_duplicates,
    check_outputs,
    check_scales,
    require_columns,
    shown,
)
from analysis.options import LoadOptions
from analysis.schema import ResultTable

_TEXT = (
    schema.FAMILY,
    schema.MODEL,
    schema.TASK,
    schema.ITEM,
    schema.TARGET,
    schema.PREDICTION,
    schema.METRIC,
)
_LISTS = (schema.TARGET_TOKENS, schema.PREDICTION_TOKENS, schema.TARGET_LOGPROBS, schema.CHOICE_LOGLIKS)

# files that sit beside results (a README, a licence) and are passed over in a directory without a warning
DOCUMENT_SUFFIXES = frozenset(
    {".md", ".txt", ".rst", ".html", ".pdf", ".png", ".svg", ".license", ".yml", ".yaml"}
)


def _cast_text(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(pl.col(c).cast(pl.Utf8) for c in _TEXT if c in frame.columns)
    return _cast_replicate(frame)


def _cast_replicate(frame: pl.DataFrame) -> pl.DataFrame:
    """The optional ``replicate`` label as text; whole-number seeds read ``"1"``, not ``"1.0"``."""
    if schema.REPLICATE not in frame.columns:
        return frame
    column = frame[schema.REPLICATE]
    if column.dtype.is_float() and bool((column.drop_nulls() == column.drop_nulls().round()).all()):
        column = column.cast(pl.Int64)
    return frame.with_columns(column.cast(pl.Utf8).alias(schema.REPLICATE))


def _replicate(frame: pl.DataFrame) -> list[str]:
    """``[replicate]`` when the rows carry replicate labels (kept through ``finalize``), else ``[]``."""
    return [schema.REPLICATE] if schema.REPLICATE in frame.columns else []


def _require_identity(frame: pl.DataFrame, path: str | Path) -> None:
    for column in (schema.MODEL, schema.TASK):
        index = frame.select(pl.col(column).is_null().arg_true().first()).item()
        if index is not None:
            where = f"row {frame[ROW][index]}" if ROW in frame.columns else f"row {index + 1}"
            raise InputError(f"column {column}, {where}: empty; every row needs a {column}", path=str(path))


def _decode_lists(frame: pl.DataFrame, path: str | Path) -> pl.DataFrame:
    """List columns held as JSON text (CSV cells like "[-0.1, -2.3]") become native lists of schema type."""
    for column in (c for c in _LISTS if c in frame.columns):
        dtype = schema.DTYPES[column]
        if frame.schema[column] == dtype:
            continue
        if frame.schema[column] == pl.Utf8:
            text = frame[column].str.strip_chars()
            try:
                decoded = text.str.json_decode(dtype)
            except pl.exceptions.PolarsError:
                decoded = None
            # only cells that decoded to null (or all, when the whole column failed) can be the bad one
            suspects = (
                range(text.len())
                if decoded is None
                else (decoded.is_null() & text.is_not_null() & (text != "")).arg_true().to_list()
            )
            for index in suspects:
                cell = text[index]
                try:
                    pl.Series([cell]).str.json_decode(dtype)
                except pl.exceptions.PolarsError:
                    where = f"row {frame[ROW][index]}" if ROW in frame.columns else f"row {index + 1}"
                    problem = f"{shown(cell)} is not a JSON list (write it like [-0.1, -2])"
                    raise InputError(f"column {column}, {where}: {problem}", path=str(path)) from None
            if decoded is None:
                raise InputError(f"column {column}: cannot read its cells as JSON lists", path=str(path))
            frame = frame.with_columns(decoded.alias(column))
        else:
            try:
                frame = frame.with_columns(pl.col(column).cast(dtype))
            except pl.exceptions.PolarsError as err:
                detail = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
                raise InputError(
                    f"column {column} has type {frame.schema[column]}; it cannot be read as {dtype} "
                    f"({detail})",
                    path=str(path),
                ) from err
    return frame


def _read_sizes(options: LoadOptions) -> pl.DataFrame:
    path = Path(options.sizes_file or "")
    if path.exists() and not path.is_dir():
        data = with_lf_line_ends(read_bytes(path))  # never memory-mapped; refuses a FIFO or a device
    else:
        raise InputError(
            "sizes file not found; give a CSV with columns model,params[,tokens]", path=str(path)
        )
    try:
        sizes = pl.read_csv(data, infer_schema=False).with_row_index(ROW, offset=1)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(f"cannot read the sizes file as CSV ({err})", path=str(path)) from err
    require_columns(sizes.columns, [schema.MODEL, schema.PARAMS], path, "a sizes file")
    columns = [c for c in (schema.PARAMS, schema.TOKENS) if c in sizes.columns]
    for column in columns:
        sizes = cast_numeric(sizes, column, pl.Float64(), path)
    check_scales(sizes, path)
    return sizes.select(schema.MODEL, *columns).unique(schema.MODEL, keep="last")


_TRUE_WORDS = {
    "true": True,
    "t": True,
    "yes": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "0": False,
}


def _nominal_flags(frame: pl.DataFrame, path: str | Path) -> tuple[pl.DataFrame, list[str]]:
    """``params_nominal`` as Boolean flags; a column of parameter *counts* under that name becomes params.

    Published tables use ``params_nominal`` for "the parameter count the model name states"; when the file has
    no params of its own, those numbers are taken as params (flagged nominal) with a warning.
    """
    if schema.NOMINAL not in frame.columns or frame.schema[schema.NOMINAL] == pl.Boolean:
        return frame, []
    column = frame[schema.NOMINAL]
    if column.dtype == pl.Utf8:
        words = column.str.strip_chars().str.to_lowercase()
        flags = words.replace_strict(_TRUE_WORDS, default=None, return_dtype=pl.Boolean)
        if not bool((flags.is_null() & words.is_not_null() & (words != "")).any()):
            return frame.with_columns(flags.alias(schema.NOMINAL)), []
    numbers = (
        column.cast(pl.Float64, strict=False)
        if column.dtype != pl.Utf8
        else column.str.strip_chars().cast(pl.Float64, strict=False)
    )
    present = numbers.drop_nulls()
    if len(present) and bool(present.is_in([0.0, 1.0]).all()) and numbers.null_count() == column.null_count():
        return frame.with_columns((numbers == 1.0).alias(schema.NOMINAL)), []
    has_params = schema.PARAMS in frame.columns and frame[schema.PARAMS].null_count() < frame.height
    if has_params or numbers.null_count() > column.null_count():
        raise InputError(
            f"column {schema.NOMINAL} should be true/false but holds other values; if it holds parameter "
            f"counts, map it with --map {schema.NOMINAL}={schema.PARAMS}",
            path=str(path),
        )
    frame = frame.with_columns(numbers.alias(schema.PARAMS), numbers.is_not_null().alias(schema.NOMINAL))
    note = f"{path}: column {schema.NOMINAL} holds parameter counts: used as params (nominal)"
    return frame, [note]


def _apply_scales(
    frame: pl.DataFrame, options: LoadOptions, path: str | Path
) -> tuple[pl.DataFrame, list[str]]:
    """Scales as positive Float64, with sizes file, names, scale factors and flops = 6 N D applied."""
    frame, warnings = _nominal_flags(frame, path)
    for column in schema.SCALES:
        frame = (
            cast_numeric(frame, column, pl.Float64(), path)
            if column in frame.columns
            else frame.with_columns(pl.lit(None, pl.Float64).alias(column))
        )
    check_scales(frame, path)
    for column, factor in options.scale_factors.items():
        if column not in schema.SCALES:
            raise InputError(f"scale factor for '{column}': only {', '.join(schema.SCALES)} can be scaled")
        frame = frame.with_columns(pl.col(column) * float(factor))
    nominal = pl.col(schema.NOMINAL) if schema.NOMINAL in frame.columns else pl.lit(False)
    frame = frame.with_columns(nominal.fill_null(False).alias(schema.NOMINAL))
    if options.sizes_file:
        sizes = _read_sizes(options)
        given = [c for c in sizes.columns if c != schema.MODEL]
        frame = (
            frame.join(sizes.rename({c: f"_size_{c}" for c in given}), on=schema.MODEL, how="left")
            .with_columns(pl.coalesce(f"_size_{c}", c).alias(c) for c in given)
            .with_columns(
                pl.when(pl.col(f"_size_{schema.PARAMS}").is_not_null())
                .then(False)
                .otherwise(pl.col(schema.NOMINAL))
                .alias(schema.NOMINAL)
            )
            .drop(f"_size_{c}" for c in given)
        )
    if options.params_from_name:
        missing = frame.filter(pl.col(schema.PARAMS).is_null())[schema.MODEL].unique().sort().to_list()
        parsed = {name: params_from_name(name) for name in missing}
        found = {name: value for name, value in parsed.items() if value is not None}
        if found:
            lookup = pl.DataFrame(
                {schema.MODEL: list(found), "_parsed": list(found.values())},
                schema={schema.MODEL: pl.Utf8, "_parsed": pl.Float64},
            )
            frame = (
                frame.join(lookup, on=schema.MODEL, how="left")
                .with_columns(
                    pl.col(schema.NOMINAL) | pl.col("_parsed").is_not_null(),
                    pl.coalesce(schema.PARAMS, "_parsed").alias(schema.PARAMS),
                )
                .drop("_parsed")
            )
            warnings.append(
                f"{path}: params parsed from model names (nominal) for {len(found)} model(s): "
                + ", ".join(f"{name}={value:.3g}" for name, value in found.items())
            )
    flops = pl.coalesce(schema.FLOPS, 6.0 * pl.col(schema.PARAMS) * pl.col(schema.TOKENS))
    frame = frame.with_columns(flops.alias(schema.FLOPS))
    _check_overflow(frame, path)
    return frame, warnings


def _check_overflow(frame: pl.DataFrame, path: str | Path) -> None:
    """Finite scales can overflow to infinity through scale factors or 6 N D: say so, never plot it."""
    for column in schema.SCALES:
        index = frame.select(pl.col(column).is_infinite().arg_true().first()).item()
        if index is not None:
            where = f"row {frame[ROW][index]}" if ROW in frame.columns else f"row {index + 1}"
            raise InputError(
                f"column {column}, {where}: becomes infinite after --scale factors or flops = 6 x params x "
                "tokens; check the units of params and tokens",
                path=str(path),
            )


def _run_checks(*checks: Callable[[], None]) -> None:
    """Run independent checks at once (polars and numpy release the GIL, so one check's single-threaded
    passes overlap another's); the first failure in the order given is raised, as running them in turn
    would."""
    if len(checks) < 2:
        for check in checks:
            check()
        return
    with threads.pool(len(checks)) as pool:
        futures = [pool.submit(check) for check in checks]
    for future in futures:
        future.result()


def _finalize_samples(frame: pl.DataFrame, prescored: Sequence[str], path: str | Path) -> pl.DataFrame:
    frame = _decode_lists(frame, path)
    if schema.CORRECT_CHOICE in frame.columns:
        frame = cast_numeric(frame, schema.CORRECT_CHOICE, pl.Int64(), path)
    for column in prescored:
        frame = cast_numeric(frame, column, pl.Float64(), path)
    _run_checks(
        lambda: check_outputs(frame, [*_LISTS, *prescored], path),
        lambda: check_choices(frame, path),
        lambda: check_duplicates(frame, schema.SAMPLE_KEY, path),
    )
    outputs = [c for c in schema.OUTPUT_COLUMNS if c in frame.columns]
    columns = [*schema.IDENTITY, *schema.SCALES, schema.NOMINAL, schema.ITEM, *_replicate(frame)]
    return frame.select(*columns, *outputs, *prescored)


def _finalize_aggregates(frame: pl.DataFrame, path: str | Path) -> pl.DataFrame:
    numeric = {schema.VALUE: pl.Float64(), schema.N: pl.Int64(), schema.STDERR: pl.Float64()}
    numeric[schema.N_CORRECT] = pl.Float64()
    for column, dtype in numeric.items():
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(column))
        elif column == schema.N:
            frame = cast_count(frame, column, path)
        else:
            frame = cast_numeric(frame, column, dtype, path)
    from_counts = pl.col(schema.N_CORRECT) / pl.col(schema.N)
    frame = frame.with_columns(pl.coalesce(schema.VALUE, from_counts).alias(schema.VALUE))
    check_aggregates(frame, path)
    check_duplicates(frame, schema.AGGREGATE_KEY, path)
    columns = [*schema.IDENTITY, *schema.SCALES, schema.NOMINAL, schema.METRIC, schema.VALUE, schema.N]
    return frame.select(*columns, schema.STDERR, schema.N_CORRECT, *_replicate(frame))


def _finalize_frame(
    frame: pl.DataFrame, options: LoadOptions, path: str | Path
) -> tuple[pl.DataFrame, list[str]]:
    require_columns(frame.columns, [schema.MODEL, schema.TASK], path, "a results table")
    family = options.family or schema.DEFAULT_FAMILY
    if schema.FAMILY not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(schema.FAMILY))
    frame = _cast_text(frame)
    if options.family_from_name:  # rows whose file names no family: the family their model's name states
        unnamed = pl.col(schema.FAMILY).is_null() | (pl.col(schema.FAMILY) == schema.DEFAULT_FAMILY)
        frame = frame.with_columns(
            pl.when(unnamed).then(None).otherwise(pl.col(schema.FAMILY)).alias(schema.FAMILY)
        )
        named = {
            m: family_from_name(m)
            for m in frame.filter(pl.col(schema.FAMILY).is_null())[schema.MODEL].unique()
        }
        lookup = pl.DataFrame(
            {schema.MODEL: list(named), "_named": list(named.values())},
            schema={schema.MODEL: pl.Utf8, "_named": pl.Utf8},
        )
        frame = (
            frame.join(lookup, on=schema.MODEL, how="left")
            .with_columns(pl.coalesce(schema.FAMILY, "_named").alias(schema.FAMILY))
            .drop("_named")
        )
    frame = frame.with_columns(pl.col(schema.FAMILY).fill_null(family))
    _require_identity(frame, path)
    return _apply_scales(frame, options, path)


def empty_samples() -> pl.DataFrame:
    """The per-sample frame ``finalize`` gives when there are no samples (identity, scales, nominal, item)."""
    return (
        schema.empty_samples()
        .with_columns(pl.lit(None, pl.Boolean).alias(schema.NOMINAL))
        .select(*schema.IDENTITY, *schema.SCALES, schema.NOMINAL, schema.ITEM)
    )


def empty_aggregates() -> pl.DataFrame:
    """The aggregate frame ``finalize`` produces when there are no aggregate rows."""
    frame = schema.empty_aggregates().with_columns(
        pl.lit(None, pl.Boolean).alias(schema.NOMINAL), pl.lit(None, pl.Float64).alias(schema.N_CORRECT)
    )
    columns = [*schema.IDENTITY, *schema.SCALES, schema.NOMINAL, schema.METRIC, schema.VALUE, schema.N]
    return frame.select(*columns, schema.STDERR, schema.N_CORRECT)


def finalize(table: ResultTable, options: LoadOptions, path: str | Path) -> ResultTable:
    """Cast, complete and validate one reader's table; every reader returns ``finalize(...)``.

    Expects canonical column names (plus the pre-scored columns named in ``table.prescored`` and optionally
    ``validation.ROW`` with 1-based data row numbers for error messages). Fills a missing family, parses JSON
    list cells, casts to ``schema.DTYPES``, applies scale factors, the sizes file and names, sets
    ``flops = 6 N D`` where missing, computes ``value = n_correct / n`` for count rows, keeps an optional
    ``replicate`` label (as text), and raises ``InputError`` on bad values and on columns whose type cannot
    hold their role (a struct ``value``).
    """
    warnings = list(table.warnings)
    samples, aggregates = empty_samples(), empty_aggregates()
    check_column_types(table.samples, path, numeric=table.prescored)
    check_column_types(table.aggregates, path)
    if not table.samples.is_empty():
        frame, notes = _finalize_frame(table.samples, options, path)
        samples = _finalize_samples(frame, table.prescored, path)
        warnings += notes
    if not table.aggregates.is_empty():
        frame, notes = _finalize_frame(table.aggregates, options, path)
        aggregates = _finalize_aggregates(frame, path)
        warnings += notes
    prescored = tuple(c for c in table.prescored if c in samples.columns)
    sources = table.sources or (str(path),)
    return ResultTable(samples, aggregates, prescored, tuple(dict.fromkeys(warnings)), sources)


def fill_scales_by_model(frame: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Fill missing scales and a default family from ``reference`` rows of the same model name.

    A file that holds only scores (ObsScaling's emergent-task table) gets the sizes, tokens, FLOPs and family
    that another loaded file gives the same model name. Rows that already have a scale keep theirs.
    """
    known = reference.select(schema.MODEL, schema.FAMILY, *schema.SCALES).unique(schema.MODEL, keep="first")
    known = known.rename({c: f"_ref_{c}" for c in (schema.FAMILY, *schema.SCALES)})
    joined = frame.join(known, on=schema.MODEL, how="left")
    family = (
        pl.when(pl.col(schema.FAMILY).is_null() | (pl.col(schema.FAMILY) == schema.DEFAULT_FAMILY))
        .then(pl.coalesce(f"_ref_{schema.FAMILY}", schema.FAMILY))
        .otherwise(pl.col(schema.FAMILY))
    )
    filled = joined.with_columns(
        family.alias(schema.FAMILY),
        *(pl.coalesce(c, f"_ref_{c}").alias(c) for c in schema.SCALES),
    )
    return filled.drop([c for c in filled.columns if c.startswith("_ref_")])
