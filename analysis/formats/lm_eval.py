"""lm-evaluation-harness 0.4.x output: ``DIR/<model>/results_<date>.json`` + ``samples_<task>_<date>.jsonl``.

Accepts an output folder with one sub-folder per model (any depth), a single model folder, a single results
file, or a single samples file. Rules (documented in docs/formats.md):

* Runs: per model folder, task and shots setting the newest run (by the datetime in the file name) wins;
  older runs are named in a warning. A task run at several shot settings becomes ``"<task> <k>-shot"`` tasks.
* Metric ids: ``"<metric>,none"`` -> ``metric``; ``"<metric>,<filter>"`` -> ``"<metric>[<filter>]"``.
  stderr "N/A" -> null; n from ``n-samples[task].effective``; params from ``config.model_num_parameters``;
  tokens from ``config.training_tokens``; model from ``model_name``, else the folder name.
* Samples: one row per ``doc_id`` (item). Multiple choice (``filtered_resps`` a list of [loglik, is_greedy]
  per choice) -> ``choice_logliks`` + ``correct_choice``; generation -> ``target`` + ``prediction``. Each
  per-sample metric key becomes a pre-scored column with the same metric id as the aggregate. When one file
  holds several filters, each filter's scores become their own columns (never pooled as extra items) and the
  outputs come from filter ``none`` (else the first filter), which a warning names.
* Layouts of older and newer releases: a samples file may be JSON Lines (also named ``samples_*.json``) or,
  from 0.4.0 to 0.4.2, an indented JSON array under a ``.jsonl`` name; records without a ``filter`` field
  repeat each ``doc_id`` once per filter in the results' order; records without a ``metrics`` list carry
  their metrics as extra numeric keys; leaves may be strings (``"-1.23"``, ``"False"``); ``n-samples`` may be
  ``{original, effective}`` (effective used); ``name`` and ``sample_len`` in a results block are not metrics.
* A task x metric that has per-sample rows does not also get its aggregate row (the two would be pooled);
  the aggregate is compared with the per-sample mean and a mismatch is reported as a warning.
* Folder loads skip bad files and list them in warnings; a single bad file raises InputError.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats.finalize import finalize
from analysis.formats.frames import aggregate_frame, fold_shots, multi_shot_tasks, to_float
from analysis.formats.jsonio import head_text, iter_jsonl, read_json
from analysis.formats.validation import as_count
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "lm_eval"

RESULTS_FILE = re.compile(r"^results_(?P<stamp>.+)\.json$")
SAMPLES_FILE = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9.:\-]+)\.jsonl?$")
# A 0.4.x results key such as "acc,none" or "exact_match,strict-match".
_FILTERED_KEY = re.compile(r'"[^"\s,]+,[^"\s,]+"\s*:')
_STEM_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T[0-9.:\-]+)")
_NOT_METRICS = frozenset({"alias", "name", "sample_len", "samples"})
CROSS_CHECK_TOLERANCE = 1e-6


def metric_id(metric: str, filter_name: str) -> str:
    """The metric id of an lm-eval metric under a filter: ``acc`` or ``exact_match[strict-match]``."""
    return metric if filter_name in ("none", "") else f"{metric}[{filter_name}]"


def sniff(path: Path) -> bool:
    """A results/samples file named the 0.4.x way, a JSON with ``metric,filter`` keys, or a folder of them."""
    if path.is_dir():
        return any(path.glob("results_*.json")) or any(path.glob("*/results_*.json"))
    if RESULTS_FILE.match(path.name) or SAMPLES_FILE.match(path.name):
        return True
    if path.suffix.lower() != ".json":
        return False
    head = head_text(path)
    return '"results"' in head and _FILTERED_KEY.search(head) is not None


# ----------------------------------------------------------------------------------------------------
# results files


@dataclass(frozen=True)
class Run:
    """One parsed results file: who was evaluated, and its aggregate rows per task."""

    path: Path
    stamp: str
    model: str
    params: float | None
    tokens: float | None
    shots: dict[str, int | None]
    n: dict[str, int | None]
    rows: dict[str, list[dict]]  # task -> aggregate records (metric, value, stderr)
    filters: dict[str, list[str]]  # task -> its filters in the results' order


def _stamp(path: Path) -> str:
    match = RESULTS_FILE.match(path.name) or SAMPLES_FILE.match(path.name)
    if match:
        return match.group("stamp")
    found = _STEM_STAMP.search(path.stem)
    return found.group(1) if found else ""


def _positive(value: object) -> float | None:
    number = to_float(value)
    return number if number is not None and number > 0 and math.isfinite(number) else None


def _model_name(data: dict, folder: Path) -> str:
    name = data.get("model_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return folder.name


def parse_results(path: Path) -> Run:
    """Parse one 0.4.x results file; InputError (one line) when it is not one."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError(
            "no 'results' object; is this an lm-evaluation-harness results_<date>.json file?", path=str(path)
        )
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    n_samples = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    n_shot = data.get("n-shot") if isinstance(data.get("n-shot"), dict) else {}
    rows: dict[str, list[dict]] = {}
    filters: dict[str, list[str]] = {}
    n: dict[str, int | None] = {}
    shots: dict[str, int | None] = {}
    for task, block in data["results"].items():
        if not isinstance(block, dict):
            continue
        counts = n_samples.get(task) if isinstance(n_samples.get(task), dict) else {}
        which = "effective" if "effective" in counts else "original"
        effective = as_count(counts.get(which), f"n-samples.{task}.{which}", path)
        if effective is None:
            effective = as_count(block.get("sample_len"), f"results.{task}.sample_len", path)
        n[task] = effective
        shots[task] = as_count(n_shot.get(task), f"n-shot.{task}", path)
        task_rows = []
        for key, raw in block.items():
            if "," not in key or key in _NOT_METRICS:
                continue
            metric, filter_name = key.split(",", 1)
            if metric.endswith("_stderr"):
                continue
            filters.setdefault(task, [])
            if filter_name not in filters[task]:
                filters[task].append(filter_name)
            value = to_float(raw)
            if value is None:
                continue
            stderr = to_float(block.get(f"{metric}_stderr,{filter_name}"))
            task_rows.append(
                {schema.METRIC: metric_id(metric, filter_name), schema.VALUE: value, schema.STDERR: stderr}
            )
        rows[task] = task_rows
    return Run(
        path=path,
        stamp=_stamp(path),
        model=_model_name(data, path.parent),
        params=_positive(config.get("model_num_parameters")),
        tokens=_positive(config.get("training_tokens")),
        shots=shots,
        n=n,
        rows=rows,
        filters=filters,
    )


