"""Inspect AI evaluation logs: ``.eval`` zip logs (deflate or zstd members) and ``.json`` logs.

A log is one model on one task. Rules (also in docs/formats.md):

* model ``eval.model`` (``openai/gpt-4o-mini``), task ``eval.task``; family ``--family`` or ``default``, so a
  folder of logs (one per model) is one family. Sizes come from ``--sizes``, ``--params-from-name`` or
  neither (API models state none).
* per-sample rows, one per sample ``id`` (the item), from ``summaries.json`` of a ``.eval`` log (its
  ``_journal/summaries/*.json`` when the run did not finish) or ``samples`` of a ``.json`` log. The
  ``samples/<id>_epoch_<n>.json`` members are opened only for samples that carry no scores, to read the
  model's completion; a log whose samples all carry scores is read from its header and summaries alone.
* each scorer's value becomes a pre-scored column named after the scorer (a dict value: one column per key,
  ``<scorer>.<key>``). Values map to numbers as Inspect's own ``value_to_float`` does: ``C`` 1, ``P`` 0.5,
  ``I`` and ``N`` 0, ``yes``/``true`` 1, ``no``/``false`` 0, numeric text and numbers as they are. Any other
  value is refused (Inspect would log a warning and count it 0).
* epochs: a sample scored in k epochs is still one item; its scores are averaged over the epochs (Inspect's
  default ``mean`` reducer), and a warning says so and names a log configured with another reducer.
* ``target`` (the first, when a list) and ``prediction``: the answer the first scorer extracted
  (``scores.<scorer>.answer``), or the completion of a sample without scores; kept only when a log has one
  epoch (with several epochs there is no single output per item).
* aggregates: ``results.scores[].metrics`` for scorers that have no per-sample values (a log written without
  samples); ``accuracy`` or ``mean`` keeps the scorer's name as metric id, other metrics are
  ``<scorer>.<metric>``, ``stderr`` is the stderr. A scorer with per-sample values is checked against its
  ``accuracy``/``mean`` and a mismatch is reported.
* several logs of one model and task: the newest (``eval.created``) is used, and a warning names the others.
* a log named directly must be readable; in a folder, bad logs are skipped and listed in the warnings.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats.finalize import finalize
from analysis.formats.frames import aggregate_frame, average_repeats, read_each, to_count
from analysis.formats.jsonio import head_text, read_json
from analysis.formats.zipmembers import is_zip, member_json, open_zip
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "inspect"

_JSON_LOG_HEAD = re.compile(r'^\s*\{\s*"version"\s*:\s*\d+\s*,')
_SAMPLE_MEMBER = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")
_SUMMARY_MEMBER = re.compile(r"^_journal/summaries/(?P<n>\d+)\.json$")
# Inspect's value_to_float: the default sentinels, then common boolean words (case-insensitive).
_SENTINELS: dict[str, float] = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}
_WORDS: dict[str, float] = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_MEAN_METRICS = ("accuracy", "mean")
CROSS_CHECK_TOLERANCE = 1e-6


def sniff(path: Path) -> bool:
    """An ``.eval`` zip, a ``.json`` opening like an Inspect log, or a folder holding such logs."""
    if path.is_dir():
        return any(_sniff_file(p) for p in _log_files(path)[:5])
    return _sniff_file(path)


def _sniff_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return is_zip(path)
    if suffix != ".json":
        return False
    head = head_text(path, 4096)
    return _JSON_LOG_HEAD.match(head) is not None and '"eval"' in head


def _log_files(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*")) if p.suffix.lower() in (".eval", ".json") and p.is_file()]


# ---------------------------------------------------------------------------------------------- values


def value_to_float(value: object, where: str, path: Path) -> float:
    """A score value as a number, as Inspect's ``value_to_float``; other values raise InputError."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        if math.isfinite(value):
            return float(value)
    elif isinstance(value, str):
        if value in _SENTINELS:
            return _SENTINELS[value]
        if value.strip().lower() in _WORDS:
            return _WORDS[value.strip().lower()]
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise InputError(
        f"{where}: unknown score value {str(value)[:40]!r}; Inspect's value_to_float knows C, I, P, N, "
        "yes/no, true/false and numbers",
        path=str(path),
    )


@dataclass(frozen=True)
class _Scores:
    values: dict[str, float]  # column -> value
    answer: str | None  # the first scorer's extracted answer
    scorers: frozenset[str]  # scorers that gave values
    lists: frozenset[str]  # scorers whose list values were left out


