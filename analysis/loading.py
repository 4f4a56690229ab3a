"""Load result files, directories or globs into one canonical ``ResultTable``.

Every reader ends with ``finalize`` so that all formats get the same casting, scale handling and validation.
``load`` then concatenates the readers' tables and checks what only shows across files (duplicates, per-sample
and aggregate rows for the same task and metric). The user's files are only ever opened for reading.

Decisions: a directory loads the files it can and lists each file it skipped (unknown format or bad content)
in ``warnings``, but a file named directly that cannot be read raises. Folders are listed by
``analysis.files.walk``: each real folder once (a symlink loop or a second way into a folder is named once
and not followed), and special files, unreadable files and unreadable folders are listed as skipped, never
opened; a special file named directly (a FIFO, a socket, a device) is refused with one line. A glob is
expanded without following symlinks (``Path.glob``), so a loop cannot make it run forever. A sizes file
(``model,params[,tokens]``) overrides the scales in the results; ``params_from_name`` only fills params
that are still missing. ``scale_factors`` multiply the results' scale columns (not the sizes file, which
is in plain units).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.files import Tree, read_problem, require_regular, walk
from analysis.formats import registry
from analysis.formats.finalize import DOCUMENT_SUFFIXES, empty_aggregates, empty_samples, fill_scales_by_model
from analysis.formats.validation import check_duplicates, check_not_mixed
from analysis.metrics import sample_metric_ids
from analysis.options import LoadOptions
from analysis.schema import ResultTable

_GLOB_CHARS = frozenset("*?[")
DEFAULT_OPTIONS = LoadOptions()


# ---------------------------------------------------------------- load: paths -> one table


def _glob(pattern: str) -> list[Path]:
    """The paths matching ``pattern`` (``**`` for any depth), hidden names left out unless the pattern names
    them; ``Path.glob`` never follows a symlink into a folder, so a loop cannot make it run forever."""
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
    anchor = Path(*parts[:first]) if first else Path(".")
    rest = "/".join(parts[first:])
    if not anchor.is_dir():
        return []
    shows_hidden = any(part.startswith(".") for part in parts[first:])
    found = []
    for match in anchor.glob(rest):
        relative = match.relative_to(anchor).parts
        if shows_hidden or not any(part.startswith(".") for part in relative):
            found.append(match if first else Path(*relative))
    return sorted(found)


def _expand(raw: str | Path) -> list[Path]:
    path = Path(raw)
    if path.exists() or path.is_symlink():
        return [path]
    if _GLOB_CHARS & set(str(raw)):
        matches = _glob(str(raw))
        if not matches:
            raise InputError(
                f"no file matches the pattern {raw}; check the pattern and quote it in the shell"
            )
        return matches
    raise InputError("file not found; check the path", path=str(raw))


def _read_file(path: Path, options: LoadOptions) -> ResultTable:
    """Read one file named directly: any failure raises."""
    require_regular(path)
    try:
        empty = path.stat().st_size == 0
    except OSError as err:
        raise InputError(read_problem(err), path=str(path)) from err
    if not path.is_file():
        raise InputError("not a regular file; give a result file or a directory", path=str(path))
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
    """Offer ``path`` to directory readers, else walk it: good files load, bad ones go to ``warnings``.

    Each folder of the walk (in order, each real folder once) is offered to the directory readers first; one
    that takes it reads it whole, and the files below it are not offered again. A directory reader failing on
    ``path`` itself raises; on a subfolder, the subfolder is skipped with a warning.
    """
    tree = walk(path)
    warnings += tree.skipped
    return _read_tree(tree, options, warnings)


def _read_tree(tree: Tree, options: LoadOptions, warnings: list[str]) -> list[ResultTable]:
    tables: list[ResultTable] = []
    taken: Path | None = None  # the last folder a directory reader read whole (entries come in pre-order)
    for entry in (tree.root, *tree.entries):
        if taken is not None and entry.is_relative_to(taken):
            continue
        if entry in tree.folders:
            reader = registry.directory_reader(entry, options.format_in)
            if reader is None:
                continue
            taken = entry
            if entry == tree.root:
                tables.append(_read_with(reader, entry, options))
                continue
            try:
                tables.append(_read_with(reader, entry, options))
            except InputError as err:
                warnings.append(f"skipped: {err}")
            continue
        reader = (
            registry.reader_for(entry)
            if options.format_in is None
            else registry.directory_reader(entry, options.format_in)
        )
        if reader is None:
            if entry.suffix.lower() not in DOCUMENT_SUFFIXES:
                warnings.append(
                    f"skipped: {InputError('not a result file in a known format', path=str(entry))}"
                )
            continue
        try:
            tables.append(_read_with(reader, entry, options))
        except InputError as err:
            warnings.append(f"skipped: {err}")
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


def _describe_sources(sources: Sequence[str], shown: int = 1) -> str:
    """The files of a check across files, short enough for one line: all of them when few, else a count."""
    if len(sources) <= shown + 1:
        return ", ".join(sources)
    return f"{', '.join(sources[:shown])} and {len(sources) - shown} more files"


def _sizes_hint(options: LoadOptions) -> str:
    """What supplies sizes, leaving out what was already given."""
    if options.params_from_name and options.sizes_file:
        return "not in the sizes file and no size in the name: add it to the sizes file"
    if options.params_from_name:
        return "no size in the name: give --sizes FILE (model,params[,tokens])"
    if options.sizes_file:
        return "not in the sizes file: add it there, or give --params-from-name"
    return "give --sizes FILE (model,params[,tokens]) or --params-from-name"


def require_placed(table: ResultTable, options: LoadOptions = DEFAULT_OPTIONS) -> None:
    """Stop with one line when no model of ``table`` can be placed on any scale axis.

    Nothing can then be plotted, fitted or judged, and a report would be pages of points without a scale; a
    table with at least one placed model goes on (the others are named in its warnings).
    """
    frames = [f for f in (table.samples, table.aggregates) if not f.is_empty()]
    if not frames:
        return
    scales = pl.concat([f.select(schema.MODEL, *schema.SCALES) for f in frames])
    placed = scales.select(pl.any_horizontal(pl.col(schema.SCALES).is_not_null()).any()).item()
    if placed:
        return
    models = scales[schema.MODEL].unique().sort().to_list()
    more = f" and {len(models) - 3} more" if len(models) > 3 else ""
    shown = ", ".join(repr(m) for m in models[:3]) + more
    raise InputError(
        f"no model can be placed on a scale axis: {_sizes_hint(options)} (none of the {len(models)} model(s) "
        f"read has params, tokens, flops or loss: {shown})",
        path=_describe_sources(table.sources),
    )


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
    where = _describe_sources(sources)
    if len(tables) > 1:
        samples, aggregates = _fill_across_files(samples, aggregates)
    if len(tables) > 1:
        check_duplicates(samples, schema.SAMPLE_KEY, where)
        check_duplicates(aggregates, schema.AGGREGATE_KEY, where)
    prescored = tuple(dict.fromkeys(c for t in tables for c in t.prescored))
    check_not_mixed(samples, sample_metric_ids(samples.columns, prescored), aggregates, where)
    hint = _sizes_hint(options)
    for model in _unplaced_models(samples, aggregates):
        warnings.append(
            f"model {model!r} has no params, tokens, flops or loss: it cannot be placed on a scale axis "
            f"({hint})"
        )
    warnings = [*warnings, *(w for t in tables for w in t.warnings)]
    return ResultTable(samples, aggregates, prescored, tuple(dict.fromkeys(warnings)), sources)
