"""Old (pre-0.4) lm-evaluation-harness JSON: ``{"results": {task: {metric: v, metric_stderr: s}}, "config"}``.

A single file or a tree of them (the Pythia evals, the harness's 2023 ``results/`` folder). Rules, also in
docs/formats.md:

* metric: every numeric key not ending in ``_stderr``; stderr from ``<metric>_stderr``; n unknown (null).
* model: in a tree, the nearest folder above the file that is not a shots folder (``zero-shot``,
  ``five-shot``, ``5-shot``, ``5shot``); for a single file, the last part of ``pretrained=`` in
  ``config.model_args``, else the file name.
* family: ``options.family``, else the model name without its size token and storage tags
  (``pythia-1.4b-deduped`` -> ``pythia-deduped``, ``opt-125m`` -> ``opt``), else ``default``.
* shots: ``config.num_fewshot``, else from the path; folded in as ``"<task> <k>-shot"`` for a task the
  files loaded hold at several shot settings.
* step: ``revision=stepN`` in ``config.model_args``, else ``stepN`` in the file name; runs with several steps
  are split by ``analysis.formats.checkpoints`` (tokens = step x ``options.tokens_per_step``).
* the same model x step x shots x task x metric in two files: the later file (path order) wins, warned.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats.checkpoints import STEP, split_checkpoints
from analysis.formats.finalize import finalize
from analysis.formats.frames import (
    aggregate_frame,
    fold_shots,
    read_json_tree,
    to_float,
)
from analysis.formats.jsonio import head_text, read_json
from analysis.formats.model_sizes import family_from_name
from analysis.formats.validation import as_count
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "lm_eval_old"

_SHOT_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "eight": 8, "ten": 10}
_SHOTS_FOLDER = re.compile(r"^(?:(\d+)|(" + "|".join(_SHOT_WORDS) + r"))[-_]?shots?$", re.IGNORECASE)
_SHOTS_IN_NAME = re.compile(r"(?:^|[-_])(\d+)[-_]?shots?(?:$|[-_.])", re.IGNORECASE)
_REVISION_STEP = re.compile(r"revision=(?:global_)?step(\d+)")
_STEP_IN_NAME = re.compile(r"step[-_]?(\d+)", re.IGNORECASE)
_FILTERED_KEY = re.compile(r'"[^"\s,]+,[^"\s,]+"\s*:')
_OPENS_WITH_RESULTS = re.compile(r'\s*\{\s*"results"\s*:\s*\{')


def sniff(path: Path) -> bool:
    """A .json opening with a ``results`` object of plain metric keys, or a folder tree holding such files."""
    if path.is_dir():
        return any(_sniff_file(p) for _, p in zip(range(5), sorted(path.rglob("*.json")), strict=False))
    return _sniff_file(path)


def _sniff_file(path: Path) -> bool:
    if path.suffix.lower() != ".json" or path.name.startswith("results_"):
        return False
    head = head_text(path, 4096)
    return _OPENS_WITH_RESULTS.match(head) is not None and _FILTERED_KEY.search(head) is None


def _pretrained(config: dict) -> str | None:
    args = config.get("model_args")
    if not isinstance(args, str):
        return None
    for part in args.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "pretrained" and value.strip():
            return value.strip().rstrip("/").rsplit("/", 1)[-1]
    return None


def _shots_from_path(path: Path) -> int | None:
    for part in [path.stem, *(p.name for p in path.parents)]:
        folder = _SHOTS_FOLDER.match(part)
        if folder:
            return int(folder.group(1)) if folder.group(1) else _SHOT_WORDS[folder.group(2).lower()]
        found = _SHOTS_IN_NAME.search(part)
        if found:
            return int(found.group(1))
    return None


def _model_from_tree(file: Path, root: Path) -> str:
    folder = file.parent
    while folder != root.parent and _SHOTS_FOLDER.match(folder.name):
        folder = folder.parent
    return folder.name


def parse_file(path: Path, model: str | None = None) -> list[dict]:
    """Aggregate records (model, task, metric, value, stderr, shots, step) of one old-format file."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError(
            "no 'results' object; is this an lm-evaluation-harness results JSON?", path=str(path)
        )
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    model = model or _pretrained(config) or path.stem
    shots = as_count(config.get("num_fewshot"), "config.num_fewshot", path)
    shots = shots if shots is not None else _shots_from_path(path)
    step_match = _REVISION_STEP.search(str(config.get("model_args", ""))) or _STEP_IN_NAME.search(path.stem)
    step = int(step_match.group(1)) if step_match else None
    records = []
    for task, block in data["results"].items():
        if not isinstance(block, dict):
            continue
        for key, raw in block.items():
            value = to_float(raw)
            if key.endswith("_stderr") or value is None:
                continue
            records.append(
                {
                    schema.MODEL: model,
                    schema.TASK: task,
                    schema.METRIC: key,
                    schema.VALUE: value,
                    schema.STDERR: to_float(block.get(f"{key}_stderr")),
                    "_shots": shots,
                    STEP: step,
                    "_file": str(path),
                }
            )
    return records


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read one old-format JSON file or a tree of them (see the module docstring for the rules)."""
    options = options or LoadOptions()
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder; check the path", path=str(path))
    if path.is_file():
        records, sources, warnings = parse_file(path), [str(path)], []
    else:
        records, sources, warnings = read_json_tree(
            path, lambda file: parse_file(file, _model_from_tree(file, path)), "old-format lm-eval JSON files"
        )
    extra = {"_shots": pl.Int64(), STEP: pl.Int64(), "_file": pl.Utf8()}
    frame = aggregate_frame(records, extra=extra)
    models = frame[schema.MODEL].unique().to_list()
    families = {
        m: options.family or family_from_name(m, needs_size=True) or schema.DEFAULT_FAMILY for m in models
    }
    frame = frame.with_columns(pl.col(schema.MODEL).replace_strict(families).alias(schema.FAMILY))
    frame = fold_shots(frame)
    key = [schema.FAMILY, schema.MODEL, STEP, schema.TASK, schema.METRIC]
    repeated = frame.filter(pl.struct(key).is_duplicated())
    if not repeated.is_empty():
        first = repeated.row(0, named=True)
        warnings.append(
            f"{repeated.select(key).unique().height} model x task x metric values are in more than one file "
            f"(e.g. {first[schema.MODEL]} {first[schema.TASK]} {first[schema.METRIC]}); the later file wins"
        )
        frame = frame.unique(subset=key, keep="last", maintain_order=True)
    frame = frame.drop("_file")
    frame, checkpoint_warnings = split_checkpoints(frame, options.tokens_per_step)
    table = ResultTable(
        aggregates=frame.select(aggregate_frame([]).columns),
        warnings=(*warnings, *checkpoint_warnings),
        sources=tuple(sources),
    )
    return finalize(table, options, path)
