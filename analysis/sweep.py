"""The resolution sweep: what would a test set of n' items have said?

Schaeffer et al.'s third lever is the resolution of the evaluation: with n items an accuracy moves in steps of
1/n, and a model whose true accuracy is 1e-4 reads 0 on 500 items. The sweep reruns the analysis on subsamples
of the items (docs/science.md section 4: "subsampling shows what a smaller test set would have seen") and
reports, per family x task x metric, how the curve's status (``analysis.emergence``), the verdict's category
(``analysis.mirage``), the emergence score and each model's interval change with n'. It answers "at which n'
does the jump appear (or vanish)?" and "from which n' is the smallest model above its floor?".

* **Sizes.** ``SweepSettings.count`` sizes log-spaced from ``start`` (50) to the largest task's item count
  (the full n), or the user's own; a task with fewer items than a size uses all of its items there, so its
  rows read n' = its own n (``n_items``).
* **Subsamples.** At each size below the full n, ``repeats`` seeded subsamples: repeat r is exactly the
  analysis that ``report --subsample n' --seed <seed + r> --bootstrap <B>`` gives (the pipeline's own
  subsample: paired by default, one draw of item ids per family x task for every model), so any cell can be
  checked by hand. Subsamples of different sizes are drawn independently (not nested). At the full n the
  sweep uses the plain analysis itself (the report's own statuses and verdicts, at its B).
* **B.** Each subsample's points get ``SweepSettings.bootstrap`` replicates (200 by default): the statuses
  read the replicates' spread (the jump test's null curves, the bootstrap intervals of continuous points),
  which 200 replicates pin down; 0/1 points are placed by their binomial intervals, which need no
  replicates. The p-values beyond the replicates come from the fitted tail (``analysis.jumps``), so a small B
  does not floor them. On the simulator the statuses at B = 200 equal those at B = 1000
  (``tests/unit/test_sweep.py``).
* **Shared work.** The scored frame is laid out as items x models matrices once
  (``analysis.resampling.points.sample_layout``); each subsample copies only its drawn items' rows, so a run
  costs a bootstrap of n' items rather than a pass over every row.
* **Majorities.** Per size, the status and the category are those of most subsamples (ties: the first in
  alphabetical order), with their share; the score is the median with the range over subsamples; a model is
  *resolved* at a size when its interval clears the floor of the curve's link scale in most subsamples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.emergence import JUMP, score_emergence
from analysis.mirage import task_verdicts
from analysis.options import ResampleSettings, SweepSettings
from analysis.resampling.layout import _Group
from analysis.resampling.points import compute_points, sample_layout

KEYS = (S.FAMILY, S.TASK, S.METRIC)

SWEEP_RULE = (
    "resolution sweep: the analysis rerun on seeded subsamples of n' items (sizes log-spaced from 50 to the "
    "full n unless given; at each size below the full n, subsample r is what `report --subsample n' --seed "
    "<seed + r>` gives with the sweep's B; at the full n, the report itself). Per size: the status and "
    "verdict of most subsamples with their share, the emergence score's median and range over subsamples, "
    "and whether each model's interval clears its floor in most subsamples. 'settled at' is the smallest n' "
    "from which the status stays what it is at the full n"
)

RUN_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "kind": pl.Utf8(),
    "size": pl.Int64(),
    "n_items": pl.Int64(),
    "repeat": pl.Int64(),
    "status": pl.Utf8(),
    "category": pl.Utf8(),
    "score": pl.Float64(),
    "jump": pl.Float64(),
    "jump_at": pl.Utf8(),
    "p_adjusted": pl.Float64(),
}
MODEL_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    S.MODEL: pl.Utf8(),
    "scale": pl.Float64(),
    "size": pl.Int64(),
    "n_items": pl.Int64(),
    "repeat": pl.Int64(),
    S.VALUE: pl.Float64(),
    "lo": pl.Float64(),
    "hi": pl.Float64(),
    "resolved": pl.Boolean(),
}


@dataclass(frozen=True, eq=False)
class ResolutionSweep:
    """The sweep's results (column lists in ``RUN_SCHEMA``, ``MODEL_SCHEMA`` and the functions below).

    ``runs``: one row per family x task x metric x size x subsample; ``models``: the same per model (its
    value, interval and whether it is resolved); ``curves``: per family x task x metric x ``n_items`` the
    majority status and category with their shares, the share of subsamples that call a jump, and the
    score's median and range; ``model_sizes``: per model and ``n_items`` the medians of its value and
    interval bounds and the share of subsamples in which it is resolved; ``summary``: per family x task x
    metric the path of statuses along n', where it settles, where a jump appears or vanishes, from which
    n' the smallest model is resolved, and a sentence.
    """

    sizes: tuple[int, ...]
    repeats: int
    bootstrap: int
    full_n: int
    runs: pl.DataFrame
    models: pl.DataFrame
    curves: pl.DataFrame
    model_sizes: pl.DataFrame
    summary: pl.DataFrame
    notes: tuple[str, ...] = ()

    def without_data(self) -> ResolutionSweep:
        """The sweep without its per-run rows (``runs``, ``models``): what the app's sweep screen reads."""
        return replace(self, runs=self.runs.clear(), models=self.models.clear())


