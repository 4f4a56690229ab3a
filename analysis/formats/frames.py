"""Small helpers the format readers share: canonical frames from records, shots folding, family names.

Readers build plain Python records (one dict per row) and turn them into typed polars frames here, so every
reader emits the dtypes of ``schema.DTYPES`` (scales Float64) whatever the source file held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

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


def aggregate_frame(records: Sequence[dict], extra: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
    """Aggregate rows with the canonical columns and dtypes; ``extra`` adds reader-specific columns."""
    columns = {c: schema.DTYPES[c] for c in AGGREGATE_COLUMNS}
    columns.update(extra or {})
    return (
        pl.DataFrame([{c: r.get(c) for c in columns} for r in records], schema=columns, orient="row")
        if records
        else pl.DataFrame(schema=columns)
    )


def read_json_tree(
    path: Path, parse: Callable[[Path], list[dict]], what: str
) -> tuple[list[dict], list[str], list[str]]:
    """Records, sources and skip warnings from one JSON file or every ``*.json`` below a folder.

    A file named directly must parse; in a folder bad files are skipped with a warning, and a folder with no
    readable file raises naming ``what`` and the first problems.
    """
    if path.is_file():
        return parse(path), [str(path)], []
    records: list[dict] = []
    sources: list[str] = []
    skipped: list[str] = []
    for file in sorted(path.rglob("*.json")):
        try:
            records.extend(parse(file))
            sources.append(str(file))
        except InputError as err:
            skipped.append(f"skipped: {err}")
    if not records:
        raise InputError(f"no readable {what} ({'; '.join(skipped[:2]) or 'no .json files'})", path=str(path))
    return records, sources, skipped


def fold_shots(frame: pl.DataFrame, column: str = "_shots") -> pl.DataFrame:
    """Fold ``column`` into the task name (``"<task> <k>-shot"``) when the frame has several shot settings."""
    if frame[column].drop_nulls().n_unique() <= 1:
        return frame
    folded = pl.format("{} {}-shot", pl.col(schema.TASK), pl.col(column))
    return frame.with_columns(
        pl.when(pl.col(column).is_null()).then(pl.col(schema.TASK)).otherwise(folded).alias(schema.TASK)
    )


def shots_task(task: str, shots: int | None) -> str:
    """The task with its shots folded in: ``"<task> <k>-shot"`` (unchanged when shots is None)."""
    return task if shots is None else f"{task} {int(shots)}-shot"


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
