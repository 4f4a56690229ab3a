"""Shots folding, one rule for every reader: a task run at several shot settings gets "<task> <k>-shot"."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analysis.formats import tidy
from analysis.formats.frames import fold_shots, multi_shot_tasks
from analysis.options import LoadOptions


def test_only_tasks_with_several_settings_are_renamed() -> None:
    frame = pl.DataFrame({"task": ["a", "a", "b", "c", "c"], "_shots": [0, 5, 5, None, 3]})
    folded = fold_shots(frame)
    assert folded["task"].to_list() == ["a 0-shot", "a 5-shot", "b", "c", "c 3-shot"]
    assert "_shots" not in folded.columns


def test_settings_compare_as_text_and_can_be_decided_across_frames() -> None:
    first = pl.DataFrame({"task": ["a", "a"], "_shots": ["5", "5.0"]})
    assert fold_shots(first)["task"].to_list() == ["a", "a"]  # 5 and 5.0 are one setting
    second = pl.DataFrame({"task": ["a"], "_shots": [0]})
    several = multi_shot_tasks([first, second])
    assert several == {"a"}
    assert fold_shots(first, tasks=several)["task"].to_list() == ["a 5-shot", "a 5-shot"]


def test_tidy_table_with_one_shot_setting_keeps_plain_task_names(tmp_path: Path) -> None:
    path = tmp_path / "agg.csv"
    path.write_text("model,task,metric,value,num_fewshot\nm1,a,acc,0.5,5\nm1,b,acc,0.4,0\nm1,b,acc,0.6,5\n")
    table = tidy.read(path, LoadOptions())
    assert sorted(table.aggregates["task"].to_list()) == ["a", "b 0-shot", "b 5-shot"]