def sweep_sizes(full_n: int, settings: SweepSettings) -> tuple[int, ...]:
    """The user's sizes (capped at the full n) and the full n, or ``count`` sizes log-spaced from ``start`` to
    the full n."""
    if full_n < 1:
        return ()
    if settings.sizes:
        return tuple(sorted({min(n, full_n) for n in settings.sizes} | {full_n}))
    start = min(settings.start, full_n)
    grid = np.geomspace(start, full_n, settings.count) if settings.count > 1 else np.array([full_n])
    return tuple(sorted({round(float(n)) for n in grid}))


# ------------------------------------------------------------------------------------------------ runs


Run = tuple[S.PointSet, pl.DataFrame, pl.DataFrame]  # points, statuses, verdicts


def _run_frames(run: Run, x: str, size: int, repeat: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One run's rows of ``runs`` and ``models``."""
    points, scores, verdicts = run
    frame = points.frame.filter(pl.col(S.SOURCE) == "samples")  # aggregate rows have no items to draw
    sampled = frame.select(*KEYS).unique()
    scores = scores.join(sampled, on=KEYS, how="semi")
    n_items = frame.group_by(S.FAMILY, S.TASK).agg(pl.col(S.N).max().alias("n_items"))
    tags = [pl.lit(size, dtype=pl.Int64).alias("size"), pl.lit(repeat, dtype=pl.Int64).alias("repeat")]
    curves = (
        scores.select(*KEYS, "kind", "status", "score", "jump", "jump_at", "p_adjusted")
        .join(verdicts.select(*KEYS, "category"), on=KEYS, how="left")
        .join(n_items, on=[S.FAMILY, S.TASK], how="left")
        .with_columns(*tags)
    )
    judged = scores.select(*KEYS, pl.col("n_unresolved").is_not_null().alias("judged"))
    unresolved = (
        scores.select(*KEYS, pl.col("unresolved").str.split(", ").alias(S.MODEL))
        .explode(S.MODEL)
        .drop_nulls(S.MODEL)
        .with_columns(pl.lit(True).alias("below"))
    )
    lo = pl.coalesce(S.BINOM_LO, S.LO) if S.BINOM_LO in frame.columns else pl.col(S.LO)
    hi = pl.coalesce(S.BINOM_HI, S.HI) if S.BINOM_HI in frame.columns else pl.col(S.HI)
    models = (
        frame.select(*KEYS, S.MODEL, pl.col(x).alias("scale"), S.VALUE, lo.alias("lo"), hi.alias("hi"))
        .join(judged, on=KEYS, how="left")
        .join(unresolved, on=[*KEYS, S.MODEL], how="left")
        .join(n_items, on=[S.FAMILY, S.TASK], how="left")
        .with_columns(
            pl.when(pl.col("judged")).then(~pl.col("below").fill_null(False)).alias("resolved"), *tags
        )
    )
    run_rows = curves.select(list(RUN_SCHEMA)).cast(RUN_SCHEMA)
    return run_rows, models.select(list(MODEL_SCHEMA)).cast(MODEL_SCHEMA)


def _items_of(group: _Group) -> int:
    """The items a subsample of the group draws from: every item with a row for some model."""
    first = next(iter(group.values.values()))
    return first.shape[0] if group.rows is None else int(group.rows.any(axis=1).sum())


def resolution_sweep(
    scored: S.ScoredSamples,
    table: S.ResultTable,
    resample: ResampleSettings,
    x: str,
    settings: SweepSettings,
    full: Run,
    lengths: Mapping[tuple[str, str], float] | None = None,
    on_run: Callable[[int, int], None] | None = None,
) -> ResolutionSweep:
    """The sweep over ``sweep_sizes`` (rules in the module docstring). ``full`` is the plain analysis of every
    item (points, statuses, verdicts), used at the full n; ``on_run(done, total)`` after each run."""
    layout = sample_layout(scored)
    full_n = max((_items_of(group) for group in layout), default=0)
    sizes = sweep_sizes(full_n, settings)
    bootstrap = min(resample.bootstrap, settings.bootstrap)
    plan = [(size, r) for size in sizes for r in range(1 if size >= full_n else settings.repeats)]
    runs, models = [], []
    for done, (size, repeat) in enumerate(plan, 1):
        if size >= full_n:
            run = full
        else:
            subsample = replace(resample, bootstrap=bootstrap, seed=resample.seed + repeat, subsample=size)
            points = compute_points(scored, table, subsample, layout=layout)
            scores = score_emergence(points, x=x, ci=resample.ci, seed=subsample.seed, lengths=lengths)
            run = (points, scores, task_verdicts(scores, points, lengths, resample.ci))
        curve_rows, model_rows = _run_frames(run, x, size, repeat)
        runs.append(curve_rows)
        models.append(model_rows)
        if on_run is not None:
            on_run(done, len(plan))
    run_frame = pl.concat(runs) if runs else pl.DataFrame(schema=RUN_SCHEMA)
    model_frame = pl.concat(models) if models else pl.DataFrame(schema=MODEL_SCHEMA)
    curves = _curves(run_frame)
    model_sizes = _model_sizes(model_frame)
    last_seed = resample.seed + settings.repeats - 1
    notes = (
        (
            f"resolution sweep: sizes {', '.join(map(str, sizes))} of {full_n} items, {settings.repeats} "
            f"seeded subsamples below the full n (seeds {resample.seed}..{last_seed}), B={bootstrap} per "
            f"subsample ({'paired' if resample.paired else 'unpaired'}); the full n is the report itself; "
            "curves of aggregate rows (no items to draw) are left out"
        )
        if sizes
        else "resolution sweep: nothing to sweep: the table has no per-sample rows (aggregate rows have no "
        "items to draw)",
    )
    return ResolutionSweep(
        sizes=sizes,
        repeats=settings.repeats,
        bootstrap=bootstrap,
        full_n=full_n,
        runs=run_frame,
        models=model_frame,
        curves=curves,
        model_sizes=model_sizes,
        summary=_summary(curves, model_sizes),
        notes=notes,
    )


# ------------------------------------------------------------------------------------------- summaries


def _majority(runs: pl.DataFrame, column: str, by: list[str]) -> pl.DataFrame:
    """Per group: the most common value of ``column`` (ties: the first alphabetically) and its share."""
    counted = runs.group_by(*by, column).agg(pl.len().alias("count"))
    totals = runs.group_by(*by).agg(pl.len().alias("total"))
    best = (
        counted.sort([*by, "count", column], descending=[*([False] * len(by)), True, False], nulls_last=True)
        .group_by(*by, maintain_order=True)
        .first()
        .join(totals, on=by)
    )
    return best.select(*by, column, (pl.col("count") / pl.col("total")).alias(f"{column}_share"))


CURVE_COLUMNS = (
    *KEYS, "n_items", "kind", "runs", "status", "status_share", "jump_share", "category", "category_share",
    "score", "score_min", "score_max",
)  # fmt: skip


def _curves(runs: pl.DataFrame) -> pl.DataFrame:
    """Per family x task x metric x n_items over its subsamples (the ``ResolutionSweep.curves`` frame)."""
    by = [*KEYS, "n_items"]
    finite = pl.col("score").filter(pl.col("score").is_not_nan())
    stats = runs.group_by(*by).agg(
        pl.col("kind").first(),
        pl.len().cast(pl.Int64).alias("runs"),
        (pl.col("status") == JUMP).mean().alias("jump_share"),
        finite.median().alias("score"),
        finite.min().alias("score_min"),
        finite.max().alias("score_max"),
    )
    return (
        stats.join(_majority(runs, "status", by), on=by)
        .join(_majority(runs, "category", by), on=by)
        .select(*CURVE_COLUMNS)
        .sort(by)
    )


def _model_sizes(models: pl.DataFrame) -> pl.DataFrame:
    """Per model and n_items over its subsamples: median value and bounds, share of subsamples resolved."""
    by = [*KEYS, S.MODEL, "n_items"]
    return (
        models.group_by(*by)
        .agg(
            pl.col("scale").first(),
            pl.len().cast(pl.Int64).alias("runs"),
            pl.col(S.VALUE).median(),
            pl.col("lo").median(),
            pl.col("hi").median(),
            pl.col("resolved").cast(pl.Float64).mean().alias("resolved_share"),
        )
        .sort([*KEYS, "scale", S.MODEL, "n_items"], nulls_last=True)
    )


def _path(sizes: list[int], labels: list[str | None]) -> str:
    """Runs of equal labels along n': 'unresolved at 50-177, jump at 334-10000'."""
    parts: list[str] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            span = f"{sizes[start]}" if i - 1 == start else f"{sizes[start]}-{sizes[i - 1]}"
            parts.append(f"{labels[start] or '–'} at {span}")
            start = i
    return ", ".join(parts)


def _settled(sizes: list[int], labels: list[object]) -> int | None:
    """The smallest size from which every label equals the last one."""
    if not labels:
        return None
    at = len(labels) - 1
    while at > 0 and labels[at - 1] == labels[-1]:
        at -= 1
    return sizes[at]


SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "kind": pl.Utf8(),
    "status_path": pl.Utf8(),
    "status_full": pl.Utf8(),
    "settled_at": pl.Int64(),
    "jump_appears_at": pl.Int64(),
    "jump_vanishes_at": pl.Int64(),
    "category_path": pl.Utf8(),
    "category_full": pl.Utf8(),
    "category_settled_at": pl.Int64(),
    "smallest": pl.Utf8(),
    "smallest_resolved_at": pl.Int64(),
    "sentence": pl.Utf8(),
}