def _scores(record: dict, where: str, path: Path) -> _Scores:
    """A sample's scores as numbers, one column per scorer (or per key of a dict value)."""
    scores = record.get("scores")
    values: dict[str, float] = {}
    answer = None
    scorers: set[str] = set()
    skipped: set[str] = set()
    if not isinstance(scores, dict):
        return _Scores(values, answer, frozenset(), frozenset())
    for scorer, score in scores.items():
        if not isinstance(score, dict) or "value" not in score:
            continue
        value = score["value"]
        at = f"{where} scorer {scorer}"
        if isinstance(value, list):
            skipped.add(str(scorer))
            continue
        if isinstance(value, dict):
            for key, inner in value.items():
                values[f"{scorer}.{key}"] = value_to_float(inner, f"{at} key {key}", path)
        else:
            values[str(scorer)] = value_to_float(value, at, path)
        scorers.add(str(scorer))
        if answer is None and isinstance(score.get("answer"), str):
            answer = score["answer"]
    return _Scores(values, answer, frozenset(scorers), frozenset(skipped))


def _first_text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _completion(sample: dict) -> str | None:
    """The model's output text: ``output.completion``, else the first choice's message content."""
    output = sample.get("output")
    if not isinstance(output, dict):
        return None
    if isinstance(output.get("completion"), str):
        return output["completion"]
    choices = output.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        content = (choices[0].get("message") or {}).get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [c.get("text") for c in content if isinstance(c, dict) and c.get("type") == "text"]
            return "".join(t for t in texts if isinstance(t, str))
    return None


# ---------------------------------------------------------------------------------------------- one log


@dataclass
class Log:
    """One parsed log: who ran what, per-(item, epoch) rows, and the header's aggregate metrics."""

    path: Path
    model: str
    task: str
    created: str
    rows: list[dict] = field(default_factory=list)  # item, _epoch, target, prediction, score columns
    scorers: list[str] = field(default_factory=list)  # the score columns, in order of appearance
    scored: set[str] = field(default_factory=set)  # the scorers those columns come from
    results: list[dict] = field(default_factory=list)  # metric, value, stderr, n, _scorer
    reducer: str | None = None
    warnings: list[str] = field(default_factory=list)


def _eval_spec(header: dict, path: Path, where: str) -> tuple[str, str, str, str | None]:
    spec = header.get("eval")
    if not isinstance(spec, dict):
        raise InputError(f"{where}: no 'eval' object; is this an Inspect log?", path=str(path))
    model, task = spec.get("model"), spec.get("task")
    if not isinstance(model, str) or not model or not isinstance(task, str) or not task:
        raise InputError(f"{where}: eval.model or eval.task is missing", path=str(path))
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    reducer = config.get("epochs_reducer")
    reducer = ",".join(str(r) for r in reducer) if isinstance(reducer, list) else reducer
    return model, task, str(spec.get("created") or ""), reducer if isinstance(reducer, str) else None


def _results(header: dict) -> list[dict]:
    """Aggregate records from ``results.scores``: one per scorer and metric (stderr joined to its metric)."""
    results = header.get("results")
    if not isinstance(results, dict) or not isinstance(results.get("scores"), list):
        return []
    n = results.get("completed_samples", results.get("total_samples"))
    records = []
    for entry in results["scores"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("metrics"), dict):
            continue
        scorer = str(entry.get("scorer") or entry.get("name"))
        name = str(entry.get("name") or scorer)
        stderr_metric = entry["metrics"].get("stderr")
        stderr = stderr_metric.get("value") if isinstance(stderr_metric, dict) else None
        for metric, body in entry["metrics"].items():
            value = body.get("value") if isinstance(body, dict) else None
            if metric == "stderr" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            records.append(
                {
                    schema.METRIC: name if metric in _MEAN_METRICS else f"{name}.{metric}",
                    schema.VALUE: float(value),
                    schema.STDERR: float(stderr) if isinstance(stderr, int | float) else None,
                    schema.N: int(n) if isinstance(n, int) else None,
                    "_scorer": scorer,
                    "_mean": metric in _MEAN_METRICS,
                }
            )
    return records


def _epoch(record: dict, where: str, path: Path) -> int:
    epoch = to_count(record.get("epoch") or 1)
    if epoch is None:
        raise InputError(f"{where} sample {record.get('id')}: epoch is not a whole number", path=str(path))
    return epoch


