"""The benchmark's jobs and their baselines, each a function run in a fresh worker process.

A part takes a :class:`Context` and returns a :class:`Measured`: wall seconds per repeat (after the input is
prepared, which is not timed) and anything the table needs besides. Baselines that would take minutes run on a
subset and are scaled linearly; their ``note`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import baselines, data

BOOTSTRAP = 1000
CI = 0.95
PAIRS_FULL, PAIRS_QUICK = 1_000_000, 50_000
FIT_POINTS = 20


@dataclass(frozen=True)
class Context:
    quick: bool
    folder: Path
    repeat: int

    @property
    def shape(self) -> data.SampleShape:
        return data.QUICK if self.quick else data.FULL


@dataclass(frozen=True)
class Measured:
    seconds: list[float]
    rows: int
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def _timed(repeat: int, run: Callable[[], object]) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return seconds


# --------------------------------------------------------------------------------------- load and score


ISSUE_METRICS = ("exact_match", "token_edit_distance", "token_loss")  # the metrics the issue's job names


def _load_and_score(only: tuple[str, ...] | None, note: str) -> Callable[[Context], Measured]:
    def part(ctx: Context) -> Measured:
        from analysis.loading import load
        from analysis.metrics import score_samples
        from analysis.options import MetricOptions

        path = data.samples_file(ctx.shape, ctx.folder)
        options = MetricOptions(only=only)

        def run() -> None:
            score_samples(load([path]), options)

        return Measured(_timed(ctx.repeat, run), ctx.shape.rows, note)

    return part


load_and_score = _load_and_score(ISSUE_METRICS, f"load() + score_samples(only={', '.join(ISSUE_METRICS)})")
load_and_score_all = _load_and_score(
    None, "load() + score_samples(): all 7 metrics (mc_grade, choice_prob, brier and token_prob too)"
)


def bare_read(ctx: Context) -> Measured:
    import polars as pl

    path = data.samples_file(ctx.shape, ctx.folder)
    frame = pl.read_parquet(path)
    size = frame.estimated_size()
    del frame
    return Measured(
        _timed(ctx.repeat, lambda: pl.read_parquet(path)), ctx.shape.rows, extra={"arrow_bytes": size}
    )


# ------------------------------------------------------------------------------------------- bootstrap


def _scored(ctx: Context, metric: str):  # -> (ScoredSamples, values per group)
    import polars as pl

    from analysis.metrics import METRICS
    from analysis.schema import ScoredSamples

    frame = pl.read_parquet(data.scored_file(ctx.shape, ctx.folder)).select(
        "family", "model", "task", "params", "item", metric
    )
    return ScoredSamples(frame, {metric: METRICS[metric]})


def _bootstrap(metric: str) -> Callable[[Context], Measured]:
    def part(ctx: Context) -> Measured:
        from analysis.options import ResampleSettings
        from analysis.resampling import compute_points
        from analysis.schema import ResultTable

        scored = _scored(ctx, metric)
        settings = ResampleSettings(bootstrap=BOOTSTRAP, ci=CI, seed=0, paired=True)
        groups = ctx.shape.models * ctx.shape.tasks
        seconds = _timed(ctx.repeat, lambda: compute_points(scored, ResultTable(), settings))
        return Measured(seconds, ctx.shape.rows, f"compute_points, paired, {groups} model x task groups")

    return part


def _naive_bootstrap(metric: str) -> Callable[[Context], Measured]:
    def part(ctx: Context) -> Measured:
        scored = _scored(ctx, metric)
        frame = scored.frame.sort("task", "model", "item")
        groups = ctx.shape.models * ctx.shape.tasks
        subset = 4 if ctx.quick else 10
        values = frame[metric].to_numpy().reshape(groups, ctx.shape.items)[:subset]
        rng = np.random.default_rng(0)

        def run() -> None:
            for row in values:
                baselines.naive_bootstrap_ci(row, BOOTSTRAP, CI, rng)

        seconds = [s * groups / subset for s in _timed(ctx.repeat, run)]
        note = f"rng.choice per replicate, timed on {subset} of {groups} groups, scaled"
        return Measured(seconds, ctx.shape.rows, note)

    return part


# ---------------------------------------------------------------------------------------- edit distance


def _pairs(ctx: Context):
    import polars as pl

    return pl.read_parquet(data.pairs_file(PAIRS_QUICK if ctx.quick else PAIRS_FULL, ctx.folder))


def edit_distance(ctx: Context) -> Measured:
    from analysis.metrics import token_edit_distances
    from analysis.options import MetricOptions

    frame = _pairs(ctx)
    options = MetricOptions(tokenizer="whitespace")
    seconds = _timed(ctx.repeat, lambda: token_edit_distances(frame, options))
    return Measured(seconds, frame.height, "whitespace tokens, 5 per side")


def naive_edit_distance(ctx: Context) -> Measured:
    frame = _pairs(ctx)
    subset = 10_000
    left, right = frame["target"].head(subset).to_list(), frame["prediction"].head(subset).to_list()

    def run() -> None:
        for a, b in zip(left, right, strict=True):
            baselines.levenshtein(a.split(), b.split())

    seconds = [s * frame.height / subset for s in _timed(ctx.repeat, run)]
    return Measured(seconds, frame.height, f"pure-Python DP, timed on {subset} pairs, scaled")


# ------------------------------------------------------------------------------------------------- fits


def _fit_points() -> tuple[np.ndarray, np.ndarray]:
    """20 sizes; loss = E + the simulator's CE(N), with 2% multiplicative noise (seeded)."""
    from analysis.simulate import token_loss

    sizes = np.geomspace(1e7, 1e11, FIT_POINTS)
    rng = np.random.default_rng(data.SEED)
    return sizes, (1.7 + token_loss(1e4, -0.3, sizes)) * np.exp(0.02 * rng.standard_normal(FIT_POINTS))


