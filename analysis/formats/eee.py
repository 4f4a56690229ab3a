"""Every Eval Ever (EvalEval's shared schema, ``every-eval-ever`` on PyPI, MIT): read it, write points in it.

Reading (also in docs/formats.md). An aggregate file ``<uuid>.json`` (an ``EvaluationLog``: ``model_info``,
``evaluation_results``) and its instance-level companion ``<uuid>_samples.jsonl`` (one
``InstanceLevelEvaluationLog`` per line), or JSON Lines of aggregate logs (what ``report --format eee``
writes), or a folder of them (the datastore's ``data/<benchmark>/<developer>/<model>/``):

* model ``model_info.id`` (else ``name``); params from ``model_info.additional_details``: ``params`` or
  ``num_parameters`` (a count) or ``params_billions``; tokens and family likewise when this tool wrote them.
* each ``evaluation_results[]`` entry is an aggregate row: task ``evaluation_name``, metric
  ``metric_config.metric_name`` (else ``metric_id``, else ``score``), value ``score_details.score``, stderr
  ``uncertainty.standard_error.value``, n ``uncertainty.num_samples``.
* each instance record is a per-sample value: item ``sample_id``, task ``evaluation_name``, the metric of the
  aggregate result its ``evaluation_result_id`` names (else ``score``), value ``evaluation.score``; target the
  first ``input.reference``, prediction the final ``answer_attribution`` value. An item scored several times
  for one metric is averaged. A metric that has instance rows loses its aggregate row (never pooled), which
  is compared with the instance mean.

Writing (``points_as_eee``): one aggregate ``EvaluationLog`` per family x model, as JSON Lines; each point is
an ``evaluation_results`` entry whose uncertainty holds this tool's interval (its method and level), the
stderr and n. Family, params, tokens and whether params are nominal go to ``model_info.additional_details``
(strings, as the schema requires), so the file reads back into the same points. Scores that are not finite
numbers cannot be written as JSON numbers and are left out (counted in ``source_metadata``).
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats.finalize import finalize
from analysis.formats.frames import aggregate_frame, average_repeats, to_count, to_float
from analysis.formats.jsonio import head_text, iter_jsonl, read_json
from analysis.options import LoadOptions, ResampleSettings
from analysis.schema import MetricSpec, ResultTable

NAME = "eee"
SCHEMA_VERSION = "0.3.0"
SAMPLES_SUFFIX = "_samples.jsonl"
_AGGREGATE_KEYS = ('"evaluation_results"', '"model_info"')
_INSTANCE_KEYS = ('"sample_id"', '"evaluation_id"', '"interaction_type"')
CROSS_CHECK_TOLERANCE = 1e-6
_ORIGIN = {
    "samples": "the mean over items of the per-sample values, computed by emergence-tui",
    "aggregate": "an aggregate value read by emergence-tui from the evaluation's files",
}


def sniff(path: Path) -> bool:
    """An EEE aggregate ``.json``, instance-level or aggregate ``.jsonl``, or a folder holding them."""
    if path.is_dir():
        candidates = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".jsonl"))
        return any(_sniff_file(p) for p in candidates[:5])
    return _sniff_file(path)


def _sniff_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".jsonl") or not path.is_file():
        return False
    head = head_text(path, 8192)
    if '"schema_version"' not in head:
        return False
    if suffix == ".jsonl":
        first = head.split("\n", 1)[0]
        return all(k in first for k in _INSTANCE_KEYS) or all(k in first for k in _AGGREGATE_KEYS)
    return '"evaluation_results"' in head


# ---------------------------------------------------------------------------------------------- reading


def _details(model_info: dict) -> dict:
    details = model_info.get("additional_details")
    return details if isinstance(details, dict) else {}


def _params(details: dict) -> float | None:
    for key, factor in (("params", 1.0), ("num_parameters", 1.0), ("params_billions", 1e9)):
        value = to_float(details.get(key))
        if value is not None and value > 0 and math.isfinite(value):
            return value * factor
    return None


@dataclass
class Log:
    """One aggregate log: its model and aggregate records, and the metric each result id stands for."""

    path: Path
    model: str
    family: str | None
    params: float | None
    tokens: float | None
    nominal: bool
    records: list[dict] = field(default_factory=list)
    metric_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # result id -> (task, metric)
    warnings: list[str] = field(default_factory=list)


def parse_log(data: object, path: Path, where: str) -> Log:
    """One ``EvaluationLog`` object; InputError naming ``where`` when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("evaluation_results"), list):
        raise InputError(
            f"{where}: no evaluation_results list; is this an Every Eval Ever file?", path=str(path)
        )
    info = data.get("model_info") if isinstance(data.get("model_info"), dict) else {}
    model = info.get("id") or info.get("name")
    if not isinstance(model, str) or not model:
        raise InputError(f"{where}: model_info.id is missing", path=str(path))
    details = _details(info)
    family = details.get("family") if isinstance(details.get("family"), str) else None
    tokens = to_float(details.get("tokens"))
    nominal = str(details.get("params_nominal", "")).lower() == "true"
    log = Log(path, model, family, _params(details), tokens, nominal)
    seen: set[tuple[str, str]] = set()
    for index, result in enumerate(data["evaluation_results"]):
        at = f"{where} evaluation_results[{index}]"
        if not isinstance(result, dict) or not isinstance(result.get("evaluation_name"), str):
            raise InputError(f"{at}: no evaluation_name", path=str(path))
        config = result.get("metric_config") if isinstance(result.get("metric_config"), dict) else {}
        metric = config.get("metric_name") or config.get("metric_id") or "score"
        task = result["evaluation_name"]
        details_ = result.get("score_details") if isinstance(result.get("score_details"), dict) else {}
        score = details_.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise InputError(
                f"{at}: score_details.score is not a number ({str(score)[:20]!r})", path=str(path)
            )
        key = (task, str(metric))
        if key in seen:
            log.warnings.append(f"{path.name}: {task} {metric} given twice; kept the first")
            continue
        seen.add(key)
        uncertainty = details_.get("uncertainty") if isinstance(details_.get("uncertainty"), dict) else {}
        stderr = (
            uncertainty.get("standard_error") if isinstance(uncertainty.get("standard_error"), dict) else {}
        )
        n = to_count(uncertainty.get("num_samples"))
        log.records.append(
            {
                schema.TASK: task,
                schema.METRIC: str(metric),
                schema.VALUE: float(score),
                schema.STDERR: to_float(stderr.get("value")),
                schema.N: n,
            }
        )
        result_id = result.get("evaluation_result_id")
        if isinstance(result_id, str):
            log.metric_of[result_id] = key
    return log