# ----------------------------------------------------------------------------------------------------
# samples files


@dataclass(frozen=True)
class Samples:
    """One parsed samples file: one record per doc_id, pre-scored columns, and what to tell the user."""

    frame: pl.DataFrame  # item + outputs + pre-scored columns (no identity yet)
    prescored: tuple[str, ...]
    warnings: tuple[str, ...]


def _first_text(value: object) -> str | None:
    while isinstance(value, list) and value:
        value = value[0]
    if value is None or isinstance(value, list | dict):
        return None
    return str(value)


def _choice_logliks(resps: object) -> list[float] | None:
    """Per-choice log-likelihoods when ``filtered_resps`` holds 2+ [loglik, is_greedy] pairs."""
    if not isinstance(resps, list) or len(resps) < 2:
        return None
    logliks = []
    for pair in resps:
        if not isinstance(pair, list) or len(pair) != 2:
            return None
        value = to_float(pair[0])
        if value is None:
            return None
        logliks.append(value)
    return logliks


def _choices(record: dict) -> list[str]:
    arguments = record.get("arguments")
    if isinstance(arguments, list):  # 0.4.0-0.4.2: [[context, continuation], ...]
        texts = [a[1] for a in arguments if isinstance(a, list) and len(a) == 2]
        if texts and len(texts) == len(arguments) and all(isinstance(t, str) for t in texts):
            return texts
    if isinstance(arguments, dict):
        keys = sorted(arguments, key=lambda k: int(re.sub(r"\D", "", k) or 0))
        texts = [arguments[k].get("arg_1") for k in keys if isinstance(arguments[k], dict)]
        if texts and all(isinstance(t, str) for t in texts):
            return texts
    doc = record.get("doc")
    if isinstance(doc, dict) and isinstance(doc.get("choices"), list):
        return [str(c) for c in doc["choices"]]
    return []


def _correct_choice(record: dict, n_choices: int) -> int | None:
    """0-based index of the right choice: an integer target, else the target text among the choices."""
    target = record.get("target")
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target if 0 <= target < n_choices else None
    if isinstance(target, str):
        text = target.strip()
        if re.fullmatch(r"\d+", text):
            index = int(text)
            return index if index < n_choices else None
        stripped = [c.strip() for c in _choices(record)]
        if text in stripped:
            return stripped.index(text)
    return None