def _summary(curves: pl.DataFrame, model_sizes: pl.DataFrame) -> pl.DataFrame:
    """Per family x task x metric: the answer to "at which n' does it change?" (``SUMMARY_SCHEMA``)."""
    smallest: dict[tuple[str, str, str], tuple[str, list[int], list[float | None]]] = {}
    for part in model_sizes.partition_by(*KEYS, maintain_order=True):
        first = part.filter(pl.col(S.MODEL) == part[S.MODEL][0])  # sorted by scale: the smallest model
        key = (part[S.FAMILY][0], part[S.TASK][0], part[S.METRIC][0])
        smallest[key] = (first[S.MODEL][0], first["n_items"].to_list(), first["resolved_share"].to_list())
    rows = []
    for part in curves.partition_by(*KEYS, maintain_order=True):
        key = (part[S.FAMILY][0], part[S.TASK][0], part[S.METRIC][0])
        sizes, statuses = part["n_items"].to_list(), part["status"].to_list()
        jumps = [s == JUMP for s in statuses]
        row: dict[str, object] = dict(zip(KEYS, key, strict=True)) | {
            "kind": part["kind"][0],
            "status_path": _path(sizes, statuses),
            "status_full": statuses[-1],
            "settled_at": _settled(sizes, statuses),
            "jump_appears_at": _settled(sizes, jumps) if jumps[-1] else None,
            "jump_vanishes_at": None,
        }
        if not jumps[-1] and any(jumps):
            last = max(i for i, jumped in enumerate(jumps) if jumped)
            row["jump_vanishes_at"] = sizes[last + 1]
        categories = part["category"].to_list()
        if any(c is not None for c in categories):
            row.update(
                category_path=_path(sizes, categories),
                category_full=categories[-1],
                category_settled_at=_settled(sizes, categories),
            )
        if key in smallest:
            model, model_sizes_, shares = smallest[key]
            resolved = [share is not None and share > 0.5 for share in shares]
            row["smallest"] = model
            row["smallest_resolved_at"] = (
                _settled(model_sizes_, resolved) if resolved and resolved[-1] else None
            )
            row["_never"] = not any(share is not None for share in shares)
        row["sentence"] = _sentence(row)
        row.pop("_never", None)
        rows.append(row)
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA)


def _sentence(row: Mapping[str, object]) -> str:
    """'exact_match: unresolved at 50-177, jump at 334-10000 (a jump from n' = 334); verdict ...; the
    smallest model m1 is resolved from n' = 2244'."""
    text = f"{row[S.METRIC]}: {row['status_path']}"
    if row.get("jump_appears_at") is not None:
        text += f" (a jump from n' = {row['jump_appears_at']})"
    elif row.get("jump_vanishes_at") is not None:
        text += f" (the jump vanishes from n' = {row['jump_vanishes_at']})"
    if row.get("category_path"):
        text += f"; verdict {row['category_path']}"
    model = row.get("smallest")
    if model and not row.get("_never"):
        at = row.get("smallest_resolved_at")
        text += (
            f"; the smallest model {model} is below resolution at the full n"
            if at is None
            else f"; the smallest model {model} is resolved from n' = {at}"
        )
    return text
