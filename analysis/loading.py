"""Load result files, directories or globs into one canonical ``ResultTable``.

Every reader ends with ``finalize`` so that all formats get the same casting, scale handling and validation.
``load`` then concatenates the readers' tables and checks what only shows across files (duplicates, per-sample
and aggregate rows for the same task and metric). The user's files are only ever opened for reading.

Decisions: a directory loads the files it can and lists each file it skipped (unknown format or bad content)
in ``warnings``, but a file named directly that cannot be read raises. A sizes file
(``model,params[,tokens]``) overrides the scales in the results; ``params_from_name`` only fills params
that are still missing. ``scale_factors`` multiply the results' scale columns (not the sizes file, which
is in plain units).
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats import registry
from analysis.formats.finalize import DOCUMENT_SUFFIXES, empty_aggregates, empty_samples, fill_scales_by_model
from analysis.formats.validation import check_duplicates, check_not_mixed
from analysis.metrics import sample_metric_ids
from analysis.options import LoadOptions
from analysis.schema import ResultTable

_GLOB_CHARS = frozenset("*?[")
DEFAULT_OPTIONS = LoadOptions()


# ---------------------------------------------------------------- load: paths -> one table


def _expand(raw: str | Path) -> list[Path]:
    path = Path(raw)
    if path.exists():
        return [path]
    if _GLOB_CHARS & set(str(raw)):
        matches = sorted(Path(p) for p in glob.glob(str(raw), recursive=True))
        if not matches:
            raise InputError(
                f"no file matches the pattern {raw}; check the pattern and quote it in the shell"
            )
        return matches
    raise InputError("file not found; check the path", path=str(raw))


def _read_file(path: Path, options: LoadOptions) -> ResultTable:
    """Read one file named directly: any failure raises."""
    if not path.is_file():
        raise InputError("not a regular file; give a result file or a directory", path=str(path))
    try:
        empty = path.stat().st_size == 0
    except OSError as err:
        raise InputError(f"cannot read the file ({err})", path=str(path)) from err
    if empty:
        raise InputError("the file is empty; give a file with results", path=str(path))
    reader = registry.reader_for(path, options.format_in)
    if reader is None:
        names = ", ".join(module.NAME for module in registry.readers())
        raise InputError(
            f"unknown format '{path.suffix or 'no suffix'}'; give CSV, Parquet or JSON Lines, or force a "
            f"reader with --format-in ({names})",
            path=str(path),
        )
    return _read_with(reader, path, options)


def _read_with(reader: object, path: Path, options: LoadOptions) -> ResultTable:
    """``reader.read``; a polars panic (a corrupt Parquet file, found by fuzzing) becomes InputError."""
    try:
        return reader.read(path, options)  # type: ignore[attr-defined]
    except pl.exceptions.PanicException as err:
        detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else "no detail"
        raise InputError(
            f"the file could not be decoded ({detail}); it may be corrupt or truncated: re-export it",
            path=str(path),
        ) from None


def _read_directory(path: Path, options: LoadOptions, warnings: list[str]) -> list[ResultTable]:
    """Offer ``path`` to directory readers, else walk it: good files load, bad ones go to ``warnings``."""
    reader = registry.directory_reader(path, options.format_in)
    if reader is not None:
        return [_read_with(reader, path, options)]
    tables: list[ResultTable] = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            try:
                tables += _read_directory(child, options, warnings)
            except InputError as err:
                warnings.append(f"skipped {child}: {err}")
            continue
        reader = (
            registry.reader_for(child)
            if options.format_in is None
            else registry.directory_reader(child, options.format_in)
        )
        if reader is None:
            if child.suffix.lower() not in DOCUMENT_SUFFIXES:
                warnings.append(f"skipped {child}: not a result file in a known format")
            continue
        try:
            tables.append(_read_with(reader, child, options))
        except InputError as err:
            warnings.append(f"skipped {child}: {err}")
    return tables


def _combine(frames: list[pl.DataFrame], empty: pl.DataFrame, first: Sequence[str]) -> pl.DataFrame:
    frames = [f for f in frames if not f.is_empty()]
    if not frames:
        return empty
    combined = pl.concat(frames, how="diagonal_relaxed")
    casts = [pl.col(c).cast(dtype) for c, dtype in schema.DTYPES.items() if c in combined.columns]
    combined = combined.with_columns(casts)
    return combined.select(*first, *[c for c in combined.columns if c not in first])


def _unplaced_models(samples: pl.DataFrame, aggregates: pl.DataFrame) -> list[str]:
    """Models none of whose rows has a scale; only rows without any scale are grouped (usually none)."""
    frames = [
        f.lazy().select(schema.MODEL, *schema.SCALES) for f in (samples, aggregates) if not f.is_empty()
    ]
    if not frames:
        return []
    scales = pl.concat(frames)
    unscaled = pl.all_horizontal(pl.col(c).is_null() for c in schema.SCALES)
    candidates = scales.filter(unscaled).select(pl.col(schema.MODEL).unique()).collect().to_series()
    if candidates.is_empty():
        return []
    placed = scales.filter(~unscaled & pl.col(schema.MODEL).is_in(candidates.implode())).select(
        pl.col(schema.MODEL).unique()
    )
    return sorted(set(candidates.to_list()) - set(placed.collect().to_series().to_list()))


def _fill_across_files(samples: pl.DataFrame, aggregates: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give rows without any scale the scales another file states for the same model."""
    scaled = [
        f.select(schema.MODEL, schema.FAMILY, *schema.SCALES).filter(
            pl.any_horizontal(pl.col(schema.SCALES).is_not_null())
        )
        for f in (samples, aggregates)
        if f.height
    ]
    reference = pl.concat(scaled) if scaled else None
    if reference is None or reference.is_empty():
        return samples, aggregates

    def fill(frame: pl.DataFrame) -> pl.DataFrame:
        unscaled = pl.all_horizontal(pl.col(schema.SCALES).is_null())
        if frame.is_empty() or not frame.select(unscaled.any()).item():
            return frame
        columns = frame.columns
        return fill_scales_by_model(frame, reference).select(columns)

    return fill(samples), fill(aggregates)