def _read_aggregates(path: Path) -> list[Log]:
    if path.suffix.lower() == ".jsonl":
        return [parse_log(record, path, f"line {number}") for number, record in iter_jsonl(path)]
    return [parse_log(read_json(path), path, "log")]


def _instance_rows(path: Path, logs: list[Log]) -> list[dict]:
    """Per (model, task, item, metric) records of one instance-level file."""
    lookup: dict[tuple[str, str], tuple[str, str]] = {}
    names: dict[tuple[str, str], str] = {}
    for log in logs:
        lookup.update({(log.model, rid): key for rid, key in log.metric_of.items()})
        for record in log.records:
            names.setdefault((log.model, record[schema.TASK]), record[schema.METRIC])
    rows = []
    for number, record in iter_jsonl(path):
        at = f"line {number}"
        model, task, item = record.get("model_id"), record.get("evaluation_name"), record.get("sample_id")
        if not all(isinstance(v, str | int) for v in (model, task, item)):
            raise InputError(f"{path} {at}: model_id, evaluation_name or sample_id missing", path=str(path))
        evaluation = record.get("evaluation") if isinstance(record.get("evaluation"), dict) else {}
        score = evaluation.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise InputError(f"{path} {at}: evaluation.score is not a number", path=str(path))
        result_id = record.get("evaluation_result_id")
        key = lookup.get((str(model), str(result_id))) if isinstance(result_id, str) else None
        task, metric = key if key is not None else (str(task), names.get((str(model), str(task)), "score"))
        source = record.get("input") if isinstance(record.get("input"), dict) else {}
        references = source.get("reference")
        target = references[0] if isinstance(references, list) and references else None
        answers = [a for a in record.get("answer_attribution") or [] if isinstance(a, dict)]
        final = [a for a in answers if a.get("is_terminal")] or answers
        prediction = final[-1].get("extracted_value") if final else None
        rows.append(
            {
                schema.MODEL: str(model),
                schema.TASK: task,
                schema.ITEM: str(item),
                "_metric": metric,
                "_score": float(score),
                schema.TARGET: target if isinstance(target, str) else None,
                schema.PREDICTION: prediction if isinstance(prediction, str) else None,
            }
        )
    return rows


@dataclass(frozen=True)
class _Instances:
    frame: pl.DataFrame  # one row per model x task x item, one column per metric
    metrics: tuple[str, ...]
    means: dict[tuple[str, str, str], float]  # (model, task, metric) -> mean over items
    repeats: int


