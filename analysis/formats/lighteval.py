"""lighteval details: ``details/<model>/<date>/details_<task>_<date>.parquet``, one row per sample.

Two layouts (also in docs/formats.md):

* up to 0.10, flat columns: ``example``, ``gold``, ``predictions`` (per choice ``[logprob, is_greedy]``, or
  the generated texts), ``choices``, ``gold_index``, ``metrics`` (a struct of per-sample scores), ...;
* 0.11 and later, struct columns: ``doc`` (``query``, ``choices``, ``gold_index``, ``id``, ...),
  ``model_response`` (``text``, ``logprobs`` per choice, ...) and ``metric`` (per-sample scores).

Rules: model = the folders between ``details/`` and the date folder (``org/model``); task = the file's task
name without its trailing ``|<shots>`` (``leaderboard|arc:challenge|25`` -> ``leaderboard|arc:challenge``),
the shots folded back in when a task was run at several settings. Item = ``doc.id`` when the file gives one,
else a hash of the query text (lighteval may reorder samples between runs, so a row number would pair
different questions across models); a query seen twice in one file gets ``#2``. Each numeric per-sample
score becomes a pre-scored column. A multiple-choice row (one log-probability per choice) gives
``choice_logliks`` and ``correct_choice`` (the first gold index); a generative row gives ``prediction`` (the
first text) and ``target`` (the first gold). Per model and task the newest date is used, and a warning names
older ones. The ``results_<date>.json`` files are not read: the details hold the per-sample scores they
summarise. Inspect logs written by lighteval 0.13 are read by the Inspect reader.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.files import read_bytes
from analysis.formats.finalize import finalize
from analysis.formats.frames import SHOTS, fold_shots, read_each, to_float
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "lighteval"
DETAILS_FILE = re.compile(r"^details_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9.:\-]+)\.parquet$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9.:\-]+$")
_SHOTS = re.compile(r"^(?P<task>.+)\|(?P<shots>\d+)$")


def sniff(path: Path) -> bool:
    """A ``details_<task>_<date>.parquet`` file, or a folder holding such files (at any depth)."""
    if path.is_dir():
        return next(path.rglob("details_*.parquet"), None) is not None
    return DETAILS_FILE.match(path.name) is not None


def split_task(name: str) -> tuple[str, int | None]:
    """``leaderboard|arc:challenge|25`` -> (``leaderboard|arc:challenge``, 25); no ``|<digits>``: no shots."""
    found = _SHOTS.match(name)
    return (found["task"], int(found["shots"])) if found else (name, None)


def model_of(path: Path) -> str:
    """The model a details file belongs to: the folders between ``details/`` and the date folder."""
    folder = path.parent
    if _STAMP.match(folder.name):
        folder = folder.parent
    parts: list[str] = []
    for parent in [folder, *folder.parents]:
        if parent.name == "details":
            return "/".join(reversed(parts)) or folder.name
        parts.append(parent.name)
    return folder.name


# ---------------------------------------------------------------------------------------------- rows


def _struct(value: object) -> dict:
    """A struct cell as a dict; lighteval versions that wrote JSON text are decoded."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _first(value: object) -> object:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _scores(value: object) -> dict[str, float]:
    scores = {}
    for name, raw in _struct(value).items():
        number = None if isinstance(raw, list | dict) else to_float(raw)
        if number is not None:
            scores[str(name)] = number
    return scores


def _choice_logliks(values: object, choices: object) -> list[float] | None:
    """One log-probability per choice: plain numbers (0.11+) or ``[logprob, is_greedy]`` pairs (0.10)."""
    if not isinstance(values, list) or not isinstance(choices, list) or len(choices) < 2:
        return None
    if len(values) != len(choices):
        return None
    logliks = [to_float(_first(v)) for v in values]
    return None if any(v is None for v in logliks) else logliks  # type: ignore[return-value]


def _new_row(record: dict) -> tuple[dict, str | None, bool]:
    doc, response = _struct(record.get("doc")), _struct(record.get("model_response"))
    row: dict[str, object] = dict(_scores(record.get("metric")))
    choices, gold = doc.get("choices"), _first(doc.get("gold_index"))
    logliks = _choice_logliks(response.get("logprobs"), choices)
    if logliks is not None:
        row[schema.CHOICE_LOGLIKS] = logliks
        row[schema.CORRECT_CHOICE] = int(gold) if isinstance(gold, int) else None
    else:
        text = _first(response.get("text_post_processed")) or _first(response.get("text"))
        row[schema.PREDICTION] = text if isinstance(text, str) else None
        if isinstance(choices, list) and isinstance(gold, int) and 0 <= gold < len(choices):
            row[schema.TARGET] = str(choices[gold])
    identity, query = doc.get("id"), doc.get("query")
    if isinstance(identity, str | int) and str(identity) != "":
        return row, str(identity), True
    return row, query if isinstance(query, str) else None, False


