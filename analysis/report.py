"""What `emergence-tui report` prints: points, fits, emergence scores and mirage verdicts (text, JSON, CSV).

JSON output is strict (no NaN or Infinity tokens): a non-finite number becomes null and the `notes` say so.
The table format fits an 80-column terminal and leads each task with a verdict line a person can read at once.
"""

from __future__ import annotations

import io
import json
import math
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from analysis.emergence import APPARENT_RULE, JUMP_RULE, TREND_RULES, ZERO_DENOMINATOR_CONVENTION
from analysis.errors import InputError, printable
from analysis.forecasts import Calibration, Forecasts, calibration_table
from analysis.formatting import fit_line, interval, number
from analysis.mirage import VERDICT_RULES
from analysis.pipeline import Analysis
from analysis.resolution import MAX_ITEMS
from analysis.schema import FAMILY, METRIC, MODEL, TASK, ResultTable
from analysis.steps import STEP_RULE
from analysis.sweep import SWEEP_RULE, ResolutionSweep

POINT_FIELDS = (
    "family", "model", "task", "metric", "params", "tokens", "flops", "loss",
    "value", "lo", "hi", "n", "stderr", "binom_lo", "binom_hi", "chance", "kind", "source",
    "unit", "n_replicates", "resolved", "items_to_resolve", "items_at",
)  # fmt: skip
WIDTH = 80  # the table format fits an 80-column terminal
_BACKTEST_KEYS = {  # a fit record's backtest fields, by the names the fit line reads
    "mae": "backtest_mae",
    "mae_smooth": "backtest_mae_smooth",
    "mae_last_value": "backtest_mae_last_value",
    "mae_chance": "backtest_mae_chance",
}
EMERGENCE_FIELDS = (
    "family", "task", "metric", "kind", "x", "status", "sentence", "scale", "n_models", "n_scales",
    "n_usable", "n_unresolved", "unresolved", "jump", "jump_at", "p_value", "p_adjusted", "apparent",
    "apparent_at", "apparent_jump", "score", "lo", "hi", "trend", "spearman", "spearman_p", "ties", "note",
)  # fmt: skip


@dataclass(frozen=True)
class ReportFilters:
    """Which tasks, metrics and families to report; empty means all."""

    tasks: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    families: tuple[str, ...] = ()

    def apply_to_table(self, table: ResultTable) -> ResultTable:
        """Keep only the chosen tasks and families (metrics are filtered after scoring)."""

        frames = [f for f in (table.samples, table.aggregates) if not f.is_empty()]
        tasks = _chosen(frames, TASK, self.tasks, "--task", settings=True)
        families = _chosen(frames, FAMILY, self.families, "--family", settings=False)

        def keep(frame: pl.DataFrame) -> pl.DataFrame:
            if tasks is not None:
                frame = frame.filter(pl.col(TASK).is_in(tasks))
            if families is not None:
                frame = frame.filter(pl.col(FAMILY).is_in(families))
            return frame

        return ResultTable(
            samples=keep(table.samples),
            aggregates=keep(table.aggregates),
            prescored=table.prescored,
            warnings=table.warnings,
            sources=table.sources,
        )

    def by_task(self) -> ChunkFilter:
        """``apply_to_table`` for a table read a task at a time (``analysis.by_task.TaskPipeline``)."""
        return ChunkFilter(self)

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.metrics and METRIC in frame.columns:
            frame = frame.filter(pl.col(METRIC).is_in(self.metrics))
        return frame


