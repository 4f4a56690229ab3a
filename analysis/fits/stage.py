"""The ``fit_points`` stage (one law per family x task x metric) and ``fit_table`` (a table's column)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import polars as pl

from analysis import links
from analysis import schema as S
from analysis.errors import InputError
from analysis.fits.backtesting import (
    BACKTEST_RULE,
    _HeldOut,
    _judge_backtest,
    _queue_fit,
    holds_out_largest,
    smooth_link,
)
from analysis.fits.bootstrap import CI_SOURCES, ITEM_REPLICATES, POINT_RESAMPLES
from analysis.fits.checks import FALLING_LAWS, FIT_RULES, direction_refusal
from analysis.fits.laws import default_law, get_law
from analysis.fits.procedure import _fit_many, _FitRequest
from analysis.fits.results import _FRAME_SCHEMA, Backtest, FitResult, FitSet, _frame_row
from analysis.options import FitSettings

TABLE_TASK = (
    "*"  # task label of fits made directly on a table (fit_table): the fit pools no tasks, it has none
)


def _logistic_floor(chance: float | None, direction: int) -> float | None:
    """The fixed logistic floor: chance, when it is known, for a higher-is-better metric; else None (the floor
    is fitted, bounded by the data: a rate's floor stays in [0, its smallest value])."""
    if direction < 0 or chance is None:
        return None
    return float(chance)


def _task_chances(frame: pl.DataFrame, specs: dict[str, S.MetricSpec]) -> dict[tuple[str, str], float]:
    """(family, task) -> the chance of its multiple-choice accuracy (a 0/1, higher-is-better metric with a
    chance, such as mc_grade), for accuracies of the same task that state none (lm-eval's acc, acc_norm)."""
    if "chance" not in frame.columns:
        return {}
    out: dict[tuple[str, str], float] = {}
    rows = frame.filter(pl.col("chance").is_not_null()).select(S.FAMILY, S.TASK, S.METRIC, "chance").unique()
    for family, task, metric, chance in rows.iter_rows():
        spec = specs.get(metric)
        if spec is not None and spec.binary and spec.direction > 0:
            out.setdefault((family, task), float(chance))
    return out


def _inherits_chance(spec: S.MetricSpec | None) -> bool:
    """An accuracy without its own chance takes its task's: a 0/1, higher-is-better metric that is not
    exact-match-like (``links.scale_for`` judges it on the logit scale above chance)."""
    if spec is None or not spec.binary or spec.direction < 0:
        return False
    return links.scale_for(spec) == links.LOGIT


def _law_for(
    chosen: str | None, metric: str, spec: S.MetricSpec | None, x: np.ndarray, y: np.ndarray, x_name: str
) -> tuple[str, str]:
    """The law to fit and a note: the user's, else the metric's default, whose sign follows the data: a
    falling law's default (saturating) on a curve that rises (inverse scaling) becomes the power law."""
    if chosen is not None:
        return chosen, ""
    law = default_law(metric, spec)
    finite = np.isfinite(x) & np.isfinite(y)
    if law in FALLING_LAWS and direction_refusal(law, x[finite], y[finite], x_name) is not None:
        return (
            "power",
            f"the curve rises with {x_name} (inverse scaling): the power law, whose exponent takes its sign",
        )
    return law, ""


def curve_chance(
    rows: pl.DataFrame,
    spec: S.MetricSpec | None,
    task_chance: Mapping[tuple[str, str], float],
    key: tuple[str, str, str],
) -> float | None:
    """A curve's chance level: its rows' own ``chance`` column, else the metric's, else the task's (for a
    metric that takes its chance from the task's choices); None when none is known."""
    if "chance" in rows.columns and rows["chance"].drop_nulls().len():
        return float(rows["chance"].drop_nulls()[0])
    if spec is not None and spec.chance is not None:
        return float(spec.chance)
    if _inherits_chance(spec) and key[:2] in task_chance:
        return task_chance[key[:2]]
    return None


def _item_replicates(
    points: S.PointSet, key: tuple[str, str, str], models: list[str], bootstrap: int | None = None
) -> np.ndarray | None:
    """The points' own replicate curves (the first ``bootstrap`` of them, all when None) in the order of
    ``models``, or None when a model has none (the fit then resamples its points)."""
    reps = points.replicates.get(key)
    if reps is None or (bootstrap is not None and bootstrap <= 0):
        return None
    index = {m: i for i, m in enumerate(reps.models)}
    if any(m not in index for m in models):
        return None
    # at least 2 rows, so that a group with fewer than 2 replicates has none here at any ``bootstrap``
    values = np.asarray(reps.head(None if bootstrap is None else max(bootstrap, 2)), dtype=float)
    if values.ndim != 2 or values.shape[0] < 2:
        return None
    return values[:bootstrap, [index[m] for m in models]]


FIT_CHUNK = 256  # fits set up and refined together; their replicate rows are what bounds the stage's memory


def fit_points(
    points: S.PointSet,
    settings: FitSettings | None = None,
    *,
    y: str | None = None,
    lengths: Mapping[tuple[str, str], float] | None = None,
    chunk: int | None = FIT_CHUNK,
) -> FitSet:
    """Fit one law per family x task x metric (families never pooled) against ``settings.x``.

    The law is ``settings.law`` or the metric's default (``laws.default_law``; a falling law's default on a
    rising curve becomes the power law, whose exponent takes the data's sign); the joint law always uses
    params as x and tokens as x2. The logistic floor is fixed at chance when chance is known (an accuracy
    without its own takes its task's multiple-choice chance) and fitted otherwise. CIs refit the points' own
    replicates (``points.replicates``) when every fitted point has them, else resamples of the points. Rows
    with no x value are skipped and counted in the fit's message and in ``notes``. ``settings.holdout`` > 0
    adds a backtest (on a loss axis the held-out points are the smallest losses) with the smooth-line baseline
    on the metric's link scale (``lengths``: (family, task) -> mean target length, for the edit distance's).
    ``y`` names another column to fit instead of ``value`` (e.g. ``"loss"``): that is a per-model quantity,
    so it is fitted per family via ``fit_table``.

    The fits are set up and refined ``chunk`` at a time (None: all at once, the plain path): each holds its
    replicate curves and their refinement rows (B x 3 starts x points, ~1 MB per fit at B = 200 and 50
    points), which for every fit of a 10,000-curve table at once were 10+ GB. Every row is refined on its own
    (``optimizer._refine_rows``), so the results do not depend on the chunks
    (tests/equivalence/test_aggregate_memory.py).
    """
    settings = settings or FitSettings()
    if y is not None and y != S.VALUE:
        per_model = points.frame.unique(subset=[S.FAMILY, S.MODEL], keep="first", maintain_order=True)
        return fit_table(per_model, y=y, law=settings.law, settings=settings)
    frame = points.frame
    law_choice = None if settings.law is None else get_law(settings.law).name
    x_col, x2_col = settings.x, None
    if law_choice == "joint":
        x_col, x2_col = S.PARAMS, S.TOKENS
    for col in (x_col, x2_col):
        if col is not None and col not in frame.columns:
            raise InputError(f"points have no {col!r} column: choose --x from {', '.join(S.SCALES)}")
    results: dict[tuple[str, str, str], FitResult] = {}
    backtests: dict[tuple[str, str, str], Backtest] = {}
    rows = []
    skipped_total, skipped_groups = 0, 0
    # every fit (and backtest fit) is set up first and all are refined together, in shared batches
    requests: list[_FitRequest] = []
    done: list[FitResult] = []
    pending: list[tuple[tuple[str, str, str], str, _HeldOut | None, float | None]] = []
    keys = [S.FAMILY, S.TASK, S.METRIC]
    task_chance = _task_chances(frame, points.specs)
    lengths = lengths or {}
    for group in frame.sort([*keys, x_col], nulls_last=True).partition_by(keys, maintain_order=True):
        key = (group[S.FAMILY][0], group[S.TASK][0], group[S.METRIC][0])
        metric = key[2]
        spec = points.specs.get(metric)
        direction = (
            int(group["direction"][0]) if "direction" in group.columns and group["direction"][0] else 0
        )
        if direction == 0 and spec is not None:
            direction = spec.direction
        has_x = group[x_col].is_not_null() & group[S.VALUE].is_not_null()
        if x2_col is not None:
            has_x &= group[x2_col].is_not_null()
        skipped = int((~has_x).sum())
        used = group.filter(has_x)
        xs = used[x_col].to_numpy().astype(float)
        values = used[S.VALUE].to_numpy().astype(float)
        x2s = used[x2_col].to_numpy().astype(float) if x2_col else None
        chance = curve_chance(used, spec, task_chance, key)
        law, law_note = _law_for(law_choice, metric, spec, xs, values, x_col)
        floor = _logistic_floor(chance, direction) if law == "logistic" else None
        curves = _item_replicates(points, key, used[S.MODEL].to_list(), settings.bootstrap)
        request = _FitRequest(
            xs, values, law, x2s, floor, settings.bootstrap, settings.ci, settings.seed, x_col, x2_col, curves
        )
        link = smooth_link(spec, chance, lengths.get(key[:2]), values)
        lo, hi = (used[c].cast(pl.Float64).fill_null(np.nan).to_numpy() if c in used.columns else None
                  for c in (S.LO, S.HI))  # fmt: skip
        held = _queue_fit(requests, request, settings.holdout, holds_out_largest(x_col), link, lo, hi)
        notes_here = [law_note] if law_note else []
        if skipped:
            skipped_total += skipped
            skipped_groups += 1
            lacking = [c for c in (x_col, x2_col, S.VALUE) if c is not None and group[c].is_null().any()]
            notes_here.append(f"skipped {skipped} points with no {' or '.join(lacking)} value")
        pending.append((key, "; ".join(notes_here), held, chance))
        if chunk is not None and len(requests) >= chunk:  # a group's requests (fit, backtest) stay together
            done += _fit_many(requests)
            requests = []
    fitted = iter(done + _fit_many(requests))
    for key, note, held, chance in pending:
        bt = None if held is None else _judge_backtest(next(fitted), held, chance)
        fit = next(fitted)
        if note:
            fit = _with_note(fit, note)
        results[key] = fit
        if bt is not None:
            backtests[key] = bt
        rows.append(_frame_row(key, fit, bt))
    notes = _ci_notes(results) + ([BACKTEST_RULE] if backtests else [])
    if skipped_total:
        notes.append(
            f"fits against {x_col}: skipped {skipped_total} points with no {x_col} value "
            f"in {skipped_groups} family x task x metric groups"
        )
    return FitSet(pl.DataFrame(rows, schema=_FRAME_SCHEMA), results, backtests, tuple(notes))


def _ci_notes(results: dict[tuple[str, str, str], FitResult]) -> list[str]:
    """What the fits' CIs resampled (``FitResult.ci_from``), counted, with the rule; the fit rules."""
    if not results:
        return []
    sources = [fit.ci_from for fit in results.values() if fit.ci_from]
    counted = "; ".join(f"{sources.count(s)} are {CI_SOURCES[s]}" for s in (ITEM_REPLICATES, POINT_RESAMPLES))
    notes = [FIT_RULES]
    if sources:
        notes.append(f"fit CIs: {counted}; each replicate is refitted as the estimate is")
    return notes


def _with_note(fit: FitResult, note: str) -> FitResult:
    return replace(fit, message="; ".join(m for m in (fit.message, note) if m))


def fit_table(
    frame: pl.DataFrame,
    *,
    y: str = S.LOSS,
    law: str | None = "joint",
    settings: FitSettings | None = None,
    x2: str = S.TOKENS,
    by: tuple[str, ...] | None = None,
) -> FitSet:
    """Fit a column of a table directly, e.g. an aggregate loss table (Chinchilla: loss vs params and tokens).

    One fit per ``by`` group (default: per family when the table has a family column). ``law=None`` means
    ``saturating``. x is ``settings.x``; the joint law uses params and ``x2``. Rows missing a value are
    skipped (counted in the message). Result keys are (family, ``TABLE_TASK``, y).
    """
    settings = settings or FitSettings()
    law = get_law(law or "saturating").name
    x_col = S.PARAMS if law == "joint" else settings.x
    needed = [x_col, y] + ([x2] if law == "joint" else [])
    for col in needed:
        if col not in frame.columns:
            raise InputError(f"the table has no {col!r} column, needed to fit {y} with the {law} law")
    if by is None:
        by = (S.FAMILY,) if S.FAMILY in frame.columns else ()
    groups = frame.partition_by(list(by), maintain_order=True) if by else [frame]
    results: dict[tuple[str, str, str], FitResult] = {}
    backtests: dict[tuple[str, str, str], Backtest] = {}
    rows = []
    pending: list[tuple[tuple[str, str, str], _HeldOut | None]] = []
    requests: list[_FitRequest] = []
    for group in groups:
        family = str(group[by[0]][0]) if by else S.DEFAULT_FAMILY
        key = (family, TABLE_TASK, y)
        xs = group[x_col].cast(pl.Float64).to_numpy()
        ys = group[y].cast(pl.Float64).to_numpy()
        x2s = group[x2].cast(pl.Float64).to_numpy() if law == "joint" else None
        x2_name = x2 if law == "joint" else None
        request = _FitRequest(
            xs, ys, law, x2s, None, settings.bootstrap, settings.ci, settings.seed, x_col, x2_name
        )
        held = _queue_fit(requests, request, settings.holdout, holds_out_largest(x_col))
        pending.append((key, held))
    fitted = iter(_fit_many(requests))
    for key, held in pending:
        bt = None if held is None else _judge_backtest(next(fitted), held, None)
        fit = next(fitted)
        results[key] = fit
        if bt is not None:
            backtests[key] = bt
        rows.append(_frame_row(key, fit, bt))
    return FitSet(pl.DataFrame(rows, schema=_FRAME_SCHEMA), results, backtests)