def load(paths: Sequence[str | Path], options: LoadOptions = DEFAULT_OPTIONS) -> ResultTable:
    """Read files, directories and globs into one validated ``ResultTable`` (see the module docstring)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise InputError("no input given; name result files, a directory or a glob")
    tables: list[ResultTable] = []
    warnings: list[str] = []
    for raw in paths:
        for path in _expand(raw):
            if path.is_dir():
                found = _read_directory(path, options, warnings)
                if not found:
                    problem = next((w for w in warnings if str(path) in w), "it holds no files")
                    raise InputError(
                        f"no result file could be read in this directory ({problem})", path=str(path)
                    )
                tables += found
            else:
                tables.append(_read_file(path, options))
    samples = _combine([t.samples for t in tables], empty_samples(), empty_samples().columns)
    aggregates = _combine([t.aggregates for t in tables], empty_aggregates(), empty_aggregates().columns)
    sources = tuple(dict.fromkeys(s for t in tables for s in t.sources))
    where = ", ".join(sources)
    if len(tables) > 1:
        samples, aggregates = _fill_across_files(samples, aggregates)
    if len(tables) > 1:
        check_duplicates(samples, schema.SAMPLE_KEY, where)
        check_duplicates(aggregates, schema.AGGREGATE_KEY, where)
    prescored = tuple(dict.fromkeys(c for t in tables for c in t.prescored))
    check_not_mixed(samples, sample_metric_ids(samples.columns, prescored), aggregates, where)
    for model in _unplaced_models(samples, aggregates):
        warnings.append(
            f"model {model!r} has no params, tokens, flops or loss: it cannot be placed on a scale axis "
            "(give --sizes FILE or --params-from-name)"
        )
    warnings = [*warnings, *(w for t in tables for w in t.warnings)]
    return ResultTable(samples, aggregates, prescored, tuple(dict.fromkeys(warnings)), sources)
