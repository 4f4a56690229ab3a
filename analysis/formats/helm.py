"""HELM run directories (``helm-run`` output): ``run_spec.json``, ``per_instance_stats.json``,
``scenario_state.json``, ``stats.json``; a run directory, or a suite folder holding many.

Rules (also in docs/formats.md):

* model: ``adapter_spec.model`` (``openai/gpt2``), else ``model=<org>_<name>`` in the run name. Task: the run
  name without its ``model=`` argument (``mmlu:subject=philosophy,method=multiple_choice_joint``). Family: the
  scenario, the run name before ``:`` (``mmlu``), so a suite folder is a family per scenario; ``--family``
  overrides it. Shots: ``adapter_spec.max_train_instances``, folded into the task name when a task was run at
  several settings.
* per-sample rows, one per ``instance_id`` of one split: ``test`` when the run has it, else ``valid`` (the
  other split's instances are left out, with a warning). Perturbed instances (robustness, fairness) are left
  out. Each stat of ``per_instance_stats.json`` (its ``mean``) becomes a pre-scored column: ``exact_match``,
  ``quasi_exact_match``, ``prefix_exact_match``, ``f1_score``, ``rouge_l``, ... Bookkeeping stats (token
  counts, runtimes, ``finish_reason_*``, ``logprob``, ``perplexity``, ...) are not metrics and are left out.
* train trials: an instance evaluated in k trials (different in-context examples) is one item; its stats are
  averaged over the trials, with a warning.
* ``scenario_state.json`` (when present, one trial) adds the outputs: ``target`` is the first reference tagged
  ``correct`` (for joint multiple choice, its letter from ``output_mapping``) and ``prediction`` the
  completion text, so distances can be computed; for ``multiple_choice_separate_*`` runs, each choice's
  log-likelihood (the summed logprobs of the completion tokens that spell the reference; for ``calibrated``
  minus the calibration request's) gives ``choice_logliks`` and ``correct_choice``. Joint multiple choice and
  generation logprobs are of the model's own output, not of the target, so they are not used.
* ``stats.json`` gives aggregate rows only for a run without ``per_instance_stats.json``.
* a run directory named directly must be readable; in a suite, bad runs are skipped and listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analysis import schema
from analysis.errors import InputError
from analysis.formats.finalize import finalize
from analysis.formats.frames import (
    SHOTS,
    aggregate_frame,
    average_repeats,
    fold_shots,
    multi_shot_tasks,
    read_each,
    to_count,
    to_float,
)
from analysis.formats.jsonio import read_json
from analysis.options import LoadOptions
from analysis.schema import ResultTable

NAME = "helm"
RUN_SPEC = "run_spec.json"
PER_INSTANCE = "per_instance_stats.json"
SCENARIO_STATE = "scenario_state.json"
STATS = "stats.json"
_FILES = (RUN_SPEC, PER_INSTANCE, SCENARIO_STATE, STATS)
SPLITS = ("test", "valid")  # in order of preference
BOOKKEEPING = frozenset(
    {
        "batch_size",
        "bits_per_byte",
        "inference_denoised_runtime",
        "inference_idealized_runtime",
        "inference_runtime",
        "logprob",
        "logprob_per_byte",
        "max_prob",
        "perplexity",
        "prompt_truncated",
        "training_co2_cost",
        "training_energy_cost",
    }
)
_BOOKKEEPING_PREFIXES = ("num_", "finish_reason_")
_SEPARATE = ("multiple_choice_separate_original", "multiple_choice_separate_calibrated")
_MODEL_ARG = re.compile(r"(?:^|[,:])model=([^,]+)")


def sniff(path: Path) -> bool:
    """A run directory (holding ``run_spec.json``), a suite folder of them, or one of a run's files."""
    if path.is_file():
        return path.name in _FILES and (path.parent / RUN_SPEC).is_file()
    return bool(run_directories(path, limit=1))


def run_directories(path: Path, limit: int | None = None) -> list[Path]:
    """``path`` when it is a run directory, else the run directories up to two levels below it."""
    if (path / RUN_SPEC).is_file():
        return [path]
    found: list[Path] = []
    for pattern in (f"*/{RUN_SPEC}", f"*/*/{RUN_SPEC}"):
        for spec in sorted(path.glob(pattern)):
            found.append(spec.parent)
            if limit is not None and len(found) >= limit:
                return found
    return found


def is_metric(name: str) -> bool:
    """Whether a HELM stat is a score (``exact_match``) rather than bookkeeping (``num_prompt_tokens``)."""
    return name not in BOOKKEEPING and not name.startswith(_BOOKKEEPING_PREFIXES)


