"""Small helpers the format readers share: canonical frames from records, shots folding, family names.

Readers build plain Python records (one dict per row) and turn them into typed polars frames here, so every
reader emits the dtypes of ``schema.DTYPES`` (scales Float64) whatever the source file held.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl

from analysis import schema
from analysis.errors import InputError

AGGREGATE_COLUMNS: tuple[str, ...] = (
    *schema.IDENTITY,
    *schema.SCALES,
    schema.METRIC,
    schema.VALUE,
    schema.N,
    schema.STDERR,
)

# A size token standing alone in a model name: "1.4b", "125m", "7B", "1b1", "564M".
T = TypeVar("T")


def aggregate_frame(records: Sequence[dict], extra: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
    """Aggregate rows with the canonical columns and dtypes; ``extra`` adds reader-specific columns."""
    columns = {c: schema.DTYPES[c] for c in AGGREGATE_COLUMNS}
    columns.update(extra or {})
    return (
        pl.DataFrame([{c: r.get(c) for c in columns} for r in records], schema=columns, orient="row")
        if records
        else pl.DataFrame(schema=columns)
    )


def read_each(
    path: Path, files: Sequence[Path], parse: Callable[[Path], T], what: str
) -> tuple[list[tuple[Path, T]], list[str]]:
    """(file, parsed) for each readable file, and a warning per file skipped.

    The readers' rule for bad files: a file named directly (``files == [path]``) must parse; in a folder a bad
    file is skipped with a warning, and a folder with no readable file raises naming ``what`` and the first
    problems.
    """
    strict = list(files) == [path]
    parsed: list[tuple[Path, T]] = []
    skipped: list[str] = []
    for file in files:
        try:
            parsed.append((file, parse(file)))
        except InputError as err:
            if strict:
                raise
            skipped.append(f"skipped: {err}")
    if not parsed:
        raise InputError(f"no readable {what} ({'; '.join(skipped[:2]) or 'none found'})", path=str(path))
    return parsed, skipped


def read_json_tree(
    path: Path, parse: Callable[[Path], list[dict]], what: str
) -> tuple[list[dict], list[str], list[str]]:
    """Records, sources and skip warnings from one JSON file or every ``*.json`` below a folder."""
    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    parsed, skipped = read_each(path, files, parse, what)
    records = [record for _, found in parsed for record in found]
    if not records:
        raise InputError(f"no readable {what} ({'; '.join(skipped[:2]) or 'no records'})", path=str(path))
    return records, [str(file) for file, _ in parsed], skipped


SHOTS = "_shots"  # the column readers keep a task's shots setting in until it is folded


def _shots_text(column: str) -> pl.Expr:
    """The shots setting as text: ``5``, ``5.0`` and ``" 5 "`` all read ``5``; empty text is no setting."""
    text = pl.col(column).cast(pl.Utf8).str.strip_chars().str.replace(r"\.0$", "")
    return pl.when(text == "").then(None).otherwise(text)


def multi_shot_tasks(frames: Sequence[pl.DataFrame], column: str = SHOTS, by: str = schema.TASK) -> set[str]:
    """Tasks (values of ``by``) run at several shot settings across ``frames``; no setting counts as one."""
    pairs = [f.select(pl.col(by), _shots_text(column).alias(column)) for f in frames if column in f.columns]
    if not pairs:
        return set()
    counts = pl.concat(pairs).unique().group_by(by).len()
    return set(counts.filter(pl.col("len") > 1)[by].to_list())


def fold_shots(
    frame: pl.DataFrame, column: str = SHOTS, *, by: str = schema.TASK, tasks: set[str] | None = None
) -> pl.DataFrame:
    """Fold ``column`` into the task name (``"<task> <k>-shot"``) for tasks run at several shot settings.

    DESIGN.md: a task's shots setting, when a format has several, becomes part of the task name so that
    settings are never pooled; a task run at one setting keeps its plain name. The decision is per task
    (``by``, the task column unless a reader renamed tasks first) over this frame, or over ``tasks`` when a
    reader decides across several frames (``multi_shot_tasks``). Rows without a setting keep the plain name.
    The shots column is dropped.
    """
    if column not in frame.columns:
        return frame
    several = multi_shot_tasks([frame], column, by) if tasks is None else tasks
    shots = _shots_text(column)
    folded = pl.format("{} {}-shot", pl.col(schema.TASK), shots)
    fold = pl.col(by).is_in(sorted(several)) & shots.is_not_null()
    task = pl.when(fold).then(folded).otherwise(pl.col(schema.TASK))
    return frame.with_columns(task.alias(schema.TASK)).drop(column)


def to_count(value: object) -> int | None:
    """A whole non-negative number from a JSON value (``3``, ``3.0``, ``"3"``); None for anything else,
    including counts past 2**53 (not exact as floats; an Int64 column overflows not far beyond)."""
    number = to_float(value)
    if number is None or not math.isfinite(number) or not 0 <= number <= 2**53 or number != round(number):
        return None
    return int(number)


def to_float(value: object) -> float | None:
    """A number from a JSON value (numbers, numeric strings); None for "N/A", null, lists and words."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def average_repeats(
    frame: pl.DataFrame, key: Sequence[str], scores: Sequence[str]
) -> tuple[pl.DataFrame, int]:
    """One row per ``key`` (family, model, task, item): each score's mean over the item's repeats.

    Repeats are Inspect's epochs or HELM's train trials: the resampling unit stays the item, so its repeats
    are averaged first (Inspect's default ``mean`` reducer does the same). Other columns come from the first
    repeat. Returns the frame and the largest number of repeats of one item (1 when nothing was averaged).
    """
    if frame.is_empty():
        return frame, 1
    others = [c for c in frame.columns if c not in key and c not in scores]
    averaged = frame.group_by(key, maintain_order=True).agg(
        *(pl.col(c).mean() for c in scores),
        *(pl.col(c).first() for c in others),
        pl.len().alias("_repeats"),
    )
    most = int(averaged["_repeats"].max())
    return averaged.drop("_repeats").select(frame.columns), most