# Fields of a samples record that are not per-sample metrics (for records without a "metrics" list).
_SAMPLE_FIELDS = frozenset(
    {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "task_name"}
)
_TRUTH_WORDS = {"true": 1.0, "false": 0.0}


def sample_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(number, record) of a samples file in any layout lm-eval wrote: JSON Lines (also under a ``.json``
    name, as mid-2024 runs and the Open LLM Leaderboard v2 details have it) or, from 0.4.0 to 0.4.2, one
    indented JSON array under a ``.jsonl`` name (records numbered from 1 in the array)."""
    if head_text(path, 4096).lstrip("\ufeff \t\r\n").startswith("["):
        data = read_json(path)
        if not isinstance(data, list):
            raise InputError("expected a JSON array of sample records", path=str(path))
        for number, record in enumerate(data, start=1):
            if not isinstance(record, dict):
                raise InputError(f"record {number}: expected a JSON object", path=str(path))
            yield number, record
        return
    yield from iter_jsonl(path)


def leaf_number(value: object) -> float | None:
    """A per-sample value as a number; leaves written as strings ("-1.23", "True") count too."""
    if isinstance(value, list | dict):
        return None
    number = to_float(value)
    if number is None and isinstance(value, str):
        return _TRUTH_WORDS.get(value.strip().lower())
    return number


def _metric_names(record: dict) -> list[str]:
    """The record's per-sample metric keys: its "metrics" list, else (before 0.4.3) its numeric extra keys."""
    if isinstance(record.get("metrics"), list):
        return [str(name) for name in record["metrics"]]
    return [
        k
        for k, v in record.items()
        if k not in _SAMPLE_FIELDS and not k.endswith("_hash") and leaf_number(v) is not None
    ]


def parse_samples(path: Path, declared_n: int | None = None, filters_hint: Sequence[str] = ()) -> Samples:
    """Parse one samples file into per-item rows (see the module docstring).

    ``filters_hint`` is the task's filters in the results' order: records without a ``filter`` field
    (before 0.4.3) repeat each ``doc_id`` once per filter, in that order, so the k-th repeat is the k-th
    filter's.
    """
    by_filter: dict[str, dict[str, dict]] = defaultdict(dict)
    filters: list[str] = []
    skipped_metrics: set[str] = set()
    duplicates = 0
    repeats: dict[str, int] = defaultdict(int)
    unplaced_targets: list[tuple[str, object, int]] = []  # (doc_id, target, choices) with no valid index
    for number, record in sample_records(path):
        if "doc_id" not in record:
            raise InputError(
                f"{path} line {number}: no 'doc_id'; is this an lm-eval samples file?", path=str(path)
            )
        item = str(record["doc_id"])
        if record.get("filter") is not None:
            filter_name = str(record["filter"]) or "none"
        else:
            seen = repeats[item]
            repeats[item] += 1
            filter_name = filters_hint[seen] if seen < len(filters_hint) else "none"
        if filter_name not in by_filter:
            filters.append(filter_name)
        if item in by_filter[filter_name]:
            duplicates += 1
            continue
        row: dict[str, object] = {schema.ITEM: item}
        logliks = _choice_logliks(record.get("filtered_resps"))
        if logliks is not None:
            row[schema.CHOICE_LOGLIKS] = logliks
            row[schema.CORRECT_CHOICE] = _correct_choice(record, len(logliks))
            if row[schema.CORRECT_CHOICE] is None:
                unplaced_targets.append((item, record.get("target"), len(logliks)))
        elif isinstance(record.get("filtered_resps"), list | str) and not _is_loglik_pair(record):
            row[schema.TARGET] = _first_text(record.get("target"))
            row[schema.PREDICTION] = _first_text(record.get("filtered_resps"))
        for name in _metric_names(record):
            number_value = leaf_number(record.get(name))
            if number_value is None:
                skipped_metrics.add(str(name))
                continue
            row[metric_id(str(name), filter_name)] = number_value
        by_filter[filter_name][item] = row
    if not filters:
        raise InputError("no records; the samples file is empty", path=str(path))
    primary = "none" if "none" in by_filter else filters[0]
    merged: dict[str, dict] = {item: dict(row) for item, row in by_filter[primary].items()}
    for filter_name in filters:
        if filter_name == primary:
            continue
        for item, row in by_filter[filter_name].items():
            target = merged.setdefault(item, {schema.ITEM: item})
            target.update(
                {k: v for k, v in row.items() if k not in schema.OUTPUT_COLUMNS and k != schema.ITEM}
            )
    records = list(merged.values())
    prescored = tuple(
        dict.fromkeys(k for r in records for k in r if k != schema.ITEM and k not in schema.OUTPUT_COLUMNS)
    )
    columns: dict[str, pl.DataType] = {schema.ITEM: pl.Utf8()}
    for column in schema.OUTPUT_COLUMNS:
        if any(column in r for r in records):
            columns[column] = schema.DTYPES[column]
    columns.update({name: pl.Float64() for name in prescored})
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in records], schema=columns, orient="row")
    warnings = []
    if len(filters) > 1:
        warnings.append(
            f"{path.name}: filters {', '.join(filters)} kept as separate metric columns; "
            f"target and prediction come from filter '{primary}'"
        )
    if unplaced_targets:
        item, target, count = unplaced_targets[0]
        warnings.append(
            f"{path.name}: {len(unplaced_targets)} record(s) whose target is not one of their choices "
            f"(e.g. doc_id {item}: target {str(target)[:40]!r} of {count} choices); their choice metrics "
            "are left empty"
        )
    if duplicates:
        warnings.append(f"{path.name}: {duplicates} repeated doc_id records ignored (first kept)")
    if skipped_metrics:
        warnings.append(
            f"{path.name}: per-sample {', '.join(sorted(skipped_metrics))} not a number per doc; "
            "kept only as the results-file aggregate"
        )
    if declared_n is not None and frame.height != declared_n:
        warnings.append(
            f"{path.name}: {frame.height} records but n-samples says {declared_n}; loaded the {frame.height}"
        )
    return Samples(frame=frame, prescored=prescored, warnings=tuple(warnings))