def _instances(rows: list[dict]) -> _Instances:
    """Instance records -> one row per model x task x item, one column per metric (repeats averaged)."""
    columns = {
        schema.MODEL: pl.Utf8(),
        schema.TASK: pl.Utf8(),
        schema.ITEM: pl.Utf8(),
        "_metric": pl.Utf8(),
        "_score": pl.Float64(),
        schema.TARGET: pl.Utf8(),
        schema.PREDICTION: pl.Utf8(),
    }
    identity = [schema.MODEL, schema.TASK, schema.ITEM]
    long, repeats = average_repeats(
        pl.DataFrame(rows, schema=columns, orient="row"), [*identity, "_metric"], ["_score"]
    )
    means = long.group_by(schema.MODEL, schema.TASK, "_metric").agg(pl.col("_score").mean())
    wide = long.pivot(on="_metric", index=identity, values="_score")
    texts = long.group_by(identity, maintain_order=True).agg(
        pl.col(schema.TARGET).drop_nulls().first(), pl.col(schema.PREDICTION).drop_nulls().first()
    )
    frame = wide.join(texts, on=identity, how="left")
    for column in (schema.TARGET, schema.PREDICTION):
        if frame[column].null_count() == frame.height:
            frame = frame.drop(column)
    return _Instances(
        frame,
        tuple(long["_metric"].unique(maintain_order=True).to_list()),
        {(m, t, k): v for m, t, k, v in means.iter_rows()},
        repeats,
    )


