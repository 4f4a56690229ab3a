"""``emergence-tui bench`` / ``python -m benchmarks``: time each job against its baseline, print one table.

Inputs are generated with the mirage simulator under fixed seeds and cached (see ``benchmarks.data``).
Each job runs in its own fresh Python process together with its baseline, the two alternating run by run,
``--repeat`` times each; the table shows the medians, the spread over the runs and each one's own peak
memory. ``--quick`` runs small inputs (a smoke test of the command, not of the targets).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.data import FULL, QUICK, cache_dir

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Job:
    """One row of the table: a part, its baseline part, and the target both are judged by."""

    name: str
    part: str
    baseline: str | None
    target: str
    max_ratio: float | None = None  # job seconds / baseline seconds must be at most this
    min_speedup: float | None = None  # baseline seconds / job seconds must be at least this
    max_seconds: float | None = None
    max_memory_vs_arrow: float | None = None  # peak bytes / the file's in-memory Arrow size
    max_peak_bytes: float | None = None  # the job's own peak resident memory
    repeat: int | None = None  # runs of this job and its baseline, whatever --repeat says (long jobs)


JOBS: tuple[Job, ...] = (
    Job("load + score", "load_score", "bare_read", "<= 3x read", max_ratio=3.0),
    Job("load + score, 7 metrics", "load_score_all", "bare_read", "- (shown, no target)"),
    Job("paired bootstrap 0/1", "boot_binary", "naive_boot_binary", ">= 100x faster", min_speedup=100),
    Job("paired bootstrap real", "boot_real", "naive_boot_real", ">= 30x faster", min_speedup=30),
    Job("token edit distance", "edit_distance", "naive_edit_distance", ">= 50x faster", min_speedup=50),
    Job("saturating fit B=1000", "fit", "naive_fit", "< 2 s", max_seconds=2.0),
    Job(
        "report end to end",
        "report",
        "bare_read",
        "< 10 s, mem < 4x arrow",
        max_seconds=10.0,
        max_memory_vs_arrow=4.0,
    ),
    Job("report floor: read+draw+GEMMs", "report_floor", "bare_read", "- (shown, no target)"),
    Job("report, 2 tasks x 250k items", "report@deep", "read@deep", "<= 4x read", max_ratio=4.0),
    Job("report, 200 sizes x 5 tasks", "report@many_sizes", "read@many_sizes", "<= 4x read", max_ratio=4.0),
    Job("report, rows shuffled", "report@shuffled", "read@shuffled", "<= 4x read", max_ratio=4.0),
    Job(
        "report, 100M rows (20 x 50 x 100k)",
        "report_100m",
        "scan_100m",
        "<= 4x streaming scan, peak < 24 GiB",
        max_ratio=4.0,
        max_peak_bytes=24 * 2**30,
        repeat=1,
    ),
    Job("report, 10k models x 50 tasks", "report_aggregate", "read_aggregate", "<= 4x read", max_ratio=4.0),
    Job("report beside 2 busy processes", "report_contended", "report", "<= 2x alone", max_ratio=2.0),
    Job("resolution sweep 8 x 5", "resolution_sweep", "report", "<= 10x report", max_ratio=10.0),
    Job("forecast calibration", "calibration", "report", "<= 10x report", max_ratio=10.0),
    Job("app on Pythia (672 JSON)", "pythia_app", None, "ready < 10 s, x < 2 s", max_seconds=10.0),
    Job("app first paint", "app_first_paint", "textual_start", "< 1 s", max_seconds=1.0),
    Job("app metric toggle", "app_toggle", None, "< 100 ms work", max_seconds=0.1),
    Job("app open big file", "app_open_large", None, "< 2 s, keys < 100 ms", max_seconds=2.0),
)


@dataclass(frozen=True)
class Result:
    seconds: float  # the median run
    peak_bytes: int
    rows: int
    note: str
    extra: dict
    runs: tuple[float, ...] = ()  # every run's seconds, in the order run


def run_pair(
    part: str, baseline: str | None, *, quick: bool, repeat: int, folder: Path
) -> tuple[Result, Result | None]:
    """Run a part and its baseline in one fresh interpreter (alternating) and read back the JSON line."""
    command = [sys.executable, "-m", "benchmarks.worker", part, "--repeat", str(repeat)]
    command += ["--cache-dir", str(folder), *(["--quick"] if quick else [])]
    command += ["--baseline", baseline] if baseline else []
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark part {part} failed:\n{done.stderr[-2000:]}")
    payload = json.loads(done.stdout.strip().splitlines()[-1])

    def result(name: str) -> Result:
        own = payload[name]
        return Result(
            statistics.median(own["seconds"]),
            own["peak_bytes"],
            own["rows"],
            own["note"],
            own["extra"],
            tuple(own["seconds"]),
        )

    return result(part), (result(baseline) if baseline else None)


def judge(job: Job, result: Result, baseline: Result | None) -> tuple[str, bool]:
    """The ratio column's text and whether every target of the job is met."""
    met, ratio_text = True, "-"
    if baseline is not None:
        ratio = result.seconds / baseline.seconds
        if job.min_speedup is not None or (job.max_ratio is None and ratio < 1):
            ratio_text = f"{1 / ratio:.0f}x faster"
        else:
            ratio_text = f"{ratio:.2f}x"
        if job.max_ratio is not None:
            met &= ratio <= job.max_ratio
        if job.min_speedup is not None:
            met &= 1 / ratio >= job.min_speedup
    if job.max_seconds is not None:
        met &= result.seconds < job.max_seconds
    if job.max_peak_bytes is not None:
        met &= result.peak_bytes < job.max_peak_bytes
    if job.max_memory_vs_arrow is not None and baseline is not None:
        met &= result.peak_bytes < job.max_memory_vs_arrow * baseline.extra["arrow_bytes"]
    if "axis_max" in result.extra:
        met &= result.extra["axis_max"] < 2.0
    if "key_max" in result.extra:
        met &= bool(result.extra["progress"]) and result.extra["key_max"] < 0.1
    return ratio_text, met