def _is_loglik_pair(record: dict) -> bool:
    """A single [loglik, is_greedy] response (loglikelihood task, one continuation): no text to compare."""
    resps = record.get("filtered_resps")
    return (
        isinstance(resps, list)
        and len(resps) == 1
        and isinstance(resps[0], list)
        and len(resps[0]) == 2
        and to_float(resps[0][0]) is not None
    )


# ----------------------------------------------------------------------------------------------------
# putting a folder together


@dataclass
class _Collected:
    aggregates: list[dict]
    samples: list[pl.DataFrame]
    prescored: dict[str, None]
    warnings: list[str]
    sources: list[str]


def _problem(err: InputError, strict: bool, collected: _Collected) -> None:
    if strict:
        raise err
    collected.warnings.append(f"skipped: {err}")


def _model_folders(path: Path) -> dict[Path, list[Path]]:
    """Each folder holding results files -> those files (one folder per model in lm-eval's layout)."""
    files = [path] if path.is_file() else sorted(path.rglob("results_*.json"))
    folders: dict[Path, list[Path]] = defaultdict(list)
    for file in files:
        folders[file.parent].append(file)
    return folders


def _read_folder(
    folder: Path, results_files: list[Path], strict: bool, collected: _Collected, family: str
) -> None:
    runs: list[Run] = []
    for file in results_files:
        try:
            runs.append(parse_results(file))
        except InputError as err:
            _problem(err, strict, collected)
    runs.sort(key=lambda run: run.stamp, reverse=True)
    samples_files: dict[tuple[str, str], Path] = {}
    for file in sorted(folder.glob("samples_*.json*")):
        match = SAMPLES_FILE.match(file.name)
        if match:
            samples_files[(match.group("task"), match.group("stamp"))] = file
    chosen: dict[tuple[str, int | None], Run] = {}
    older: dict[tuple[str, int | None], list[Run]] = defaultdict(list)
    for run in runs:
        for task in run.rows:
            key = (task, run.shots.get(task))
            if key in chosen:
                older[key].append(run)
            else:
                chosen[key] = run
    for (task, shots), kept_runs in older.items():
        collected.warnings.append(
            f"{folder.name}: {len(kept_runs)} older run(s) of {task} ignored; kept the newest, "
            f"{chosen[(task, shots)].path.name}"
        )
    for (task, shots), run in chosen.items():
        identity = {
            schema.FAMILY: family,
            schema.MODEL: run.model,
            schema.TASK: task,
            schema.PARAMS: run.params,
            schema.TOKENS: run.tokens,
            "_shots": shots,
        }
        covered: set[str] = set()
        samples_path = samples_files.get((task, run.stamp))
        if samples_path is not None:
            try:
                parsed = parse_samples(samples_path, run.n.get(task), run.filters.get(task, ()))
            except InputError as err:
                _problem(err, strict, collected)
                parsed = None
            if parsed is not None:
                frame = parsed.frame.with_columns(
                    pl.lit(v, dtype=schema.DTYPES.get(k, pl.Int64())).alias(k) for k, v in identity.items()
                )
                collected.samples.append(frame)
                collected.prescored.update(dict.fromkeys(parsed.prescored))
                collected.warnings.extend(f"{folder.name}/{w}" for w in parsed.warnings)
                collected.sources.append(str(samples_path))
                covered = set(parsed.prescored)
                complete = run.n.get(task) is not None and parsed.frame.height == run.n.get(task)
                for row in run.rows[task]:
                    metric = row[schema.METRIC]
                    if metric in covered and complete:
                        mean = parsed.frame[metric].mean()
                        if mean is not None and abs(mean - row[schema.VALUE]) > CROSS_CHECK_TOLERANCE:
                            collected.warnings.append(
                                f"{samples_path.name}: mean per-sample {metric} {mean:.6g} differs from "
                                f"{run.path.name} ({row[schema.VALUE]:.6g}); using the per-sample rows"
                            )
        for row in run.rows[task]:
            if row[schema.METRIC] in covered:
                continue
            collected.aggregates.append({**identity, **row, schema.N: run.n.get(task)})
        collected.sources.append(str(run.path))