class ChunkFilter:
    """``ReportFilters.apply_to_table`` over a table read one task at a time: each part keeps the rows the
    filters choose, and ``finish`` (after every part) stops as ``apply_to_table`` would when a filter
    matched nothing, naming every task or family seen."""

    def __init__(self, filters: ReportFilters) -> None:
        self.filters = filters
        self._seen: dict[str, set[str]] = {TASK: set(), FAMILY: set()}
        self._matched: dict[str, bool] = {TASK: False, FAMILY: False}

    def __call__(self, table: ResultTable) -> ResultTable:
        frames = [f for f in (table.samples, table.aggregates) if not f.is_empty()]
        chosen = {}
        for column, wanted, settings in (
            (TASK, self.filters.tasks, True),
            (FAMILY, self.filters.families, False),
        ):
            if not wanted or not frames:
                continue
            names = set().union(*(f[column].unique().to_list() for f in frames)) - {None}
            self._seen[column] |= names
            chosen[column] = sorted(n for n in names if any(_matches(n, w, settings) for w in wanted))
            self._matched[column] |= bool(chosen[column])

        def keep(frame: pl.DataFrame) -> pl.DataFrame:
            for column, names in chosen.items():
                frame = frame.filter(pl.col(column).is_in(names))
            return frame

        return replace(table, samples=keep(table.samples), aggregates=keep(table.aggregates))

    def finish(self) -> None:
        for column, wanted, flag, settings in (
            (TASK, self.filters.tasks, "--task", True),
            (FAMILY, self.filters.families, "--family", False),
        ):
            if wanted and not self._matched[column]:
                seen = pl.DataFrame({column: sorted(self._seen[column])}, schema={column: pl.Utf8})
                _chosen([seen] if seen.height else [], column, wanted, flag, settings)


def _matches(name: str, wanted: str, settings: bool) -> bool:
    """``name`` is ``wanted``, or (tasks) ``wanted`` with a setting the readers fold in: a shots count
    (``lambada_openai 0-shot``) or a prompt variant (``gsm8k [closed] 5-shot``)."""
    return name == wanted or (settings and name.startswith((f"{wanted} ", f"{wanted}[")))


def _chosen(
    frames: list[pl.DataFrame], column: str, wanted: tuple[str, ...], flag: str, settings: bool
) -> list[str] | None:
    """The values of ``column`` that ``wanted`` selects (None: no filter); a filter matching nothing stops."""
    if not wanted or not frames:
        return None
    names = sorted(set().union(*(f[column].unique().to_list() for f in frames)) - {None})
    chosen = [n for n in names if any(_matches(n, w, settings) for w in wanted)]
    if chosen:
        return chosen
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    given = " ".join(f"{flag} {w!r}" for w in wanted)
    plural = {FAMILY: "families"}.get(column, f"{column}s")
    raise InputError(f"{given} matches nothing; the {plural} are: {shown}")


def _finite_or_none(value: Any, notes: set[str] | None, where: str) -> Any:
    if notes is None:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        notes.add(f"{where}: non-finite numbers ({value}) are written as null")
        return None
    return value


def _records(
    frame: pl.DataFrame, fields: Iterable[str], notes: set[str] | None, where: str
) -> list[dict[str, Any]]:
    columns = [f for f in fields if f in frame.columns]
    return [
        {key: _finite_or_none(value, notes, where) for key, value in row.items()}
        for row in frame.select(columns).iter_rows(named=True)
    ]


def _settings(analysis: Analysis) -> dict[str, Any]:
    r, f, m = analysis.resample, analysis.fit, analysis.metric_options
    return {
        "bootstrap": r.bootstrap,
        "ci": r.ci,
        "seed": r.seed,
        "subsample": r.subsample,
        "paired": r.paired,
        "unit": r.unit,
        "x": f.x,
        "law": f.law,
        "holdout": f.holdout,
        "tokenizer": m.tokenizer,
        "case_fold": m.case_fold,
    }


