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
from dataclasses import dataclass
from typing import Any

import polars as pl

from analysis.emergence import ZERO_DENOMINATOR_CONVENTION
from analysis.errors import printable
from analysis.formatting import fit_line, interval, number
from analysis.pipeline import Analysis
from analysis.schema import FAMILY, METRIC, MODEL, TASK, ResultTable

POINT_FIELDS = (
    "family", "model", "task", "metric", "params", "tokens", "flops", "loss",
    "value", "lo", "hi", "n", "stderr", "binom_lo", "binom_hi", "chance", "kind", "source",
)  # fmt: skip
WIDTH = 80  # the table format fits an 80-column terminal
_BACKTEST_KEYS = {  # a fit record's backtest fields, by the names the fit line reads
    "mae": "backtest_mae",
    "mae_last_value": "backtest_mae_last_value",
    "mae_chance": "backtest_mae_chance",
}
EMERGENCE_FIELDS = (
    "family", "task", "metric", "kind", "score", "lo", "hi", "trend", "spearman", "p_value", "p_adjusted",
    "n_models",
)  # fmt: skip


@dataclass(frozen=True)
class ReportFilters:
    """Which tasks, metrics and families to report; empty means all."""

    tasks: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    families: tuple[str, ...] = ()

    def apply_to_table(self, table: ResultTable) -> ResultTable:
        """Keep only the chosen tasks and families (metrics are filtered after scoring)."""

        def keep(frame: pl.DataFrame) -> pl.DataFrame:
            if self.tasks:
                frame = frame.filter(pl.col(TASK).is_in(self.tasks))
            if self.families:
                frame = frame.filter(pl.col(FAMILY).is_in(self.families))
            return frame

        return ResultTable(
            samples=keep(table.samples),
            aggregates=keep(table.aggregates),
            prescored=table.prescored,
            warnings=table.warnings,
            sources=table.sources,
        )

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        if self.metrics and METRIC in frame.columns:
            frame = frame.filter(pl.col(METRIC).is_in(self.metrics))
        return frame


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
    points = filters.apply(analysis.points.frame).sort(
        [FAMILY, TASK, METRIC, "params", MODEL], nulls_last=True
    )
    emergence = filters.apply(analysis.emergence)
    if fits is None:
        fits = [
            f for f in analysis.fits.to_records() if not filters.metrics or f["metric"] in filters.metrics
        ]
    mirage = analysis.mirage
    if filters.metrics and mirage.height:
        mirage = mirage.filter(
            pl.col("discontinuous").is_in(filters.metrics) | pl.col("continuous").is_in(filters.metrics)
        )
    return {
        "settings": _settings(analysis),
        "points": _records(points, POINT_FIELDS, notes, "points"),
        "fits": _json_safe(fits, notes, "fits"),
        "emergence": _records(emergence, EMERGENCE_FIELDS, notes, "emergence"),
        "mirage": _records(mirage, mirage.columns, notes, "mirage"),
        "skipped_metrics": [
            {"metric": m, "reason": why}
            for m, why in analysis.scored.skipped
            if analysis.table.samples.height  # aggregate-only tables have no per-sample metrics to skip
        ],
        "warnings": list(analysis.table.warnings),
        "notes": sorted(
            {*analysis.points.notes, *analysis.fits.notes, ZERO_DENOMINATOR_CONVENTION, *(notes or ())}
        ),
    }


def render_report(analysis: Analysis, fmt: str, filters: ReportFilters | None = None) -> str:
    """The report in ``fmt`` ("table", "json", "csv" or "eee"); a table column's fits (``--y``) replace the
    rest."""
    filters = filters or ReportFilters()
    fits = None if analysis.table_fits is None else analysis.table_fits.to_records()
    if fmt == "json":
        return json.dumps(report_dict(analysis, filters, fits), indent=1, allow_nan=False) + "\n"
    if fmt == "csv":
        return points_csv(analysis, filters)
    if fmt == "eee":  # Every Eval Ever aggregate logs, one JSON line per family x model
        from analysis.formats.eee import points_as_eee

        return points_as_eee(filters.apply(analysis.points.frame), analysis.points.specs, analysis.resample)
    return render_table(report_dict(analysis, filters, fits, strict=False))