def _files(path: Path) -> list[Path]:
    """The EEE files to read: the one named (with its ``_samples.jsonl`` companion), or those in a folder."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".jsonl") and p.is_file())
    if path.name.endswith(SAMPLES_SUFFIX):  # an instance file named alone: its aggregate names the metrics
        aggregate = path.with_name(path.name.removesuffix(SAMPLES_SUFFIX) + ".json")
        return [aggregate, path] if aggregate.is_file() else [path]
    companion = path.with_name(path.stem + SAMPLES_SUFFIX)
    return [path, companion] if path.suffix.lower() == ".json" and companion.is_file() else [path]


def _is_instance_file(path: Path) -> bool:
    if path.suffix.lower() != ".jsonl":
        return False
    first = head_text(path, 8192).split("\n", 1)[0]
    return all(k in first for k in _INSTANCE_KEYS)


def _by_model(values: Mapping[str, object], column: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``column`` looked up from each row's model."""
    return pl.col(schema.MODEL).replace_strict(dict(values), default=None, return_dtype=dtype).alias(column)


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read EEE aggregate and instance-level files, a file or a folder (see the module docstring)."""
    options = options or LoadOptions()
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder; check the path", path=str(path))
    files = _files(path)
    warnings: list[str] = []
    logs: list[Log] = []
    rows: list[dict] = []
    read_files: list[Path] = []
    for file in sorted(files, key=_is_instance_file):  # aggregates first: they name the instances' metrics
        if path.is_dir() and not _sniff_file(file):
            warnings.append(f"skipped {file}: not an Every Eval Ever file")
            continue
        try:
            if _is_instance_file(file):
                rows += _instance_rows(file, logs)
            else:
                logs += _read_aggregates(file)
            read_files.append(file)
        except InputError as err:
            if file == path:
                raise
            warnings.append(f"skipped: {err}")
    if not logs and not rows:
        problem = "; ".join(warnings[:2]) or "none found"
        raise InputError(f"no readable Every Eval Ever file ({problem})", path=str(path))
    default = options.family or schema.DEFAULT_FAMILY
    family = {log.model: options.family or log.family or default for log in logs}
    instances = _instances(rows) if rows else None
    aggregates = []
    for log in logs:
        warnings += log.warnings
        identity = {schema.FAMILY: family[log.model], schema.MODEL: log.model, schema.NOMINAL: log.nominal}
        identity |= {schema.PARAMS: log.params, schema.TOKENS: log.tokens}
        for record in log.records:
            key = (log.model, record[schema.TASK], record[schema.METRIC])
            mean = instances.means.get(key) if instances is not None else None
            if mean is None:
                aggregates.append({**identity, **record})
            elif abs(mean - record[schema.VALUE]) > CROSS_CHECK_TOLERANCE:
                warnings.append(
                    f"{log.path.name}: mean instance {key[2]} on {key[1]} {mean:.6g} differs from the "
                    f"aggregate {record[schema.VALUE]:.6g}; using the instance rows"
                )
    samples = schema.empty_samples()
    if instances is not None:
        if instances.repeats > 1:
            warnings.append(
                f"up to {instances.repeats} instance records per item and metric: averaged per item"
            )
        samples = instances.frame.with_columns(
            _by_model(family, schema.FAMILY, pl.Utf8()),
            _by_model({g.model: g.params for g in logs}, schema.PARAMS, pl.Float64()),
            _by_model({g.model: g.tokens for g in logs}, schema.TOKENS, pl.Float64()),
        ).with_columns(pl.col(schema.FAMILY).fill_null(default))
    table = ResultTable(
        samples=samples,
        aggregates=aggregate_frame(aggregates, extra={schema.NOMINAL: pl.Boolean()}),
        prescored=instances.metrics if instances is not None else (),
        warnings=tuple(warnings),
        sources=tuple(str(f) for f in read_files),
    )
    return finalize(table, options, path)


# ---------------------------------------------------------------------------------------------- writing


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def _number(value: object) -> float | None:
    number = to_float(value)
    return number if number is not None and math.isfinite(number) else None


def _result(row: dict, spec: MetricSpec | None, resample: ResampleSettings) -> dict:
    metric, task = row[schema.METRIC], row[schema.TASK]
    binary = spec is not None and spec.binary
    config = {
        "evaluation_description": f"{metric} on {task}: {_ORIGIN.get(row.get(schema.SOURCE), 'a point')}",
        "metric_id": metric,
        "metric_name": metric,
        "lower_is_better": spec is not None and spec.direction < 0,
        "score_type": "continuous",
        "min_score": 0.0 if binary else None,
        "max_score": 1.0 if binary else None,
    }
    uncertainty: dict = {}
    lo, hi = _number(row.get(schema.LO)), _number(row.get(schema.HI))
    if lo is not None and hi is not None:
        if row.get(schema.SOURCE) == "samples":
            how = "paired" if resample.paired else "unpaired"
            method = f"percentile bootstrap over items ({how}, B={resample.bootstrap})"
        else:
            method = "from the aggregate row: Wilson for a 0/1 metric with n, else value +- z*stderr"
        uncertainty["confidence_interval"] = {
            "lower": lo,
            "upper": hi,
            "confidence_level": resample.ci,
            "method": method,
        }
    stderr = _number(row.get(schema.STDERR))
    if stderr is not None:
        uncertainty["standard_error"] = {"value": stderr, "method": "analytic"}
    n = row.get(schema.N)
    if isinstance(n, int) and n > 0:
        uncertainty["num_samples"] = n
    if (
        row.get(schema.SOURCE) == "samples"
        and resample.bootstrap > 0
        and "confidence_interval" in uncertainty
    ):
        uncertainty["num_bootstrap_samples"] = resample.bootstrap
    score = {"score": float(row[schema.VALUE])}
    if uncertainty:
        score["uncertainty"] = uncertainty
    return {
        "evaluation_result_id": f"{task}/{metric}",
        "evaluation_name": task,
        "source_data": {"dataset_name": task, "source_type": "other"},
        "metric_config": config,
        "score_details": score,
    }


def points_as_eee(
    points: pl.DataFrame,
    specs: Mapping[str, MetricSpec],
    resample: ResampleSettings,
    *,
    now: float | None = None,
) -> str:
    """The points as Every Eval Ever aggregate logs, one JSON line per family x model (see the docstring)."""
    stamp = f"{time.time() if now is None else now:.0f}"
    try:
        version = importlib.metadata.version("emergence-tui")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    lines = []
    columns = set(points.columns)
    for (family, model), group in points.group_by([schema.FAMILY, schema.MODEL], maintain_order=True):
        rows = group.sort(schema.TASK, schema.METRIC).iter_rows(named=True)
        results, skipped = [], 0
        first = group.row(0, named=True)
        for row in rows:
            if _number(row.get(schema.VALUE)) is None:
                skipped += 1
                continue
            results.append(_result(row, specs.get(row[schema.METRIC]), resample))
        details = {"deployment_type": "unknown", "model_availability": "unknown", "family": str(family)}
        for column in (schema.PARAMS, schema.TOKENS):
            text = _text(first.get(column)) if column in columns else None
            if text is not None:
                details[column] = text
        if schema.NOMINAL in columns and first.get(schema.NOMINAL) is not None:
            details[schema.NOMINAL] = str(bool(first[schema.NOMINAL])).lower()
        source = {
            "source_name": "emergence-tui report",
            "source_type": "documentation",
            "source_organization_name": "unknown",
            "evaluator_relationship": "other",
        }
        if skipped:
            source["additional_details"] = {"non_finite_scores_left_out": str(skipped)}
        log = {
            "schema_version": SCHEMA_VERSION,
            "evaluation_id": f"emergence-tui/{family}/{model}/{stamp}",
            "retrieved_timestamp": stamp,
            "source_metadata": source,
            "eval_library": {
                "name": "unknown",
                "version": "unknown",
                "additional_details": {"exported_by": f"emergence-tui {version}"},
            },
            "model_info": {"name": str(model), "id": str(model), "additional_details": details},
            "evaluation_results": results,
        }
        lines.append(json.dumps(log, ensure_ascii=False, allow_nan=False))
    return "".join(line + "\n" for line in lines)