def _json_safe(value: Any, notes: set[str] | None, where: str) -> Any:
    """Turn numpy scalars, tuples and non-finite floats into strict-JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v, notes, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, notes, where) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    return _finite_or_none(value, notes, where)


def report_dict(
    analysis: Analysis,
    filters: ReportFilters | None = None,
    fits: list[dict] | None = None,
    *,
    strict: bool = True,
) -> dict:
    """The whole report as plain data (``fits`` replaces the per-metric fits, e.g. for ``--y``).

    ``strict`` makes it strict-JSON safe: non-finite numbers become null and a note says so.
    """
    filters = filters or ReportFilters()
    notes: set[str] | None = set() if strict else None
    points = _points(analysis, filters)
    emergence = filters.apply(analysis.emergence)
    if fits is None:
        fits = [
            f for f in analysis.fits.to_records() if not filters.metrics or f["metric"] in filters.metrics
        ]
    verdicts = filters.apply(analysis.mirage)
    resolution = analysis.resolution
    steps = filters.apply(resolution.steps) if resolution else pl.DataFrame()
    groups = filters.apply(resolution.groups) if resolution else pl.DataFrame()
    sweep = (
        {} if analysis.sweep is None else {"resolution_sweep": _sweep_dict(analysis.sweep, filters, notes)}
    )
    if analysis.forecasts is not None:
        frame = filters.apply(analysis.forecasts.frame)
        sweep["forecasts"] = _records(frame, frame.columns, notes, "forecasts")
    if analysis.calibration is not None:
        sweep["calibration"] = _calibration_dict(analysis.calibration, filters, analysis.fit.ci, notes)
    return {
        "settings": _settings(analysis),
        "points": _records(points, POINT_FIELDS, notes, "points"),
        "fits": _json_safe(fits, notes, "fits"),
        "emergence": _records(emergence, EMERGENCE_FIELDS, notes, "emergence"),
        "verdicts": _records(verdicts, verdicts.columns, notes, "verdicts"),
        "steps": _records(steps, steps.columns, notes, "steps"),
        "tie_groups": _records(groups, groups.columns, notes, "tie_groups"),
        **sweep,
        "skipped_metrics": [
            {"metric": m, "reason": why}
            for m, why in analysis.scored.skipped
            if analysis.has_samples  # aggregate-only tables have no per-sample metrics to skip
        ],
        "warnings": list(analysis.table.warnings),
        "notes": sorted(
            {
                *analysis.points.notes,
                *analysis.fits.notes,
                VERDICT_RULES,
                JUMP_RULE,
                APPARENT_RULE,
                TREND_RULES,
                ZERO_DENOMINATOR_CONVENTION,
                *((STEP_RULE,) if resolution else ()),
                *((SWEEP_RULE, *analysis.sweep.notes) if analysis.sweep else ()),
                *(analysis.forecasts.notes if analysis.forecasts else ()),
                *(analysis.calibration.notes if analysis.calibration else ()),
                *(notes or ()),
            }
        ),
    }


def _sweep_dict(sweep: ResolutionSweep, filters: ReportFilters, notes: set[str] | None) -> dict[str, Any]:
    """The resolution sweep as plain data: its settings and its frames (filtered like the rest)."""
    frames = {
        "summary": sweep.summary,
        "curves": sweep.curves,
        "models": sweep.model_sizes,
        "runs": sweep.runs,
    }
    return {
        "sizes": list(sweep.sizes),
        "repeats": sweep.repeats,
        "bootstrap": sweep.bootstrap,
        "full_n": sweep.full_n,
        **{
            name: _records(filters.apply(frame), frame.columns, notes, f"resolution_sweep.{name}")
            for name, frame in frames.items()
        },
    }


def _calibration_dict(
    calibration: Calibration, filters: ReportFilters, level: float, notes: set[str] | None
) -> dict[str, Any]:
    """The calibration as plain data: its one table (over the chosen metrics) and every held-out forecast."""
    held = filters.apply(calibration.held)
    table = calibration_table(held, level)
    return {
        "table": _records(table, table.columns, notes, "calibration.table"),
        "held": _records(held, held.columns, notes, "calibration.held"),
    }


def _forecasts_csv(forecasts: Forecasts, filters: ReportFilters) -> str:
    buffer = io.StringIO()
    filters.apply(forecasts.frame).write_csv(buffer)
    return buffer.getvalue()


def _calibration_csv(calibration: Calibration, filters: ReportFilters, level: float) -> str:
    buffer = io.StringIO()
    calibration_table(filters.apply(calibration.held), level).write_csv(buffer)
    return buffer.getvalue()


def render_report(analysis: Analysis, fmt: str, filters: ReportFilters | None = None) -> str:
    """The report in ``fmt`` ("table", "json", "csv" or "eee"); a table column's fits (``--y``) replace the
    rest."""
    filters = filters or ReportFilters()
    fits = None if analysis.table_fits is None else analysis.table_fits.to_records()
    if fmt == "json":
        return _json_text(report_dict(analysis, filters, fits)) + "\n"
    if fmt == "csv":  # one table: the forecasts, the calibration, or else the points
        if analysis.forecasts is not None:
            return _forecasts_csv(analysis.forecasts, filters)
        if analysis.calibration is not None:
            return _calibration_csv(analysis.calibration, filters, analysis.fit.ci)
        return points_csv(analysis, filters)
    if fmt == "eee":  # Every Eval Ever aggregate logs, one JSON line per family x model
        from analysis.formats.eee import points_as_eee

        return points_as_eee(filters.apply(analysis.points.frame), analysis.points.specs, analysis.resample)
    return render_table(report_dict(analysis, filters, fits, strict=False))


def _json_text(report: dict) -> str:
    """``json.dumps(report, indent=1, allow_nan=False)``, the same text, with each top-level list encoded a
    record at a time and its records dropped from ``report`` as they are encoded (the caller's report is
    consumed). Encoded whole, the encoder's pieces of a 10,000-curve aggregate report (tens of millions of
    short strings) took ~7x the text's memory, beside every record held until the end."""
    encoder = json.JSONEncoder(indent=1, allow_nan=False)
    parts = []
    for key, value in report.items():
        if isinstance(value, list) and value:
            records = []
            for i, record in enumerate(value):  # at depth 2: every line of a record indented 2 more
                records.append("  " + encoder.encode(record).replace("\n", "\n  "))
                value[i] = None
            text = "[\n" + ",\n".join(records) + "\n ]"
            del records
        else:
            text = encoder.encode(value).replace("\n", "\n ")  # at depth 1 (JSON strings hold no newline)
        parts.append(f" {encoder.encode(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"


def _points(analysis: Analysis, filters: ReportFilters) -> pl.DataFrame:
    """The chosen points in report order."""
    frame = filters.apply(analysis.points.frame)
    return frame.sort([FAMILY, TASK, METRIC, "params", MODEL], nulls_last=True)


def points_csv(analysis: Analysis, filters: ReportFilters) -> str:
    """The points as CSV, one row per family x model x task x metric."""
    frame = _points(analysis, filters)
    buffer = io.StringIO()
    frame.select([c for c in POINT_FIELDS if c in frame.columns]).write_csv(buffer)
    return buffer.getvalue()


def _factor(log_ratio: float) -> str:
    """A miss on the link scale (natural-log units) as a factor: 0.69 -> '2x'."""
    return f"{math.exp(log_ratio):.3g}x" if log_ratio < 40 else ">1e17x"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _wrap(text: str, indent: str = "") -> list[str]:
    """Lines of at most ``WIDTH`` columns; continuation lines are indented two more."""
    return textwrap.wrap(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ", break_on_hyphens=False
    ) or [indent]


def _fit_text(fit: dict) -> str:
    """A fit record as the one fit line: parameters (words for those not identified), R² in both spaces,
    the backtest's errors in its space with the refitted curve's parameters, the notes."""
    bt = fit.get("backtest") or {}
    refit = bt.get("fit") or {}
    return fit_line(
        fit["law"],
        fit["x"],
        fit["params"],
        fit["ci"],
        fit["r2"],
        ok=fit["ok"],
        message=fit["message"],
        backtest={_BACKTEST_KEYS[k]: v for k, v in bt.items() if k in _BACKTEST_KEYS and v is not None},
        holdout=bt.get("holdout", 0),
        r2_space=fit.get("r2_space"),
        unidentified=fit.get("unidentified"),
        fixed=fit.get("fixed") or (),
        r2_spaces={"linear": fit.get("r2_linear"), "log": fit.get("r2_log")},
        backtest_space=bt.get("error_space"),
        backtest_fit=refit.get("summary"),
        backtest_miss=bt.get("smooth_miss"),
    )


def _point_table(metric: str, rows: list[dict], axis: str) -> list[str]:
    """One metric's points: value, interval (exact for 0/1 metrics, with the resampling unit when it is not
    the item), n; a ``*`` marks a point whose interval includes its floor, with the items that would resolve
    it below the table."""
    binary = any(row.get("binom_lo") is not None for row in rows)
    units = sorted({row["unit"] for row in rows if row.get("unit") not in (None, "item")})
    label = ("exact CI" if binary else "CI") + (f" ({', '.join(units)})" if units else "")
    out = [f"  {metric}:", f"    {'model':<22} {axis:>9} {'value':>9} {_clip(label, 22):<22} {'n':>6}"]
    unresolved: dict[tuple[int | None, str | None], list[str]] = {}
    for row in rows:
        lo, hi = (row["binom_lo"], row["binom_hi"]) if binary else (row["lo"], row["hi"])
        mark = " *" if row.get("resolved") is False else ""
        out.append(
            f"    {_clip(str(row['model']), 22):<22} {number(row.get(axis)):>9}"
            f" {number(row['value']):>9} {interval(lo, hi):<22} {number(row['n']):>6}{mark}"
        )
        if mark:
            unresolved.setdefault((row.get("items_to_resolve"), row.get("items_at")), []).append(
                str(row["model"])
            )
    for (items, at), models in unresolved.items():
        needs = (
            f"a test set of {number(items)} items would resolve a rate at its {at}"
            if items
            else "no test set"
        )
        out.extend(
            _wrap(f"* interval includes the floor (not resolved): {', '.join(models)}; {needs}", "    ")
        )
    return out


def _items(value: Any) -> str:
    """Items needed for a table cell: 1,882; 2.4e6 beyond a million; >1e12 at the cap; an en dash for none."""
    if value is None:
        return "–"
    if value >= MAX_ITEMS:
        return ">1e12"
    return f"{value:,}" if value < 1_000_000 else number(float(value), 2)


def _step_lines(rows: list[dict], groups: str | None) -> list[str]:
    """Each step's difference, interval, test and power in 80 columns, then the curve's tie groups."""
    if not rows:
        return []
    tests = sorted({row["test"] for row in rows if row.get("test")})
    out = [f"    steps ({', '.join(tests) or 'no test'}; items to resolve at 80% power):"]
    out.append(
        f"    {'to model':<16} {'change':<6} {'diff':>8} {'CI':<19} {'p':>7} {'detect':>7} {'items':>6}"
    )
    for row in rows:
        out.append(
            f"    {_clip(str(row['upper']), 16):<16} {row.get('change') or '–':<6}"
            f" {number(row.get('difference')):>8} {interval(row.get('lo'), row.get('hi')):<19}"
            f" {number(row.get('p_value'), 2):>7} {number(row.get('detectable'), 2):>7}"
            f" {_items(row.get('items_needed')):>6}"
        )
    if groups:
        out.extend(_wrap(f"tie groups: {groups}", "    "))
    return out


N_PRIME = "n'"


def _share(share: Any, runs: int) -> str:
    return "–" if share is None else f"{round(share * runs)}/{runs}"


def _sweep_lines(sweep: dict, family: str, task: str) -> list[str]:
    """Per metric of the task: the sweep's sentence, then one line per n' (majority status and verdict with
    their shares, the median score, and in how many subsamples the smallest model is resolved)."""

    def mine(rows: list[dict]) -> list[dict]:
        return [r for r in rows if (r["family"], r["task"]) == (family, task)]

    summary = mine(sweep["summary"])
    if not summary:
        return []
    out = _wrap(
        f"resolution sweep ({sweep['repeats']} seeded subsamples per n' below {sweep['full_n']}, "
        f"B={sweep['bootstrap']}; n' = {sweep['full_n']} is this report):",
        "  ",
    )
    curves, models = mine(sweep["curves"]), mine(sweep["models"])
    for row in summary:
        metric = row["metric"]
        out.extend(_wrap(row["sentence"], "    "))
        smallest = {
            m["n_items"]: m for m in models if m["metric"] == metric and m["model"] == row["smallest"]
        }
        out.append(
            f"      {N_PRIME:>6} {'status':<16} {'share':>5} {'verdict':<14} {'share':>5} {'score':>7}"
            f" {'smallest':>8}"
        )
        for c in (c for c in curves if c["metric"] == metric):
            model = smallest.get(c["n_items"])
            resolved = _share(model["resolved_share"], model["runs"]) if model else "–"
            verdict = _share(c["category_share"], c["runs"]) if c["category"] else "–"
            status = _clip(c["status"] or "–", 16)
            out.append(
                f"      {c['n_items']:>6} {status:<16} {_share(c['status_share'], c['runs']):>5}"
                f" {_clip(c['category'] or '–', 14):<14} {verdict:>5} {number(c['score']):>7} {resolved:>8}"
            )
    return out


def _forecast_lines(rows: list[dict], family: str, task: str) -> list[str]:
    """The task's forecasts: per metric one sentence per scale and route, then, for a metric forecast both
    ways, which route the backtest (largest scale held out) supports."""
    mine = [r for r in rows if (r["family"], r["task"]) == (family, task)]
    if not mine:
        return []
    out = ["  forecasts:"]
    for metric in dict.fromkeys(r["metric"] for r in mine):
        of_metric = [r for r in mine if r["metric"] == metric]
        for row in of_metric:
            out.extend(_wrap(row["sentence"], "    "))
        if not any(r["route"] == "two-step" for r in of_metric):
            continue
        errors = {r["route"]: r.get("backtest_error") for r in of_metric}
        supported = of_metric[0].get("supported")
        if supported:
            text = (
                f"{metric}: the backtest (largest scale held out) supports the {supported} forecast (error "
                f"{number(errors.get('two-step'))} two-step, {number(errors.get('direct'))} direct)"
            )
        else:
            text = f"{metric}: the backtest (largest scale held out) cannot compare the two routes"
        out.extend(_wrap(text, "    "))
    return out


def _coverage_ci(row: dict) -> str:
    if row["coverage_lo"] is None:
        return "–"
    return f"[{number(row['coverage_lo'], 2)}, {number(row['coverage_hi'], 2)}]"


def _calibration_lines(rows: list[dict]) -> list[str]:
    """The calibration's one table in 80 columns: per hold-out, metric kind, route and error space."""
    if not rows:
        return ["forecast calibration: no curve has enough scales to hold one out"]
    level = rows[0]["nominal"]
    out = _wrap(
        f"forecast calibration: each curve's largest scale (held 1), then its largest two (held 2), "
        f"forecast from the rest; coverage of the {level:.0%} prediction intervals with its exact "
        f"{level:.0%} CI; mean absolute errors (log for losses) of the forecast, the last value and chance:"
    )
    out.append(
        f"  {'held':>4} {'kind':<4} {'route':<8} {'space':<6} {'n':>4} {'cover':>5} {'CI':<14} {'MAE':>7}"
        f" {'last':>7} {'chance':>7}"
    )
    for row in rows:
        kind = "disc" if row["kind"] == "discontinuous" else "cont"
        out.append(
            f"  {row['holdout']:>4} {kind:<4} {row['route']:<8} {row['error_space']:<6} {row['forecasts']:>4}"
            f" {number(row['coverage'], 2):>5} {_coverage_ci(row):<14}"
            f" {number(row['mae'], 2):>7} {number(row['mae_last_value'], 2):>7}"
            f" {number(row['mae_chance'], 2):>7}"
        )
    refused = sum(row["no_forecast"] for row in rows)
    if refused:
        out.extend(
            _wrap(f"  {refused} held-out models had no forecast (the fit was refused or not identified)")
        )
    return out


def render_table(report: dict) -> str:
    """Readable text in 80 columns: per task a verdict line, then its metrics, fits and points."""
    out: list[str] = []
    st = report["settings"]
    sampling = f"bootstrap B={st['bootstrap']}, {st['ci']:.0%} CI, seed {st['seed']}"
    sampling += ", paired" if st["paired"] else ", unpaired"
    sampling += f", unit {st['unit']}"
    if st["subsample"]:
        sampling += f", subsample n'={st['subsample']}"
    out.extend(_wrap(f"emergence-tui report: x = {st['x']}; {sampling}"))
    for warning in report["warnings"]:
        out.extend(_wrap(f"warning: {_clip(warning, 400)}"))
    for item in report["skipped_metrics"]:
        out.extend(_wrap(f"skipped: {item['metric']} ({item['reason']})"))
    emergence = report["emergence"]
    fits = {(f["family"], f["task"], f["metric"]): f for f in report["fits"]}
    verdicts: dict[tuple[str, str], list[str]] = {}
    for row in report["verdicts"]:
        verdicts.setdefault((row["family"], row["task"]), []).append(row["verdict"])
    points: dict[tuple[str, str, str], list[dict]] = {}
    for row in report["points"]:
        points.setdefault((row["family"], row["task"], row["metric"]), []).append(row)
    steps: dict[tuple[str, str, str], list[dict]] = {}
    for row in report.get("steps", []):
        steps.setdefault((row["family"], row["task"], row["metric"]), []).append(row)
    ties = {(g["family"], g["task"], g["metric"]): g["groups"] for g in report.get("tie_groups", [])}
    groups = sorted({(p[0], p[1]) for p in points} | {(e["family"], e["task"]) for e in emergence})
    for family, task in groups:
        out.append("")
        out.append(_clip(f"== {task}  (family {family})", WIDTH))
        for verdict in verdicts.get((family, task), []) or ["no discontinuous metric to judge"]:
            out.extend(_wrap(f"verdict: {verdict}"))
        out.append(f"  {'metric':<22} {'kind':<4} {'status':<16} {'miss':>8} {'at':<10} {'p_adj':>7}")
        for row in (e for e in emergence if (e["family"], e["task"]) == (family, task)):
            kind = "disc" if row["kind"] == "discontinuous" else "cont"
            miss = "-" if row.get("jump") is None else f"{_factor(row['jump'])}"
            out.append(
                f"  {_clip(row['metric'], 22):<22} {kind:<4} {_clip(row['status'] or '-', 16):<16}"
                f" {miss:>8} {_clip(row.get('jump_at') or '-', 10):<10} {number(row.get('p_adjusted'), 2):>7}"
            )
        for (f_family, f_task, metric), fit in sorted(fits.items()):
            if (f_family, f_task) != (family, task) and f_task != "*":
                continue
            out.extend(_wrap(f"fit {metric}: {_fit_text(fit)}", "  "))
        for (p_family, p_task, metric), rows in sorted(points.items()):
            if (p_family, p_task) != (family, task):
                continue
            out.extend(_point_table(metric, rows, st["x"]))
            out.extend(_step_lines(steps.get((family, task, metric), []), ties.get((family, task, metric))))
        if "forecasts" in report:
            out.extend(_forecast_lines(report["forecasts"], family, task))
        if "resolution_sweep" in report:
            out.extend(_sweep_lines(report["resolution_sweep"], family, task))
    if "calibration" in report:
        out.append("")
        out.extend(_calibration_lines(report["calibration"]["table"]))
    out.append("")
    for note in report["notes"]:
        out.extend(_wrap(f"note: {note}"))
    return "\n".join(printable(line) for line in out) + "\n"  # names from files never restyle the terminal