def points_csv(analysis: Analysis, filters: ReportFilters) -> str:
    """The points as CSV, one row per family x model x task x metric."""
    frame = filters.apply(analysis.points.frame).sort(
        [FAMILY, TASK, METRIC, "params", MODEL], nulls_last=True
    )
    buffer = io.StringIO()
    frame.select([c for c in POINT_FIELDS if c in frame.columns]).write_csv(buffer)
    return buffer.getvalue()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _wrap(text: str, indent: str = "") -> list[str]:
    """Lines of at most ``WIDTH`` columns; continuation lines are indented two more."""
    return textwrap.wrap(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ", break_on_hyphens=False
    ) or [indent]


def render_table(report: dict) -> str:
    """Readable text in 80 columns: per task a verdict line, then its metrics, fits and points."""
    out: list[str] = []
    st = report["settings"]
    sampling = f"bootstrap B={st['bootstrap']}, {st['ci']:.0%} CI, seed {st['seed']}"
    sampling += ", paired" if st["paired"] else ", unpaired"
    if st["subsample"]:
        sampling += f", subsample n'={st['subsample']}"
    out.append(f"emergence-tui report: x = {st['x']}; {sampling}")
    for warning in report["warnings"]:
        out.extend(_wrap(f"warning: {_clip(warning, 400)}"))
    for item in report["skipped_metrics"]:
        out.extend(_wrap(f"skipped: {item['metric']} ({item['reason']})"))
    emergence = report["emergence"]
    fits = {(f["family"], f["task"], f["metric"]): f for f in report["fits"]}
    verdicts: dict[tuple[str, str], list[str]] = {}
    for row in report["mirage"]:
        verdicts.setdefault((row["family"], row["task"]), []).append(row["verdict"])
    points: dict[tuple[str, str, str], list[dict]] = {}
    for row in report["points"]:
        points.setdefault((row["family"], row["task"], row["metric"]), []).append(row)
    groups = sorted({(p[0], p[1]) for p in points} | {(e["family"], e["task"]) for e in emergence})
    for family, task in groups:
        out.append("")
        out.append(_clip(f"== {task}  (family {family})", WIDTH))
        for verdict in verdicts.get((family, task), [])[:1] or [
            "no discontinuous/continuous pair to compare"
        ]:
            out.extend(_wrap(f"verdict: {verdict}"))
        out.append(f"  {'metric':<24} {'kind':<5} {'emergence [CI]':<26} {'trend':<10} {'p_adj':>6}")
        for row in (e for e in emergence if (e["family"], e["task"]) == (family, task)):
            score = f"{number(row['score'])} {interval(row['lo'], row['hi'])}"
            kind = "disc" if row["kind"] == "discontinuous" else "cont"
            out.append(
                f"  {_clip(row['metric'], 24):<24} {kind:<5} {_clip(score, 26):<26} {row['trend'] or '-':<10}"
                f" {number(row.get('p_adjusted'), 2):>6}"
            )
        for (f_family, f_task, metric), fit in sorted(fits.items()):
            if (f_family, f_task) != (family, task) and f_task != "*":
                continue
            bt = fit.get("backtest") or {}
            line = fit_line(
                fit["law"],
                fit["x"],
                fit["params"],
                fit["ci"],
                fit["r2"],
                ok=fit["ok"],
                message=fit["message"],
                backtest={
                    _BACKTEST_KEYS[k]: v for k, v in bt.items() if k in _BACKTEST_KEYS and v is not None
                },
                holdout=bt.get("holdout", 0),
                r2_space=fit.get("r2_space"),
            )
            out.extend(_wrap(f"fit {metric}: {line}", "  "))
        for (p_family, p_task, metric), rows in sorted(points.items()):
            if (p_family, p_task) != (family, task):
                continue
            binary = any(row.get("binom_lo") is not None for row in rows)
            label = "Wilson CI" if binary else "CI"
            out.append(f"  {metric}:")
            out.append(f"    {'model':<22} {st['x']:>9} {'value':>9} {label:<22} {'n':>6}")
            for row in rows:
                lo, hi = (row["binom_lo"], row["binom_hi"]) if binary else (row["lo"], row["hi"])
                out.append(
                    f"    {_clip(str(row['model']), 22):<22} {number(row.get(st['x'])):>9}"
                    f" {number(row['value']):>9} {interval(lo, hi):<22} {number(row['n']):>6}"
                )
    out.append("")
    for note in report["notes"]:
        out.extend(_wrap(f"note: {note}"))
    return "\n".join(printable(line) for line in out) + "\n"  # names from files never restyle the terminal