def continuation_logprob(tokens: list, reference: str) -> float | None:
    """The summed logprob of the last tokens whose text spells ``reference`` (HELM echoes the prompt).

    HELM's own metric re-tokenises ``" " + reference`` to count those tokens; without the tokenizer the tokens
    are taken from the end until their joined text, stripped, equals the reference, stripped. None when no
    run of final tokens spells it.
    """
    wanted = reference.strip()
    text, total = "", 0.0
    for token in reversed(tokens):
        if not isinstance(token, dict) or not isinstance(token.get("text"), str):
            return None
        logprob = to_float(token.get("logprob"))
        if logprob is None:
            return None
        text, total = token["text"] + text, total + logprob
        if text.strip() == wanted:
            return total
        if len(text.strip()) > len(wanted):
            return None
    return None


# ---------------------------------------------------------------------------------------------- one run


@dataclass
class Run:
    """One run directory: identity, per-(instance, trial) stats and outputs, and what to tell the user."""

    path: Path
    model: str
    task: str
    scenario: str
    shots: int | None
    method: str
    split: str | None = None
    rows: list[dict] = field(default_factory=list)  # item, _trial, stat columns
    stats: list[str] = field(default_factory=list)
    outputs: dict[tuple[str, int], dict] = field(default_factory=dict)  # (item, trial) -> output columns
    aggregates: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _json(path: Path, what: str) -> object:
    if not path.is_file():
        raise InputError(
            f"{path.name} is missing from the run directory; is this a HELM run?", path=str(path)
        )
    data = read_json(path)
    if not isinstance(data, dict | list):
        raise InputError(f"expected {what}", path=str(path))
    return data


def _identity(folder: Path) -> tuple[str, str, str, int | None, str]:
    spec = _json(folder / RUN_SPEC, "a run spec object")
    if not isinstance(spec, dict):
        raise InputError("expected a JSON object", path=str(folder / RUN_SPEC))
    name = spec.get("name") if isinstance(spec.get("name"), str) else folder.name
    adapter = spec.get("adapter_spec") if isinstance(spec.get("adapter_spec"), dict) else {}
    model = adapter.get("model")
    if not isinstance(model, str) or not model:
        found = _MODEL_ARG.search(name)
        if found is None:
            raise InputError(
                "no adapter_spec.model and no model= in the run name", path=str(folder / RUN_SPEC)
            )
        model = found.group(1).replace("_", "/", 1)
    scenario, _, args = name.partition(":")
    kept = [a for a in args.split(",") if a and not a.startswith(("model=", "model_deployment="))]
    task = f"{scenario}:{','.join(kept)}" if kept else scenario
    method = adapter.get("method") if isinstance(adapter.get("method"), str) else ""
    return model, task, scenario, to_count(adapter.get("max_train_instances")), method


def _trial(record: dict, where: Path) -> int:
    trial = to_count(record.get("train_trial_index") or 0)
    if trial is None:
        raise InputError("a train_trial_index that is not a whole number", path=str(where))
    return trial


def _stat_value(stat: dict) -> float | None:
    mean = to_float(stat.get("mean"))
    if mean is None and to_float(stat.get("count")):
        total = to_float(stat.get("sum"))
        mean = None if total is None else total / float(stat["count"])
    return mean


def _instance_stats(run: Run, entries: list, where: Path) -> None:
    by_split: dict[str, list[dict]] = {}
    perturbed = 0
    for entry in entries:
        if (
            not isinstance(entry, dict)
            or "instance_id" not in entry
            or not isinstance(entry.get("stats"), list)
        ):
            raise InputError(
                "an entry without instance_id or stats; is this per_instance_stats.json?", path=str(where)
            )
        if entry.get("perturbation"):
            perturbed += 1
            continue
        row: dict[str, object] = {
            schema.ITEM: str(entry["instance_id"]),
            "_trial": _trial(entry, where),
        }
        split = None
        for stat in entry["stats"]:
            name = stat.get("name") if isinstance(stat, dict) else None
            if (
                not isinstance(name, dict)
                or name.get("perturbation")
                or not isinstance(name.get("name"), str)
            ):
                continue
            split = split or name.get("split")
            value = _stat_value(stat)
            if value is not None and is_metric(name["name"]):
                row[name["name"]] = value
        by_split.setdefault(str(split), []).append(row)
    run.split = next((s for s in SPLITS if s in by_split), next(iter(by_split), None))
    run.rows = by_split.get(str(run.split), [])
    others = {s: len(rows) for s, rows in by_split.items() if s != run.split}
    if others:
        left = ", ".join(f"{n} {s}" for s, n in others.items())
        run.warnings.append(f"{run.path.name}: used the {run.split} split; left out {left} instance(s)")
    if perturbed:
        run.warnings.append(f"{run.path.name}: {perturbed} perturbed instance(s) left out")
    run.stats = list(dict.fromkeys(k for r in run.rows for k in r if k not in (schema.ITEM, "_trial")))


