"""BIG-bench task results: ``<task>/results/*.json``, each one model's ``model`` block and a ``scores`` list.

One aggregate row per model x (sub)task x shots x metric in ``score_dict``. Rules (also in docs/formats.md):

* task: ``subtask_description`` (``"arithmetic:1_digit_addition"``, or the task name for the task-level
  entry); shots folded in as ``"<task> <k>-shot"`` for a task the files hold at several shot settings.
* family and model: ``model.model_family`` and ``model.model_name`` (``options.family`` overrides the family).
* params: ``non_embedding_params`` (``options.params_field="non_embedding"``, the default), ``total_params``
  (``"total"``) or ``flop_matched_non_embedding_params`` (``"flop_matched"``); a warning says which.
* n and stderr: not in these files (null).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats.finalize import finalize
from analysis.formats.frames import aggregate_frame, fold_shots, read_json_tree, to_float
from analysis.formats.jsonio import head_text, read_json
from analysis.formats.validation import as_count
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "bigbench"
PARAMS_FIELDS: dict[str, str] = {
    "non_embedding": "non_embedding_params",
    "total": "total_params",
    "flop_matched": "flop_matched_non_embedding_params",
}


def sniff(path: Path) -> bool:
    """A .json whose opening holds a BIG-bench model block, or a folder with such files (checks a few)."""
    if path.is_dir():
        files = (
            sorted(path.glob("*.json"))
            or sorted(path.glob("*/results/*.json"))
            or sorted(path.rglob("*.json"))
        )
        return any(_sniff_file(p) for p in files[:3])
    return _sniff_file(path)


def _sniff_file(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    head = head_text(path, 16384)
    return '"model_family"' in head and ('"non_embedding_params"' in head or '"total_params"' in head)


def _task_name(path: Path, data: dict) -> str:
    task = data.get("task")
    if isinstance(task, dict) and isinstance(task.get("task_name"), str):
        return task["task_name"]
    if path.parent.name == "results":
        return path.parent.parent.name
    return path.stem


def parse_file(path: Path, params_field: str) -> list[dict]:
    """Aggregate records of one BIG-bench results file; InputError (one line) when it is not one."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise InputError("no 'model' block; is this a BIG-bench results JSON?", path=str(path))
    scores = data.get("scores")
    if not isinstance(scores, list):
        raise InputError("no 'scores' list; is this a BIG-bench results JSON?", path=str(path))
    model = data["model"]
    name = model.get("model_name")
    if not isinstance(name, str) or not name:
        raise InputError(
            "model.model_name is missing; every BIG-bench result names its model", path=str(path)
        )
    params = to_float(model.get(PARAMS_FIELDS[params_field]))
    task = _task_name(path, data)
    records = []
    for index, entry in enumerate(scores):
        if not isinstance(entry, dict) or not isinstance(entry.get("score_dict"), dict):
            raise InputError(f"scores[{index}] has no score_dict object", path=str(path))
        shots = as_count(entry.get("number_of_shots"), f"scores[{index}].number_of_shots", path)
        subtask = entry.get("subtask_description") or task
        for metric, raw in entry["score_dict"].items():
            value = to_float(raw)
            if value is None:
                continue
            records.append(
                {
                    schema.FAMILY: model.get("model_family"),
                    schema.MODEL: name,
                    schema.TASK: str(subtask),
                    schema.PARAMS: params if params is not None and params > 0 else None,
                    schema.METRIC: str(metric),
                    schema.VALUE: value,
                    "_shots": shots,
                }
            )
    return records


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read one BIG-bench results file, a task's ``results/`` folder, or a tree of task folders."""
    options = options or LoadOptions()
    path = Path(path)
    if options.params_field not in PARAMS_FIELDS:
        raise InputError(f"--params-field {options.params_field}: use one of {', '.join(PARAMS_FIELDS)}")
    if not path.exists():
        raise InputError("no such file or folder; check the path", path=str(path))
    warnings = [
        f"BIG-bench params are model.{PARAMS_FIELDS[options.params_field]} "
        "(--params-field non_embedding, total or flop_matched)"
    ]
    records, sources, skipped = read_json_tree(
        path, lambda file: parse_file(file, options.params_field), "BIG-bench results"
    )
    warnings += skipped
    frame = aggregate_frame(records, extra={"_shots": pl.Int64()})
    if options.family:
        frame = frame.with_columns(pl.lit(options.family).alias(schema.FAMILY))
    frame = fold_shots(frame)
    table = ResultTable(aggregates=frame, warnings=tuple(warnings), sources=tuple(sources))
    return finalize(table, options, path)