def _add_rows(
    log: Log, records: list[dict], where: str, completions: dict[tuple[str, int], str | None]
) -> None:
    skipped: set[str] = set()
    errors = 0
    for record in records:
        if not isinstance(record, dict) or "id" not in record:
            raise InputError(f"{where}: a sample without an 'id'", path=str(log.path))
        item, epoch = str(record["id"]), _epoch(record, where, log.path)
        if record.get("error"):
            errors += 1
            continue
        at = f"{where} sample {item} epoch {epoch}"
        scores = _scores(record, at, log.path)
        skipped.update(scores.lists)
        log.scored.update(scores.scorers)
        completion = completions.get((item, epoch), _completion(record))
        row = {schema.ITEM: item, "_epoch": epoch, schema.TARGET: _first_text(record.get("target"))}
        row[schema.PREDICTION] = scores.answer if scores.values else completion
        row.update(scores.values)
        log.scorers.extend(c for c in scores.values if c not in log.scorers)
        log.rows.append(row)
    if skipped:
        log.warnings.append(f"{log.path.name}: scorer(s) {', '.join(sorted(skipped))} give lists: left out")
    if errors:
        log.warnings.append(
            f"{log.path.name}: {errors} sample(s) ended in an error: left out, as Inspect does"
        )


def _summaries(archive: zipfile.ZipFile, path: Path) -> tuple[list[dict], str]:
    names = set(archive.namelist())
    if "summaries.json" in names:
        data = member_json(archive, "summaries.json", path)
        if not isinstance(data, list):
            raise InputError("member summaries.json: expected a list of samples", path=str(path))
        return data, "member summaries.json"
    journal = sorted(
        (n for n in names if _SUMMARY_MEMBER.match(n)), key=lambda n: int(_SUMMARY_MEMBER.match(n)["n"])
    )
    records: list[dict] = []
    for name in journal:
        data = member_json(archive, name, path)
        if not isinstance(data, list):
            raise InputError(f"member {name}: expected a list of samples", path=str(path))
        records += data
    return records, "member _journal/summaries"


def parse_eval(path: Path) -> Log:
    """Parse one ``.eval`` log from its header and summaries (samples only where no scores are given)."""
    with open_zip(path) as archive:
        names = set(archive.namelist())
        if "header.json" in names:
            header = member_json(archive, "header.json", path)
            where = "member header.json"
        elif "_journal/start.json" in names:
            header = member_json(archive, "_journal/start.json", path)
            where = "member _journal/start.json"
        else:
            raise InputError("member header.json is missing from the archive", path=str(path))
        if not isinstance(header, dict):
            raise InputError(f"{where}: expected a JSON object", path=str(path))
        model, task, created, reducer = _eval_spec(header, path, where)
        log = Log(path, model, task, created, results=_results(header), reducer=reducer)
        if where != "member header.json":
            log.warnings.append(f"{path.name}: no header.json (the run did not finish): read what it holds")
        elif header.get("status") not in (None, "success"):
            log.warnings.append(
                f"{path.name}: log status {header.get('status')!r}: read the samples it holds"
            )
        summaries, source = _summaries(archive, path)
        if not summaries:  # a log of samples only, or with no samples at all
            samples = sorted(n for n in names if _SAMPLE_MEMBER.match(n))
            summaries = [member_json(archive, name, path) for name in samples]
            source = "members samples/"
        unscored = [
            s for s in summaries if isinstance(s, dict) and not s.get("scores") and not s.get("error")
        ]
        completions: dict[tuple[str, int], str | None] = {}
        for summary in unscored:
            key = (str(summary.get("id")), _epoch(summary, source, path))
            sample = member_json(archive, f"samples/{key[0]}_epoch_{key[1]}.json", path)
            completions[key] = _completion(sample) if isinstance(sample, dict) else None
        _add_rows(log, summaries, source, completions)
    return log