def _correct(references: list) -> list[int]:
    return [
        i
        for i, ref in enumerate(references)
        if isinstance(ref, dict) and "correct" in (ref.get("tags") or [])
    ]


def _reference_text(reference: object) -> str | None:
    output = reference.get("output") if isinstance(reference, dict) else None
    return output.get("text") if isinstance(output, dict) and isinstance(output.get("text"), str) else None


def _completion(state: dict) -> dict | None:
    result = state.get("result")
    completions = result.get("completions") if isinstance(result, dict) else None
    if isinstance(completions, list) and completions and isinstance(completions[0], dict):
        return completions[0]
    return None


def _outputs(run: Run, states: list) -> None:
    """Target, prediction and (separate multiple choice) per-choice log-likelihoods per (item, trial)."""
    separate: dict[tuple[str, int], dict[str, dict[int, float | None]]] = {}
    references_of: dict[tuple[str, int], list] = {}
    for state in states:
        instance = state.get("instance") if isinstance(state, dict) else None
        if not isinstance(instance, dict) or instance.get("perturbation"):
            continue
        if run.split is not None and instance.get("split", run.split) != run.split:
            continue
        key = (str(instance.get("id")), _trial(state, run.path / SCENARIO_STATE))
        references = instance.get("references") if isinstance(instance.get("references"), list) else []
        correct = _correct(references)
        completion = _completion(state)
        index = to_count(state.get("reference_index"))
        if run.method in _SEPARATE and index is not None:
            text = _reference_text(references[index]) if index < len(references) else None
            tokens = completion.get("tokens") if completion else None
            loglik = continuation_logprob(tokens, text) if isinstance(tokens, list) and text else None
            separate.setdefault(key, {}).setdefault(str(state.get("request_mode") or "original"), {})[
                index
            ] = loglik
            references_of[key] = references
            continue
        if not correct or completion is None or not isinstance(completion.get("text"), str):
            continue
        target = _reference_text(references[correct[0]])
        prediction = completion["text"]
        mapping = state.get("output_mapping")
        if isinstance(mapping, dict) and mapping:
            letters = [letter for letter, text in mapping.items() if text == target]
            target, prediction = (letters[0] if letters else None), prediction.strip()
        run.outputs[key] = {schema.TARGET: target, schema.PREDICTION: prediction}
    unspelled = 0
    for key, modes in separate.items():
        references = references_of[key]
        original = modes.get("original", {})
        logliks = [original.get(i) for i in range(len(references))]
        if run.method.endswith("calibrated"):
            calibration = modes.get("calibration", {})
            logliks = [
                None if a is None or calibration.get(i) is None else a - calibration[i]
                for i, a in enumerate(logliks)
            ]
        correct = _correct(references)
        if any(v is None for v in logliks) or not correct:
            unspelled += 1
            continue
        run.outputs[key] = {schema.CHOICE_LOGLIKS: logliks, schema.CORRECT_CHOICE: correct[0]}
    if unspelled:
        run.warnings.append(
            f"{run.path.name}: {unspelled} instance(s) whose choice log-likelihoods could not be read from "
            "the completion tokens: no choice metrics for them"
        )


def _stats_aggregates(run: Run, entries: list) -> None:
    """Aggregate rows from ``stats.json`` (for a run without per-instance stats)."""
    values: dict[str, dict[str, float]] = {}
    for stat in entries:
        name = stat.get("name") if isinstance(stat, dict) else None
        if not isinstance(name, dict) or name.get("perturbation") or not isinstance(name.get("name"), str):
            continue
        value = _stat_value(stat)
        if value is not None:
            values.setdefault(str(name.get("split")), {})[name["name"]] = value
    run.split = next((s for s in SPLITS if s in values), next(iter(values), None))
    chosen = values.get(str(run.split), {})
    n = chosen.get("num_instances")
    run.aggregates = [
        {schema.METRIC: metric, schema.VALUE: value, schema.N: to_count(n)}
        for metric, value in chosen.items()
        if is_metric(metric)
    ]


