"""Benchmark inputs, generated with the project's mirage simulator under fixed seeds and cached on disk.

Files live under ``$XDG_CACHE_HOME/emergence-tui/bench`` (``~/.cache/...`` by default, or ``--cache-dir``) and
are named by their shape, so a second run reuses them; nothing here is ever committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analysis.output import require_writable_folder

SEED = 2023
TARGET_LENGTH = 5  # tokens per generation target: short sequences, as in the mirage model
CHOICES = 4


@dataclass(frozen=True)
class SampleShape:
    """A simulated per-sample file: ``models`` sizes x ``tasks`` tasks x ``items`` items per task.

    The simulator writes a generation and a choice task per call; an odd ``tasks`` drops the last choice task.
    ``shuffled`` writes the rows in a seeded random order (files concatenated from many runs look like this).
    """

    models: int
    tasks: int
    items: int
    shuffled: bool = False

    @property
    def rows(self) -> int:
        return self.models * self.tasks * self.items

    @property
    def file_name(self) -> str:
        order = "_shuffled" if self.shuffled else ""
        return f"samples_m{self.models}_t{self.tasks}_i{self.items}{order}_s{SEED}.parquet"

    @property
    def label(self) -> str:
        order = ", rows shuffled" if self.shuffled else ""
        return f"{self.models} sizes x {self.tasks} tasks x {self.items:,} items{order}"


FULL = SampleShape(models=20, tasks=50, items=10_000)
QUICK = SampleShape(models=20, tasks=4, items=2_000)
# The other shapes of 10M rows the report must handle as well as FULL (issue: fast on every shape).
SHAPES: dict[str, SampleShape] = {
    "wide": FULL,
    "deep": SampleShape(models=20, tasks=2, items=250_000),
    "many_sizes": SampleShape(models=200, tasks=5, items=10_000),
    "shuffled": SampleShape(models=20, tasks=50, items=10_000, shuffled=True),
}
# 100M rows: the report must stay under the machine's memory (issue 15), so it is written and read by task
BIG = SampleShape(models=20, tasks=50, items=100_000)
STREAMED_ROWS = 20_000_000  # shapes above this many rows are never held in memory whole when written
PAIR_ROW_GROUP = 262_144  # rows per Parquet row group of a streamed file (polars' own default)
QUICK_SHAPES: dict[str, SampleShape] = {
    "wide": QUICK,
    "deep": SampleShape(models=20, tasks=2, items=4_000),
    "many_sizes": SampleShape(models=40, tasks=5, items=1_000),
    "shuffled": SampleShape(models=20, tasks=4, items=2_000, shuffled=True),
}


def cache_dir(override: str | Path | None = None) -> Path:
    """Where generated inputs are kept: ``override``, else ``$XDG_CACHE_HOME/emergence-tui/bench``; created
    if missing. A folder that cannot be written is an ``OutputError`` line (jobs may need to write inputs)."""
    if override is not None:
        folder = Path(override)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "emergence-tui" / "bench"
    return require_writable_folder(folder, "--cache-dir" if override is not None else "the bench cache")


def simulated_pairs(shape: SampleShape) -> Iterator[pl.DataFrame]:
    """The rows of ``simulated_samples`` (not shuffled), one simulator call (a generation and a choice task)
    at a time."""
    from analysis.simulate import simulate

    sizes = np.geomspace(1e7, 1e11, shape.models)
    rng = np.random.default_rng(SEED)
    for pair in range(-(-shape.tasks // 2)):
        frame = simulate(
            c=float(10 ** rng.uniform(7.5, 9.5)),
            alpha=float(rng.uniform(-0.8, -0.3)),
            params=sizes,
            length=TARGET_LENGTH,
            choices=CHOICES,
            items=shape.items,
            seed=SEED + pair,
            family="bench",
            task_prefix=f"t{pair:03d}_",
            spread=0.5,
        )
        if 2 * pair + 1 == shape.tasks:
            frame = frame.filter(pl.col("task") != f"t{pair:03d}_choice")
        yield frame


def simulated_samples(shape: SampleShape) -> pl.DataFrame:
    """Canonical per-sample rows from the mirage simulator: each call gives a generation and a choice task.

    Task pairs differ in the mirage constants (c, alpha), so curves range from emergent to smooth.
    """
    frame = pl.concat(list(simulated_pairs(shape)), how="vertical")
    if shape.shuffled:
        frame = frame.sample(fraction=1.0, shuffle=True, seed=SEED)
    return frame


def _write_by_pairs(shape: SampleShape, target: Path) -> None:
    """Write ``shape``'s rows to ``target`` one simulator call at a time: each call's rows go to a part file,
    and polars' streaming engine copies the parts into one Parquet file, so no more than one call's rows
    (two tasks) are ever in memory."""
    parts_folder = target.with_suffix(".parts")
    parts_folder.mkdir(exist_ok=True)
    try:
        parts = []
        for index, frame in enumerate(simulated_pairs(shape)):
            part = parts_folder / f"{index:04d}.parquet"
            frame.write_parquet(part)
            parts.append(part)
            del frame
        pl.scan_parquet(parts).sink_parquet(target, row_group_size=PAIR_ROW_GROUP)
    finally:
        for part in parts_folder.glob("*.parquet"):
            part.unlink()
        parts_folder.rmdir()


def samples_file(shape: SampleShape, folder: Path) -> Path:
    """The cached Parquet file for ``shape``, written once (to a temporary name, then renamed); shapes above
    ``STREAMED_ROWS`` rows are written one simulator call at a time (``_write_by_pairs``)."""
    path = folder / shape.file_name
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.partial")
        if shape.rows > STREAMED_ROWS and not shape.shuffled:
            _write_by_pairs(shape, partial)
        else:
            simulated_samples(shape).write_parquet(partial)
        partial.replace(path)
    return path


def scored_file(shape: SampleShape, folder: Path) -> Path:
    """Per-sample ``exact_match`` (0/1) and ``token_edit_distance`` for ``shape.tasks`` generation tasks.

    Rows come from the simulator and are scored by ``analysis.metrics.score_samples``; cached as Parquet.
    """
    path = folder / f"scored_{shape.file_name}"
    if not path.exists():
        from analysis.metrics import score_samples
        from analysis.schema import ResultTable

        doubled = SampleShape(shape.models, 2 * shape.tasks, shape.items)
        frame = simulated_samples(doubled).filter(pl.col("task").str.ends_with("generation"))
        scored = score_samples(ResultTable(samples=frame.drop("choice_logliks", "correct_choice")))
        columns = ["family", "model", "task", "params", "item", "exact_match", "token_edit_distance"]
        partial = path.with_suffix(f".{os.getpid()}.partial")
        scored.frame.select(columns).write_parquet(partial)
        partial.replace(path)
    return path


def pairs_file(pairs: int, folder: Path) -> Path:
    """``pairs`` target/prediction pairs of 5 whitespace tokens from a simulated generation task."""
    path = folder / f"pairs_{pairs}_s{SEED}.parquet"
    if not path.exists():
        from analysis.simulate import simulate

        models = 20
        sizes = np.geomspace(1e7, 1e11, models)
        frame = simulate(3e8, -0.5, sizes, TARGET_LENGTH, CHOICES, -(-pairs // models), SEED, family="bench")
        spaced = [pl.col(c).str.split("").list.join(" ") for c in ("target", "prediction")]
        frame = frame.filter(pl.col("task") == "generation").select(spaced).head(pairs)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        frame.write_parquet(partial)
        partial.replace(path)
    return path


FULL_AGGREGATE = (200, 50, 50)  # families, sizes per family, tasks: 10,000 models x 50 tasks
QUICK_AGGREGATE = (20, 10, 10)


def aggregate_file(folder: Path, quick: bool = False) -> Path:
    """A tidy aggregate table (one accuracy per family x model x task, with n and stderr), as a leaderboard of
    10,000 models x 50 tasks would come: families of 50 sizes, each task a logistic in log N plus noise."""
    families, sizes, tasks = QUICK_AGGREGATE if quick else FULL_AGGREGATE
    path = folder / f"aggregate_f{families}_m{sizes}_t{tasks}_s{SEED}.parquet"
    if not path.exists():
        rng = np.random.default_rng(SEED)
        params = np.geomspace(1e7, 1e11, sizes)
        family = np.repeat(np.arange(families), sizes * tasks)
        size = np.tile(np.repeat(np.arange(sizes), tasks), families)
        task = np.tile(np.arange(tasks), families * sizes)
        middle = rng.uniform(8, 10.5, tasks)[task] + rng.normal(0, 0.3, families)[family]
        n = 1000
        truth = 0.25 + 0.75 / (1 + np.exp(-2.0 * (np.log10(params[size]) - middle)))
        value = rng.binomial(n, truth) / n
        frame = pl.DataFrame(
            {
                "family": [f"f{i:03d}" for i in family],
                "model": [f"f{f:03d}-{params[m]:.3g}" for f, m in zip(family, size, strict=True)],
                "params": params[size],
                "task": [f"task{t:02d}" for t in task],
                "metric": "acc",
                "value": value,
                "n": n,
                "stderr": np.sqrt(value * (1 - value) / n),
            }
        )
        partial = path.with_suffix(f".{os.getpid()}.partial")
        frame.write_parquet(partial)
        partial.replace(path)
    return path


PYTHIA_ARCHIVE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "pythia"
    / "raw"
    / "pythia-v1-evals.tar.gz"
)
PYTHIA_TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens (shared/data/pythia/SOURCE.md)


def pythia_folder(folder: Path) -> Path | None:
    """The Pythia old-lm-eval tree (672 JSON files) extracted into the cache once; None without ../shared."""
    if not PYTHIA_ARCHIVE.exists():
        return None
    target = folder / "pythia"
    root = target / "evals" / "pythia-v1"
    if not root.exists():
        import tarfile

        partial = folder / f"pythia.{os.getpid()}.partial"
        with tarfile.open(PYTHIA_ARCHIVE) as archive:
            archive.extractall(partial, filter="data")
        partial.replace(target)
    return root