def spread(result: Result, baseline: Result | None, faster: bool = False) -> str:
    """The spread over the runs: min-max of each run's ratio to the baseline run beside it (the two alternate
    in one process), as speed-ups when ``faster``, else min-max of the seconds; '-' for a single run."""
    runs = [s for s in result.runs if s == s]  # NaN: a skipped part
    if len(runs) < 2:
        return "-"
    if baseline is not None and len(baseline.runs) == len(result.runs):
        ratios = [a / b for a, b in zip(result.runs, baseline.runs, strict=True)]
        if faster:
            return f"{1 / max(ratios):.0f}-{1 / min(ratios):.0f}x faster"
        return f"{min(ratios):.2f}-{max(ratios):.2f}x"
    return f"{min(runs):.3g}-{max(runs):.3g} s"


def machine() -> str:
    """Cores, CPU model, memory, Python and library versions."""
    import numpy
    import polars

    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {cpu}, {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"polars {polars.__version__}, numpy {numpy.__version__}"
    )


def render(rows: list[tuple[str, ...]]) -> str:
    header = ("job", "rows", "median s", "peak MB", "baseline s", "ratio", "spread", "target", "met")
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emergence-tui bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs: checks the command, not targets")
    parser.add_argument("--repeat", type=int, help="runs per job (default 3, quick 2)")
    parser.add_argument("--cache-dir", help="where generated inputs are kept (default: the user cache)")
    parser.add_argument("--only", action="append", default=[], help="run only jobs whose part is named")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    repeat = args.repeat or (2 if args.quick else 3)
    folder = cache_dir(args.cache_dir)
    shape = QUICK if args.quick else FULL
    print(f"machine: {machine()}")
    print(
        f"inputs: {shape.rows:,} simulated rows, cached in {folder}; {repeat} runs per job, median shown; "
        "spread: min-max over the runs of the ratio to the baseline run beside it (else of the seconds)"
    )
    started = time.perf_counter()
    jobs = [job for job in JOBS if not args.only or job.part in args.only]
    rows, notes = [], []
    arrow_bytes = None
    for job in jobs:
        try:
            result, baseline = run_pair(
                job.part, job.baseline, quick=args.quick, repeat=job.repeat or repeat, folder=folder
            )
        except RuntimeError as err:  # one failed job is a row that says so; the others' numbers are kept
            rows.append((job.name, "-", "-", "-", "-", "-", "-", job.target, "FAILED"))
            notes.append(f"{job.name}: FAILED: {str(err).strip().splitlines()[-1][:200]}")
            elapsed = time.perf_counter() - started
            print(f"  FAILED: {job.name} ({elapsed:.0f} s)", file=sys.stderr, flush=True)
            continue
        if baseline is not None and "arrow_bytes" in baseline.extra:
            arrow_bytes = baseline.extra["arrow_bytes"]
        ratio, met = judge(job, result, baseline)
        rows.append(
            (
                job.name,
                f"{result.rows:,}" if result.rows else "-",
                f"{result.seconds:.3f}",
                f"{result.peak_bytes / 1e6:.0f}",
                f"{baseline.seconds:.3f}" if baseline else "-",
                ratio,
                spread(result, baseline, faster=ratio.endswith("faster")),
                job.target,
                "-"
                if job.target.startswith("-") or result.note.startswith("skipped")
                else "yes"
                if met
                else "NO",
            )
        )
        notes.append(
            f"{job.name}: {result.note}"
            + (f"; baseline: {baseline.note}" if baseline and baseline.note else "")
        )
        print(f"  done: {job.name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    if arrow_bytes is not None:
        notes.append(f"the per-sample file's in-memory Arrow size: {arrow_bytes / 1e6:.0f} MB")
    print(render(rows))
    print("\n".join(f"- {note}" for note in notes))
    if args.quick:
        print("(--quick: small inputs; 'met' is judged on them, the targets are for the full run)")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