def _equals(frame: pl.DataFrame, column: str, value: str) -> pl.Expr:
    """Cells of ``column`` equal to ``value``: as numbers in a numeric column, else as stripped text."""
    dtype = frame.schema[column]
    if dtype.is_numeric():
        try:
            number = float(value)
        except ValueError:
            return pl.lit(False)
        return pl.col(column).cast(pl.Float64) == number
    return pl.col(column).cast(pl.Utf8).str.strip_chars() == value.strip()


def drop_where(
    frame: pl.DataFrame,
    rules: Sequence[tuple[str, str]],
    path: Path,
    mapping: dict[str, str] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Drop the rows where any ``(column, value)`` rule holds (``--drop-where COLUMN=VALUE``), with warnings.

    ``column`` is named as in the file, or by the name ``--map`` gave it. A flag column (two values, such as
    Chinchilla's 0/1 ``epoch_excluded_outlier``) left with one value only said which rows to drop: it is
    removed, so it does not become a task or a metric; any other column (a prompt type, a score) is kept. A
    missing column, or a drop of every row, stops with one line.
    """
    if not rules:
        return frame, []
    mapping = mapping or {}
    roles = {canonical: their for their, canonical in mapping.items()}

    def resolve(column: str) -> str:  # the file's name, or the name --map gives it (renamed or not yet)
        for name in (column, mapping.get(column), roles.get(column)):
            if name is not None and name in frame.columns:
                return name
        return column

    matched = pl.lit(False)
    named: list[tuple[str, str, str]] = []
    for column, value in rules:
        name = resolve(column)
        if name not in frame.columns:
            raise InputError(
                f"--drop-where {column}={value}: the table has no column {column!r} "
                f"(columns: {', '.join(frame.columns[:12])})",
                path=str(path),
            )
        rule = _equals(frame, name, value).fill_null(False)
        count = frame.select(rule.sum()).item()
        named.append((column, value, f"{count} row(s)"))
        matched = matched | rule
    kept = frame.filter(~matched)
    if kept.is_empty():
        raise InputError(
            "--drop-where drops every row: " + ", ".join(f"{c}={v}" for c, v, _ in named), path=str(path)
        )
    warnings = [
        f"{path.name}: --drop-where dropped {frame.height - kept.height} of {frame.height} rows ("
        + ", ".join(f"{c}={v}: {n}" for c, v, n in named)
        + ")"
    ]
    names = {resolve(column) for column, _ in rules}
    # a flag column (two values, e.g. 0/1) left with one: it said which rows to drop, and nothing else
    spent = sorted(
        name
        for name in names
        if frame[name].drop_nulls().n_unique() == 2 and kept[name].drop_nulls().n_unique() == 1
    )
    if spent:
        warnings.append(f"{path.name}: column(s) {', '.join(spent)} hold one value after the drop: removed")
        kept = kept.drop(spent)
    return kept, warnings