def _old_row(record: dict) -> tuple[dict, str | None, bool]:
    row: dict[str, object] = dict(_scores(record.get("metrics")))
    choices, gold = record.get("choices"), _first(record.get("gold_index"))
    predictions = record.get("predictions")
    logliks = _choice_logliks(predictions, choices)
    if logliks is not None:
        row[schema.CHOICE_LOGLIKS] = logliks
        row[schema.CORRECT_CHOICE] = int(gold) if isinstance(gold, int | float) else None
    else:
        text = _first(_first(predictions))
        row[schema.PREDICTION] = text if isinstance(text, str) else None
        target = _first(record.get("gold"))
        row[schema.TARGET] = target if isinstance(target, str) else None
    query = record.get("example") or record.get("full_prompt")
    return row, query if isinstance(query, str) else None, False


def _item(key: str | None, index: int, seen: dict[str, int], is_id: bool) -> str:
    """The item id: the doc id, else a hash of the query (``#k`` for its k-th repeat), else the row number."""
    if key is None:
        return str(index)
    base = key if is_id else hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
    seen[base] += 1
    return base if seen[base] == 1 else f"{base}#{seen[base]}"


@dataclass(frozen=True)
class Details:
    """One parsed details file."""

    path: Path
    model: str
    task: str
    shots: int | None
    stamp: str
    frame: pl.DataFrame  # item, outputs, score columns
    scores: tuple[str, ...]


def parse_details(path: Path) -> Details:
    """Parse one details parquet file of either layout; InputError (one line) when it is neither."""
    match = DETAILS_FILE.match(path.name)
    task_name = match["task"] if match else path.stem.removeprefix("details_")
    task, shots = split_task(task_name)
    try:
        table = pl.read_parquet(read_bytes(path))  # bytes, never a memory-mapped user file
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(f"cannot read it as Parquet ({str(err).splitlines()[0]})", path=str(path)) from err
    new = "doc" in table.columns and "model_response" in table.columns
    if not new and not {"predictions", "metrics"} <= set(table.columns):
        raise InputError(
            "neither lighteval layout: expected doc + model_response + metric (0.11+) or example, "
            f"predictions, metrics (up to 0.10); found {', '.join(table.columns[:8])}",
            path=str(path),
        )
    seen: dict[str, int] = defaultdict(int)
    rows = []
    for index, record in enumerate(table.iter_rows(named=True)):
        row, key, is_id = _new_row(record) if new else _old_row(record)
        row[schema.ITEM] = _item(key, index, seen, is_id)
        rows.append(row)
    if not rows:
        raise InputError("the details file has no rows", path=str(path))
    scores = tuple(
        dict.fromkeys(k for r in rows for k in r if k not in (schema.ITEM, *schema.OUTPUT_COLUMNS))
    )
    columns: dict[str, pl.DataType] = {schema.ITEM: pl.Utf8()}
    for column in schema.OUTPUT_COLUMNS:
        if any(r.get(column) is not None for r in rows):
            columns[column] = schema.DTYPES[column]
    columns.update({s: pl.Float64() for s in scores})
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema=columns, orient="row")
    stamp = match["stamp"] if match else ""
    return Details(path, model_of(path), task, shots, stamp, frame, scores)


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read one details file or a folder of them (see the module docstring for the rules)."""
    options = options or LoadOptions()
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder; check the path", path=str(path))
    files = [path] if path.is_file() else sorted(path.rglob("details_*.parquet"))
    parsed, warnings = read_each(path, files, parse_details, "lighteval details")
    newest: dict[tuple[str, str, int | None], Details] = {}
    for details in sorted((d for _, d in parsed), key=lambda d: d.stamp, reverse=True):
        key = (details.model, details.task, details.shots)
        if key in newest:
            warnings.append(f"{details.model} on {details.task}: older run {details.path.name} ignored")
        else:
            newest[key] = details
    family = options.family or schema.DEFAULT_FAMILY
    frames = [
        d.frame.with_columns(
            pl.lit(family).alias(schema.FAMILY),
            pl.lit(d.model).alias(schema.MODEL),
            pl.lit(d.task).alias(schema.TASK),
            pl.lit(d.shots, pl.Int64).alias(SHOTS),
        )
        for d in newest.values()
    ]
    samples = fold_shots(pl.concat(frames, how="diagonal_relaxed"))
    table = ResultTable(
        samples=samples,
        prescored=tuple(dict.fromkeys(s for d in newest.values() for s in d.scores)),
        warnings=tuple(warnings),
        sources=tuple(str(d.path) for d in newest.values()),
    )
    return finalize(table, options, path)