def saturating_fit(ctx: Context) -> Measured:
    from analysis.fits import fit_law

    x, y = _fit_points()
    seconds = _timed(ctx.repeat, lambda: fit_law(x, y, "saturating", bootstrap=BOOTSTRAP, ci=CI, seed=0))
    return Measured(seconds, FIT_POINTS, f"fit_law('saturating', bootstrap={BOOTSTRAP})")


def naive_saturating_fit(ctx: Context) -> Measured:
    x, y = _fit_points()
    u, t, grid = baselines.saturating_grid(x, y)
    subset = grid[:: 42 if ctx.quick else 10]  # every k-th start; the full grid would take minutes
    ones = np.ones_like(u)
    scale = len(grid) / len(subset) * (BOOTSTRAP + 1)
    seconds = [
        s * scale for s in _timed(ctx.repeat, lambda: baselines.naive_saturating_fit(u, t, subset, ones))
    ]
    note = (
        f"L-BFGS-B from every one of {len(grid)} starts: timed on {len(subset)} starts, scaled to the "
        f"grid and x{BOOTSTRAP + 1} fits (point + replicates)"
    )
    return Measured(seconds, FIT_POINTS, note)


# ------------------------------------------------------------------------------------------------ report


def _report_on(path: Path, *extra: str) -> Callable[[], None]:
    from tui.cli import main as cli_main

    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            status = cli_main(["report", str(path), "--format", "json", *extra])
        if status != 0:
            raise RuntimeError(f"report {path.name} {' '.join(extra)} exited with {status}")

    return run


def report(ctx: Context) -> Measured:
    path = data.samples_file(ctx.shape, ctx.folder)
    return Measured(
        _timed(ctx.repeat, _report_on(path)), ctx.shape.rows, "emergence-tui report --format json, defaults"
    )