def parse_json(path: Path) -> Log:
    """Parse one ``.json`` log (header fields and ``samples`` in one document)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object; is this an Inspect log?", path=str(path))
    model, task, created, reducer = _eval_spec(data, path, "log")
    log = Log(path, model, task, created, results=_results(data), reducer=reducer)
    samples = data.get("samples")
    if isinstance(samples, list):
        _add_rows(log, samples, "samples", {})
    return log


def parse_log(path: Path) -> Log:
    """One log, by its suffix."""
    return parse_eval(path) if path.suffix.lower() == ".eval" else parse_json(path)


# ---------------------------------------------------------------------------------------------- a folder


def _newest(logs: list[Log]) -> tuple[list[Log], list[str]]:
    by_run: dict[tuple[str, str], list[Log]] = defaultdict(list)
    for log in logs:
        by_run[(log.model, log.task)].append(log)
    kept, warnings = [], []
    for (model, task), group in by_run.items():
        group.sort(key=lambda log: (log.created, str(log.path)), reverse=True)
        kept.append(group[0])
        if len(group) > 1:
            older = ", ".join(log.path.name for log in group[1:])
            warnings.append(f"{model} on {task}: kept the newest log {group[0].path.name}; ignored {older}")
    return kept, warnings


def _log_samples(log: Log, family: str) -> tuple[pl.DataFrame | None, list[str]]:
    """The log's per-item rows (epochs averaged) and what to tell the user."""
    if not log.rows:
        return None, []
    columns = {
        schema.ITEM: pl.Utf8(),
        "_epoch": pl.Int64(),
        schema.TARGET: pl.Utf8(),
        schema.PREDICTION: pl.Utf8(),
    }
    columns.update({c: pl.Float64() for c in log.scorers})
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in log.rows], schema=columns, orient="row")
    frame, epochs = average_repeats(frame.drop("_epoch"), [schema.ITEM], log.scorers)
    warnings = []
    if epochs > 1:
        frame = frame.drop(schema.TARGET, schema.PREDICTION)
        reducer = (
            f" (the log's reducer is {log.reducer}; the mean was used)"
            if log.reducer not in (None, "mean")
            else ""
        )
        warnings.append(
            f"{log.path.name}: up to {epochs} epochs per sample: each item's scores are the mean over its "
            f"epochs{reducer}; target and prediction left out"
        )
    elif (
        frame[schema.TARGET].null_count() == frame.height
        or frame[schema.PREDICTION].null_count() == frame.height
    ):
        frame = frame.drop(schema.TARGET, schema.PREDICTION)
    if not log.scorers and schema.PREDICTION not in frame.columns:
        return None, warnings  # nothing to score per item
    frame = frame.with_columns(
        pl.lit(family).alias(schema.FAMILY),
        pl.lit(log.model).alias(schema.MODEL),
        pl.lit(log.task).alias(schema.TASK),
    )
    for record in log.results:
        column = record["_scorer"]
        if record["_mean"] and column in frame.columns:
            mean = frame[column].mean()
            if mean is not None and abs(mean - record[schema.VALUE]) > CROSS_CHECK_TOLERANCE:
                warnings.append(
                    f"{log.path.name}: mean per-sample {column} {mean:.6g} differs from the log's "
                    f"{record[schema.METRIC]} {record[schema.VALUE]:.6g}; using the per-sample rows"
                )
    return frame, warnings


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read one Inspect log or a folder of them (see the module docstring for the rules)."""
    options = options or LoadOptions()
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder; check the path", path=str(path))
    family = options.family or schema.DEFAULT_FAMILY
    files = [path] if path.is_file() else _log_files(path)
    others = [f"skipped {p}: not an Inspect log" for p in files if p != path and not _sniff_file(p)]
    parsed, warnings = read_each(
        path, [p for p in files if p == path or _sniff_file(p)], parse_log, "Inspect log"
    )
    warnings = others + warnings
    logs, older = _newest([log for _, log in parsed])
    warnings += older
    samples: list[pl.DataFrame] = []
    aggregates: list[dict] = []
    prescored: dict[str, None] = {}
    for log in logs:
        warnings += log.warnings
        frame, notes = _log_samples(log, family)
        warnings += notes
        if frame is not None:
            samples.append(frame)
            prescored.update(dict.fromkeys(log.scorers))
        uncovered = [r for r in log.results if r["_scorer"] not in log.scored]
        identity = {schema.FAMILY: family, schema.MODEL: log.model, schema.TASK: log.task}
        aggregates += [{**identity, **record} for record in uncovered]
        if frame is None and not uncovered:
            warnings.append(f"{log.path.name}: no scores and no outputs: nothing to load")
    table = ResultTable(
        samples=pl.concat(samples, how="diagonal_relaxed") if samples else schema.empty_samples(),
        aggregates=aggregate_frame(aggregates),
        prescored=tuple(prescored),
        warnings=tuple(warnings),
        sources=tuple(str(log.path) for log in logs),
    )
    return finalize(table, options, path)