def parse_run(folder: Path) -> Run:
    """Parse one run directory (see the module docstring)."""
    model, task, scenario, shots, method = _identity(folder)
    run = Run(folder, model, task, scenario, shots, method)
    if (folder / PER_INSTANCE).is_file():
        entries = _json(folder / PER_INSTANCE, "a list of per-instance stats")
        if not isinstance(entries, list):
            raise InputError("expected a list of per-instance stats", path=str(folder / PER_INSTANCE))
        _instance_stats(run, entries, folder / PER_INSTANCE)
        if (folder / SCENARIO_STATE).is_file():
            state = _json(folder / SCENARIO_STATE, "a scenario state object")
            states = state.get("request_states") if isinstance(state, dict) else None
            if not isinstance(states, list):
                raise InputError("no request_states list", path=str(folder / SCENARIO_STATE))
            _outputs(run, states)
    elif (folder / STATS).is_file():
        entries = _json(folder / STATS, "a list of stats")
        if not isinstance(entries, list):
            raise InputError("expected a list of stats", path=str(folder / STATS))
        _stats_aggregates(run, entries)
        run.warnings.append(f"{folder.name}: no {PER_INSTANCE}: aggregate rows from {STATS}")
    else:
        raise InputError(f"neither {PER_INSTANCE} nor {STATS} in the run directory", path=str(folder))
    return run


# ---------------------------------------------------------------------------------------------- a suite


def _run_samples(run: Run, family: str) -> tuple[pl.DataFrame | None, list[str]]:
    if not run.rows:
        return None, []
    columns: dict[str, pl.DataType] = {schema.ITEM: pl.Utf8(), "_trial": pl.Int64()}
    columns.update({c: pl.Float64() for c in run.stats})
    rows = [{**r, **run.outputs.get((r[schema.ITEM], r["_trial"]), {})} for r in run.rows]
    for column in (schema.TARGET, schema.PREDICTION, schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE):
        if any(column in r for r in rows):
            columns[column] = schema.DTYPES[column]
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema=columns, orient="row")
    outputs = [c for c in schema.OUTPUT_COLUMNS if c in frame.columns]
    frame, trials = average_repeats(frame.drop("_trial"), [schema.ITEM], run.stats)
    warnings = []
    if trials > 1:
        frame = frame.drop(outputs)
        warnings.append(
            f"{run.path.name}: up to {trials} train trials per instance: each item's stats are the mean "
            "over its trials; outputs left out"
        )
    frame = frame.with_columns(
        pl.lit(family).alias(schema.FAMILY),
        pl.lit(run.model).alias(schema.MODEL),
        pl.lit(run.task).alias(schema.TASK),
        pl.lit(run.shots, pl.Int64).alias(SHOTS),
    )
    return frame, warnings


def read(path: Path, options: LoadOptions | None = None) -> ResultTable:
    """Read a HELM run directory, a suite folder of runs, or a run's file (its directory is read)."""
    options = options or LoadOptions()
    path = Path(path)
    if path.is_file():
        path = path.parent
    folders = run_directories(path)
    if not folders:
        raise InputError("no HELM run directory (a folder with run_spec.json) found", path=str(path))
    parsed, warnings = read_each(path, folders, parse_run, "HELM run")
    runs: list[Run] = []
    seen: dict[tuple[str, str], Path] = {}
    for folder, run in parsed:
        if (run.model, run.task) in seen:
            first = seen[(run.model, run.task)]
            warnings.append(f"{folder}: {run.model} on {run.task} already read from {first}; ignored")
            continue
        seen[(run.model, run.task)] = folder
        runs.append(run)
    samples, aggregates, prescored = [], [], {}
    for run in runs:
        family = options.family or run.scenario
        frame, notes = _run_samples(run, family)
        warnings += [*run.warnings, *notes]
        if frame is not None:
            samples.append(frame)
            prescored.update(dict.fromkeys(run.stats))
        identity = {schema.FAMILY: family, schema.MODEL: run.model, schema.TASK: run.task, SHOTS: run.shots}
        aggregates += [{**identity, **record} for record in run.aggregates]
    aggregate_rows = aggregate_frame(aggregates, extra={SHOTS: pl.Int64()})
    sample_rows = pl.concat(samples, how="diagonal_relaxed") if samples else None
    several = multi_shot_tasks([aggregate_rows] if sample_rows is None else [aggregate_rows, sample_rows])
    table = ResultTable(
        samples=fold_shots(sample_rows, tasks=several) if sample_rows is not None else schema.empty_samples(),
        aggregates=fold_shots(aggregate_rows, tasks=several),
        prescored=tuple(prescored),
        warnings=tuple(warnings),
        sources=tuple(str(run.path) for run in runs),
    )
    return finalize(table, options, path)