def _shape_parts(name: str) -> dict[str, Callable[[Context], Measured]]:
    """``report@NAME`` and ``read@NAME``: the default report and a bare read of the shape's file."""

    def shape(ctx: Context) -> data.SampleShape:
        return (data.QUICK_SHAPES if ctx.quick else data.SHAPES)[name]

    def report_part(ctx: Context) -> Measured:
        path = data.samples_file(shape(ctx), ctx.folder)
        note = f"report on {shape(ctx).label}"
        return Measured(_timed(ctx.repeat, _report_on(path)), shape(ctx).rows, note)

    def read_part(ctx: Context) -> Measured:
        import polars as pl

        path = data.samples_file(shape(ctx), ctx.folder)
        return Measured(_timed(ctx.repeat, lambda: pl.read_parquet(path)), shape(ctx).rows)

    return {f"report@{name}": report_part, f"read@{name}": read_part}


def _skipped_big(ctx: Context) -> Measured | None:
    """The 100M-row jobs are skipped under --quick (writing the file takes about 20 minutes, the report a few
    more)."""
    if ctx.quick:
        return Measured([float("nan")], 0, "skipped under --quick: the 100M-row file takes ~20 min to write")
    return None


def report_100m(ctx: Context) -> Measured:
    """The default report on 100M per-sample rows (``data.BIG``), which it reads a task at a time."""
    from analysis.by_task import task_source
    from analysis.options import LoadOptions

    skipped = _skipped_big(ctx)
    if skipped is not None:
        return skipped
    path = data.samples_file(data.BIG, ctx.folder)
    how = "a task at a time" if task_source([path], LoadOptions()) is not None else "WHOLE (not by task)"
    note = f"report on {data.BIG.label} ({path.stat().st_size / 1e9:.1f} GB of Parquet), read {how}"
    return Measured(_timed(ctx.repeat, _report_on(path)), data.BIG.rows, note)


def scan_100m(ctx: Context) -> Measured:
    """A polars streaming scan of the columns the report reads (all of them: the reader validates every
    column), touching every value: per column a sum of its numbers, string lengths or list lengths, so each
    page is decoded but no rows are kept (collecting the rows themselves would hold ~10 GB)."""
    import polars as pl

    skipped = _skipped_big(ctx)
    if skipped is not None:
        return skipped
    path = data.samples_file(data.BIG, ctx.folder)
    scan = pl.scan_parquet(path)
    touched = []
    for name, dtype in scan.collect_schema().items():
        column = pl.col(name)
        if dtype == pl.Utf8:
            column = column.str.len_bytes()
        elif isinstance(dtype, pl.List):
            column = column.list.len()
        touched.append(column.sum())
    query = scan.select(touched)
    note = "scan_parquet -> per-column sums (numbers, string and list lengths), engine='streaming'"
    return Measured(_timed(ctx.repeat, lambda: query.collect(engine="streaming")), data.BIG.rows, note)


def aggregate_report(ctx: Context) -> Measured:
    path = data.aggregate_file(ctx.folder, ctx.quick)
    import polars as pl

    rows = pl.read_parquet(path, columns=["value"]).height
    families, sizes, tasks = data.QUICK_AGGREGATE if ctx.quick else data.FULL_AGGREGATE
    note = (
        f"report on an aggregate table of {families * sizes:,} models ({families} families x {sizes} "
        f"sizes) x {tasks} tasks, one accuracy each (n = 1000): no items to resample, fits only"
    )
    return Measured(_timed(ctx.repeat, _report_on(path)), rows, note)


def aggregate_read(ctx: Context) -> Measured:
    import polars as pl

    path = data.aggregate_file(ctx.folder, ctx.quick)
    return Measured(_timed(ctx.repeat, lambda: pl.read_parquet(path)), 0)


_SPIN = "import numpy as np\nx = np.random.default_rng(0).random(2_000_000)\nwhile True:\n    np.sort(x)\n"


