"""Wide-table reader: small tables written here, checked against the roles and folding rules."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats import wide
from analysis.options import LoadOptions

BENCHMARKS = """Model,Model Family,Model Size (B),Pretraining Data Size (T),MMLU,GSM8K
a-7b,A,7.0,2.0,0.40,0.10
a-13b,A,13.0,2.0,0.50,
b-1b,B,1.0,0.5,0.25,0.02
"""
SIZES = {
    "Model": "model",
    "Model Family": "family",
    "Model Size (B)": "params",
    "Pretraining Data Size (T)": "tokens",
}
FACTORS = {"params": 1e9, "tokens": 1e12}


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def cell(frame: pl.DataFrame, column: str = "value", **where: str) -> object:
    rows = frame.filter(*(pl.col(k) == v for k, v in where.items()))
    assert rows.height == 1, rows
    return rows[column].item()


def test_sniff_never_claims_a_table(tmp_path: Path) -> None:
    assert not wide.sniff(write(tmp_path, BENCHMARKS))


def test_benchmark_columns_become_tasks_with_scales(tmp_path: Path) -> None:
    table = wide.read(write(tmp_path, BENCHMARKS), LoadOptions(mapping=SIZES, scale_factors=FACTORS))
    agg = table.aggregates
    assert agg.height == 5  # 6 cells, one empty
    assert set(agg["metric"]) == {"score"}
    assert cell(agg, model="a-13b", task="MMLU") == 0.50
    assert cell(agg, model="b-1b", task="GSM8K") == 0.02
    assert cell(agg, "params", model="a-7b", task="MMLU") == 7e9
    assert cell(agg, "tokens", model="b-1b", task="MMLU") == 0.5e12
    assert cell(agg, "flops", model="a-7b", task="MMLU") == pytest.approx(6 * 7e9 * 2e12)
    assert cell(agg, "family", model="b-1b", task="MMLU") == "B"
    assert any("1 empty" in w for w in table.warnings)


def test_second_file_joins_scales_on_model(tmp_path: Path) -> None:
    options = LoadOptions(mapping=SIZES, scale_factors=FACTORS)
    base = wide.read(write(tmp_path, BENCHMARKS), options)
    emergent = wide.read(
        write(tmp_path, "Model,arith_2_acc\na-7b,0.3\nb-1b,0.01\nzz,0.5\n", "e.csv"), options
    )
    assert any("'Model Size (B)' is not in the file" in w for w in emergent.warnings)
    joined = wide.join_on_model(emergent.aggregates, base.aggregates)
    assert cell(joined, "params", model="a-7b") == 7e9
    assert cell(joined, "family", model="b-1b") == "B"
    assert cell(joined, "params", model="zz") is None
    assert cell(joined, "family", model="zz") == "default"


def test_per_run_table_metrics_shots_variants_and_seeds(tmp_path: Path) -> None:
    text = "model,task,prompt_type,number_of_shots,seed,n,exact_match_accuracy,edit_distance,bert\n"
    rows = [
        ("m1", "t", "closed", 0, 1, 0.1, 5.0),
        ("m1", "t", "closed", 0, 2, 0.3, 3.0),
        ("m1", "t", "open", 0, 1, 0.5, 2.0),
        ("m1", "t", "closed", 5, 1, 0.7, 1.0),
    ]
    text += "".join(f"{m},{t},{p},{k},{s},100,{em},{ed},-100\n" for m, t, p, k, s, em, ed in rows)
    mapping = {"exact_match_accuracy": "metric", "edit_distance": "metric", "bert": "metric"}
    table = wide.read(write(tmp_path, text), LoadOptions(mapping=mapping, null_values=("-100",)))
    agg = table.aggregates
    assert set(agg["task"]) == {"t [closed] 0-shot", "t [open] 0-shot", "t [closed] 5-shot"}
    assert set(agg["metric"]) == {"exact_match_accuracy", "edit_distance"}  # bert was all -100
    # two seeds kept as replicates of one point (the points stage averages them)
    closed = agg.filter((pl.col("task") == "t [closed] 0-shot") & (pl.col("metric") == "edit_distance"))
    assert sorted(closed["replicate"].to_list()) == ["1", "2"]
    assert sorted(closed["value"].to_list()) == [3.0, 5.0]
    assert closed["stderr"].null_count() == 2
    assert cell(agg, "replicate", task="t [open] 0-shot", metric="edit_distance") == "1"
    assert cell(agg, "n", task="t [open] 0-shot", metric="edit_distance") == 100
    assert any(
        "differ only in seed are replicates" in w and "2 point(s) from 2 run(s)" in w for w in table.warnings
    )
    assert any("-100" not in w and "4 empty" in w for w in table.warnings)


def test_rows_told_apart_by_an_unmapped_column_are_refused(tmp_path: Path) -> None:
    text = "model,task,template,acc\nm,t,A,0.1\nm,t,B,0.2\n"
    with pytest.raises(InputError, match=r"template.*variant, replicate or shots"):
        wide.read(write(tmp_path, text), LoadOptions())
    table = wide.read(write(tmp_path, text), LoadOptions(mapping={"template": "variant"}))
    assert set(table.aggregates["task"]) == {"t [A]", "t [B]"}


def test_count_table_with_checkpoints(tmp_path: Path) -> None:
    text = "model,params_total,step,operation,n,n_correct,acc\n"
    text += "p-1b,1e9,1000,add,50,5,0.1\np-1b,1e9,2000,add,50,25,0.5\np-2b,2e9,2000,add,50,40,0.8\n"
    options = LoadOptions(mapping={"operation": "task", "params_total": "params"}, tokens_per_step=1000.0)
    table = wide.read(write(tmp_path, text), options)
    agg = table.aggregates
    assert set(agg["metric"]) == {"accuracy"}
    final = agg.filter(pl.col("family") == "default").sort("params")
    assert final["model"].to_list() == ["p-1b", "p-2b"]
    assert final["value"].to_list() == [0.5, 0.8]
    assert final["tokens"].to_list() == [2e6, 2e6]
    run = agg.filter(pl.col("family") == "p-1b checkpoints").sort("tokens")
    assert run["model"].to_list() == ["p-1b step1000", "p-1b step2000"]
    assert run["value"].to_list() == [0.1, 0.5]
    assert any("columns not used: acc" in w for w in table.warnings)


def test_missing_model_column_and_bad_role_raise(tmp_path: Path) -> None:
    path = write(tmp_path, "name,acc\nm,0.1\n")
    with pytest.raises(InputError, match="no model column"):
        wide.read(path, LoadOptions())
    with pytest.raises(InputError, match="roles"):
        wide.read(path, LoadOptions(mapping={"name": "modle"}))
    assert wide.read(path, LoadOptions(mapping={"name": "model"})).aggregates["task"].to_list() == ["acc"]