def _read_lone_samples(path: Path, options: LoadOptions) -> ResultTable:
    """A samples file on its own: the model comes from the results file of the same run, else the folder."""
    match = SAMPLES_FILE.match(path.name)
    task = match.group("task") if match else path.stem.removeprefix("samples_")
    stamp = match.group("stamp") if match else ""
    run = None
    sibling = path.parent / f"results_{stamp}.json"
    if stamp and sibling.is_file():
        run = parse_results(sibling)
    parsed = parse_samples(path, run.n.get(task) if run else None, run.filters.get(task, ()) if run else ())
    frame = parsed.frame.with_columns(
        pl.lit(options.family or schema.DEFAULT_FAMILY, dtype=pl.Utf8()).alias(schema.FAMILY),
        pl.lit(run.model if run else path.parent.name, dtype=pl.Utf8()).alias(schema.MODEL),
        pl.lit(task, dtype=pl.Utf8()).alias(schema.TASK),
        pl.lit(run.params if run else None, dtype=pl.Float64()).alias(schema.PARAMS),
        pl.lit(run.tokens if run else None, dtype=pl.Float64()).alias(schema.TOKENS),
    )
    table = ResultTable(
        samples=_with_scales(frame),
        prescored=parsed.prescored,
        warnings=parsed.warnings,
        sources=(str(path),),
    )
    return finalize(table, options, path)


def _with_scales(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in schema.SCALES if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.Float64()).alias(c) for c in missing)
    first = [*schema.IDENTITY, *schema.SCALES, schema.ITEM]
    return frame.select(*first, *[c for c in frame.columns if c not in first])


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read an lm-eval 0.4.x output folder, model folder, results or samples file (see the module doc)."""
    options = options or LoadOptions()
    path = Path(path)
    family = options.family or schema.DEFAULT_FAMILY
    if (path.is_file() and SAMPLES_FILE.match(path.name)) or path.suffix == ".jsonl":
        return _read_lone_samples(path, options)
    if not path.exists():
        raise InputError("no such file or folder; check the path", path=str(path))
    strict = path.is_file()
    collected = _Collected(aggregates=[], samples=[], prescored={}, warnings=[], sources=[])
    folders = _model_folders(path)
    if not folders:
        raise InputError(
            "no results_<date>.json files found; is this an lm-eval --output_path folder?", path=str(path)
        )
    for folder, files in folders.items():
        _read_folder(folder, files, strict, collected, family)
    if not collected.aggregates and not collected.samples:
        raise InputError(f"no readable lm-eval results ({'; '.join(collected.warnings[:2])})", path=str(path))
    aggregates = aggregate_frame(collected.aggregates, extra={"_shots": pl.Int64()})
    samples = pl.concat(collected.samples, how="diagonal_relaxed") if collected.samples else None
    several = multi_shot_tasks([aggregates] if samples is None else [aggregates, samples])
    aggregates = fold_shots(aggregates, tasks=several)
    table_samples = _with_scales(fold_shots(samples, tasks=several)) if samples is not None else None
    table = ResultTable(
        samples=table_samples if table_samples is not None else schema.empty_samples(),
        aggregates=aggregates,
        prescored=tuple(collected.prescored),
        warnings=tuple(collected.warnings),
        sources=tuple(dict.fromkeys(collected.sources)),
    )
    return finalize(table, options, path)


__all__ = ["NAME", "metric_id", "parse_results", "parse_samples", "read", "sniff"]