def report_contended(ctx: Context) -> Measured:
    """The default report while one CPU-bound process per core runs beside it (a busy login node)."""
    import os
    import subprocess
    import sys

    from analysis.threads import cores

    path = data.samples_file(ctx.shape, ctx.folder)
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(cores())]
    try:
        time.sleep(1.0)  # the spinners are running before the clock starts
        seconds = _timed(ctx.repeat, _report_on(path))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    note = f"report while {len(spinners)} other processes sort numbers on all {os.cpu_count()} cores"
    return Measured(seconds, ctx.shape.rows, note)


def resolution_sweep(ctx: Context) -> Measured:
    path = data.samples_file(ctx.shape, ctx.folder)
    sizes, repeats = (3, 2) if ctx.quick else (8, 5)  # --quick checks that the job runs, in a few seconds
    sweep = ("--resolution-sweep", "--sweep-sizes", str(sizes), "--sweep-repeats", str(repeats))
    note = f"report --resolution-sweep, {sizes} sizes x {repeats} seeded subsamples (paired)"
    return Measured(_timed(ctx.repeat, _report_on(path, *sweep)), ctx.shape.rows, note)


# The report's physical floor: what any paired bootstrap with B=1000 over every item must at least do. The
# simulator's generation tasks score 5 metrics per model and its choice tasks 3 (checked on the quick file).
_GENERATION_METRICS, _CHOICE_METRICS = 5, 3


