"""A per-sample Parquet file read and analysed a task at a time (analysis.by_task) gives the report that
reading it whole gives: the same JSON, byte for byte, on simulated files with the options whose work the pass
splits (filters, pre-scored columns, models without a size, hold-outs, forecasts, calibration, resampling
settings), and the same error for a repeated row."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis import by_task
from analysis.options import LoadOptions
from analysis.simulate import simulate
from tui.cli import main


def _samples(items: int = 300, models: int = 6, pairs: int = 2) -> pl.DataFrame:
    """Rows of ``pairs`` simulator calls (a generation and a choice task each), task by task."""
    sizes = np.geomspace(1e7, 1e10, models)
    parts = [
        simulate(10 ** (8 + pair), -0.5, sizes, 4, 4, items, seed=pair, task_prefix=f"t{pair}_", spread=0.5)
        for pair in range(pairs)
    ]
    return pl.concat(parts, how="vertical")


def _report(path: Path, chunked: bool, *args: str) -> tuple[int, str, str]:
    """The report's status, stdout and stderr, with the file read a task at a time or whole."""
    old = by_task.CHUNKED_ROWS
    by_task.CHUNKED_ROWS = 0 if chunked else 10**12
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["report", str(path), "--format", "json", *args])
    finally:
        by_task.CHUNKED_ROWS = old
    return status, out.getvalue(), err.getvalue()


def _same_report(path: Path, *args: str) -> dict:
    whole = _report(path, False, *args)
    chunked = _report(path, True, *args)
    assert whole[0] == 0, whole[2]
    assert chunked == whole
    return json.loads(whole[1])


@pytest.fixture(scope="module")
def samples_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("by_task") / "samples.parquet"
    _samples().write_parquet(path, row_group_size=500)
    return path


def test_the_file_is_read_by_task_only_above_the_threshold(samples_file: Path) -> None:
    source = by_task.task_source([samples_file], LoadOptions(), min_rows=0)
    assert source is not None
    assert source.rows == 4 * 6 * 300
    assert source.tasks == ("t0_generation", "t0_choice", "t1_generation", "t1_choice")
    assert by_task.task_source([samples_file], LoadOptions()) is None  # 7,200 rows: below CHUNKED_ROWS
    assert by_task.task_source([samples_file], LoadOptions(params_from_name=True), min_rows=0) is None


def test_default_report_is_identical(samples_file: Path) -> None:
    report = _same_report(samples_file)
    assert len(report["points"]) == 2 * 6 * (5 + 3)  # pairs x models x (generation + choice metrics)
    assert {step["test"] for step in report["steps"]} >= {"McNemar exact", "paired bootstrap"}
    assert report["verdicts"]


def test_report_with_holdout_forecasts_and_calibration_is_identical(samples_file: Path) -> None:
    report = _same_report(samples_file, "--holdout", "1", "--predict", "next", "--calibrate")
    assert report["forecasts"] and report["calibration"]["held"]


def test_other_resampling_settings_are_identical(samples_file: Path) -> None:
    _same_report(samples_file, "--bootstrap", "300", "--seed", "7", "--subsample", "200", "--unpaired")
    _same_report(samples_file, "--bootstrap", "0", "--x", "params", "--tokenizer", "whitespace")


def test_filters_are_identical(samples_file: Path) -> None:
    report = _same_report(samples_file, "--task", "t1_generation", "--metric", "exact_match")
    assert {p["task"] for p in report["points"]} == {"t1_generation"}
    _same_report(samples_file, "--family", "simulated", "--task", "t0_choice")
    whole = _report(samples_file, False, "--task", "nothing")
    assert whole[0] != 0 and "matches nothing" in whole[2]
    assert _report(samples_file, True, "--task", "nothing") == whole


def test_prescored_columns_and_unplaced_models_are_identical(tmp_path: Path) -> None:
    """Pre-scored columns (``acc`` 0/1 in every task but one, so 0/1 only task by task; ``score`` a score)
    and a model without a size (named in the warnings) come through the pass as through the whole table."""
    frame = _samples(items=200, models=5)
    rng = np.random.default_rng(3)
    acc = (rng.random(frame.height) < 0.4).astype(np.float64)
    frame = frame.with_columns(pl.Series("acc", acc), pl.Series("score", rng.random(frame.height)))
    frame = frame.with_columns(
        pl.when(pl.col("task") == "t1_choice").then(pl.col("acc") / 2).otherwise(pl.col("acc")).alias("acc"),
        pl.when(pl.col("model") == "10M").then(None).otherwise(pl.col("params")).alias("params"),
    )
    path = tmp_path / "prescored.parquet"
    frame.write_parquet(path, row_group_size=700)
    report = _same_report(path)
    assert any("'10M' has no params" in w for w in report["warnings"])
    kinds = {p["metric"]: p["kind"] for p in report["points"]}
    assert kinds["acc"] == "continuous" and kinds["score"] == "continuous"
    # only the chosen task's values decide: acc is 0/1 there
    report = _same_report(path, "--task", "t0_choice")
    assert {p["kind"] for p in report["points"] if p["metric"] == "acc"} == {"discontinuous"}


def test_shuffled_rows_are_read_whole(samples_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "shuffled.parquet"
    pl.read_parquet(samples_file).sample(fraction=1.0, shuffle=True, seed=1).write_parquet(path)
    assert by_task.task_source([path], LoadOptions(), min_rows=0) is None


def test_a_duplicate_row_is_the_same_error(samples_file: Path, tmp_path: Path) -> None:
    frame = pl.read_parquet(samples_file)
    path = tmp_path / "duplicate.parquet"
    pl.concat([frame, frame.filter(pl.col("task") == "t1_choice").head(1)]).sort(
        "task", maintain_order=True
    ).write_parquet(path)
    whole = _report(path, False)
    assert whole[0] != 0 and "repeat" in whole[2]
    assert _report(path, True) == whole
