"""The benchmark command: it runs, prints one table with a verdict per job, and judges targets correctly.

Timings are never asserted (they depend on the machine); the verdict logic is checked on made-up numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import JOBS, Job, Result, judge, render, spread

ROOT = Path(__file__).resolve().parents[2]


def _result(seconds: float, peak: int = 0, **extra: object) -> Result:
    return Result(seconds=seconds, peak_bytes=peak, rows=10, note="", extra=dict(extra))


def test_judge_ratios_speedups_seconds_and_memory() -> None:
    slower = Job("load", "a", "b", "<= 3x", max_ratio=3.0)
    assert judge(slower, _result(6.0), _result(2.5)) == ("2.40x", True)
    assert judge(slower, _result(9.0), _result(2.5)) == ("3.60x", False)
    faster = Job("boot", "a", "b", ">= 100x", min_speedup=100)
    assert judge(faster, _result(0.5), _result(100.0)) == ("200x faster", True)
    assert judge(faster, _result(2.0), _result(100.0)) == ("50x faster", False)
    report = Job("report", "a", "b", "< 10 s", max_seconds=10.0, max_memory_vs_arrow=4.0)
    arrow = _result(1.0, arrow_bytes=1000)
    assert judge(report, _result(5.0, peak=3999), arrow)[1] is True
    assert judge(report, _result(5.0, peak=4001), arrow)[1] is False
    assert judge(report, _result(10.5, peak=10), arrow)[1] is False
    big = Job("100M", "a", "b", "<= 4x scan, peak < 24 GiB", max_ratio=4.0, max_peak_bytes=24 * 2**30)
    assert judge(big, _result(300.0, peak=20 * 2**30), _result(100.0)) == ("3.00x", True)
    assert judge(big, _result(300.0, peak=25 * 2**30), _result(100.0))[1] is False
    assert judge(big, _result(500.0, peak=2**30), _result(100.0))[1] is False
    app = Job("open", "a", None, "< 2 s", max_seconds=2.0)
    assert judge(app, _result(1.0, key_max=0.05, progress=True), None) == ("-", True)
    assert judge(app, _result(1.0, key_max=0.5, progress=True), None)[1] is False
    assert judge(app, _result(1.0, key_max=0.05, progress=False), None)[1] is False


def test_render_aligns_columns() -> None:
    text = render([("a", "1", "0.100", "5", "-", "-", "-", "< 1 s", "yes")])
    header, rule, row = text.splitlines()
    assert header.split() == [
        "job",
        "rows",
        "median",
        "s",
        "peak",
        "MB",
        "baseline",
        "s",
        "ratio",
        "spread",
        "target",
        "met",
    ]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.index("yes") == header.index("met")


def test_spread_is_the_range_of_the_paired_ratios_or_of_the_seconds() -> None:
    job = Result(seconds=4.0, peak_bytes=0, rows=1, note="", extra={}, runs=(4.0, 3.0, 6.0))
    base = Result(seconds=1.0, peak_bytes=0, rows=1, note="", extra={}, runs=(1.0, 1.5, 1.0))
    assert spread(job, base) == "2.00-6.00x"  # 4/1, 3/1.5, 6/1: each run against the one beside it
    assert spread(job, None) == "3-6 s"
    assert spread(base, job, faster=True) == "2-6x faster"  # 1/4, 1.5/3, 1/6: the baseline 4, 2 and 6x slower
    assert spread(_result(1.0), None) == "-"  # one run: no spread


@pytest.mark.slow(seconds=30)
def test_quick_run_prints_the_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--repeat", "1", "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "cores" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.startswith("job "))
    rows = lines[header + 2 : header + 2 + len(JOBS)]
    assert [row[: len(job.name)] for row, job in zip(rows, JOBS, strict=True)] == [job.name for job in JOBS]
    verdicts = {job.name: row.split()[-1] for row, job in zip(rows, JOBS, strict=True)}
    skipped_under_quick = {"pythia_app", "report_100m"}  # a real folder, a 100M-row file: not smoke tests
    assert all(
        verdicts[job.name]
        in (("-",) if job.target.startswith("-") or job.part in skipped_under_quick else ("yes", "NO"))
        for job in JOBS
    )
    assert list(tmp_path.glob("*.parquet")), "inputs are cached in the given folder"


def test_worker_alternates_a_part_with_its_baseline_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ratios come from the same process: runs alternate (baseline first on even runs) and each part keeps
    its own seconds and its own peak memory."""
    import numpy as np

    from benchmarks import worker
    from benchmarks.jobs import Context, Measured

    order: list[str] = []
    held: list[np.ndarray] = []

    def fake_run_part(name: str, ctx: Context) -> Measured:
        assert ctx.repeat == 1
        order.append(name)
        if name == "job":  # the job holds 200 MB for a moment: only its peak may show it
            held.append(np.ones(25_000_000))
            import time

            time.sleep(0.05)
            held.clear()
        return Measured([0.5 if name == "job" else 2.0], rows=7, note=name)

    monkeypatch.setattr(worker, "run_part", fake_run_part)
    out = worker.measure("job", "base", Context(False, Path("."), 3))
    assert order == ["base", "job", "job", "base", "base", "job"]
    assert out["job"]["seconds"] == [0.5] * 3 and out["base"]["seconds"] == [2.0] * 3
    assert out["job"]["peak_bytes"] > out["base"]["peak_bytes"] + 150e6


def test_cli_bench_runs_the_benchmark_in_a_child_and_passes_on_its_status(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``emergence-tui bench`` reaches the benchmark's own parser without the app importing ``benchmarks``."""
    from tui.cli import main

    assert main(["bench", "--help"]) == 0
    assert "usage: emergence-tui bench" in capfd.readouterr().out
    assert main(["bench", "--only"]) == 2  # the benchmark's argparse error, exit status passed on
    assert "expected one argument" in capfd.readouterr().err