def report_floor(ctx: Context) -> Measured:
    """The bare read, one Gamma(1) draw of the B x n weights, and one product of those weights with each
    task's items x (models x metrics) values, BLAS on every core: the report cannot be faster than this."""
    import polars as pl
    from threadpoolctl import threadpool_limits

    from analysis.threads import cores

    shape = ctx.shape
    path = data.samples_file(shape, ctx.folder)
    rng = np.random.default_rng(0)
    widths = {shape.models * _GENERATION_METRICS: (shape.tasks + 1) // 2}
    widths[shape.models * _CHOICE_METRICS] = widths.get(shape.models * _CHOICE_METRICS, 0) + shape.tasks // 2
    values = {width: rng.random((shape.items, width)) for width in widths}
    parts: dict[str, list[float]] = {"read": [], "draw": [], "products": []}

    def run() -> None:
        started = time.perf_counter()
        pl.read_parquet(path)
        parts["read"].append(time.perf_counter() - started)
        started = time.perf_counter()
        weights = rng.standard_exponential((BOOTSTRAP, shape.items))
        parts["draw"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with threadpool_limits(cores()):
            for width, tasks in widths.items():
                for _ in range(tasks):
                    weights @ values[width]
        parts["products"].append(time.perf_counter() - started)

    seconds = _timed(ctx.repeat, run)
    flops = sum(2.0 * BOOTSTRAP * shape.items * width * tasks for width, tasks in widths.items())
    median = {name: float(np.median(runs)) for name, runs in parts.items()}
    note = (
        f"read {median['read']:.2f} s + one B x n Gamma(1) draw {median['draw']:.2f} s + {shape.tasks} "
        f"products (B x n) @ (n x models x metrics), {flops / 1e9:.0f} GFLOP, {median['products']:.2f} s "
        f"({flops / 1e9 / median['products']:.0f} GFLOP/s on {cores()} cores): the paired bootstrap's "
        "least work, before scoring, layout, intervals, fits and tests"
    )
    return Measured(seconds, shape.rows, note, extra={"products_seconds": median["products"]})


# --------------------------------------------------------------------------------------------------- app


def app_first_paint(ctx: Context) -> Measured:
    from benchmarks import app_probe

    app_probe.compile_bytecode()
    seconds = [app_probe.first_paint([]).paint for _ in range(ctx.repeat)]
    note = "spawn -> status line painted on an 80x24 pty, sample data, bytecode compiled as installed"
    return Measured(seconds, 0, note)


def textual_start(ctx: Context) -> Measured:
    from benchmarks import app_probe
    from benchmarks.first_paint import time_baseline

    app_probe.compile_bytecode()
    return Measured([time_baseline(("-c", "import textual")) for _ in range(ctx.repeat)], 0)


def app_metric_toggle(ctx: Context) -> Measured:
    from benchmarks import app_probe

    work, wall = asyncio.run(app_probe.metric_toggle(max(ctx.repeat, 5)))
    note = f"app.refresh_views() time for key n; key-to-idle wall median {np.median(wall) * 1000:.0f} ms"
    return Measured(work, 0, note, extra={"wall_max": float(np.max(wall))})


def app_open_large(ctx: Context) -> Measured:
    from benchmarks import app_probe

    path = data.samples_file(ctx.shape, ctx.folder)
    app_probe.compile_bytecode()
    runs = [app_probe.first_paint([str(path)], keys=True) for _ in range(max(1, ctx.repeat - 1))]
    latencies = [s for run in runs for s in run.key_seconds]
    worst = max(latencies) if latencies else float("nan")
    progress = all(run.progress_shown for run in runs)
    note = (
        f"first paint; progress shown: {'yes' if progress else 'NO'}; "
        f"{len(latencies)} keys while computing, slowest {worst * 1000:.0f} ms"
    )
    return Measured(
        [run.paint for run in runs], ctx.shape.rows, note, {"key_max": worst, "progress": progress}
    )


def calibration(ctx: Context) -> Measured:
    path = data.samples_file(ctx.shape, ctx.folder)
    note = "report --calibrate: each curve's largest scale, then its largest two, held out and forecast"
    return Measured(_timed(ctx.repeat, _report_on(path, "--calibrate")), ctx.shape.rows, note)


def pythia_app(ctx: Context) -> Measured:
    """The app on the Pythia tree: until ready, and an axis change (x) until ready again."""
    from benchmarks import app_probe

    if ctx.quick:
        return Measured([float("nan")], 0, "skipped under --quick: the real folder takes minutes")
    root = data.pythia_folder(ctx.folder)
    if root is None:
        return Measured([float("nan")], 0, "skipped: ../shared/data/pythia is absent")
    app_probe.compile_bytecode()
    args = [str(root), "--params-from-name", "--tokens-per-step", str(data.PYTHIA_TOKENS_PER_STEP)]
    runs = [app_probe.time_to_ready(args) for _ in range(ctx.repeat)]
    axis = [run.axis_change for run in runs]
    task = [run.task_open for run in runs]
    note = (
        f"672 JSON files, --params-from-name; axis change (x) to ready again: median {np.median(axis):.1f} "
        f"s; then a task opened, its laws fitted on tokens: median {np.median(task):.1f} s"
    )
    extra = {"axis_max": float(np.max(axis)), "task_max": float(np.max(task))}
    return Measured([run.ready for run in runs], 672, note, extra=extra)


PARTS: dict[str, Callable[[Context], Measured]] = {
    **{part: run for name in data.SHAPES for part, run in _shape_parts(name).items()},
    "report_100m": report_100m,
    "scan_100m": scan_100m,
    "report_aggregate": aggregate_report,
    "read_aggregate": aggregate_read,
    "report_contended": report_contended,
    "report_floor": report_floor,
    "resolution_sweep": resolution_sweep,
    "calibration": calibration,
    "pythia_app": pythia_app,
    "load_score": load_and_score,
    "load_score_all": load_and_score_all,
    "bare_read": bare_read,
    "boot_binary": _bootstrap("exact_match"),
    "naive_boot_binary": _naive_bootstrap("exact_match"),
    "boot_real": _bootstrap("token_edit_distance"),
    "naive_boot_real": _naive_bootstrap("token_edit_distance"),
    "edit_distance": edit_distance,
    "naive_edit_distance": naive_edit_distance,
    "fit": saturating_fit,
    "naive_fit": naive_saturating_fit,
    "report": report,
    "app_first_paint": app_first_paint,
    "textual_start": textual_start,
    "app_toggle": app_metric_toggle,
    "app_open_large": app_open_large,
}


def run_part(name: str, ctx: Context) -> Measured:
    return PARTS[name](ctx)
