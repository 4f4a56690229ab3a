"""Every validation error: one line naming the file and the column or row, and saying what to do."""

from __future__ import annotations

import math
import re
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats.validation import suggest_column
from analysis.loading import load
from analysis.options import LoadOptions

SAMPLE_HEADER = "model,task,item,params,target,prediction\n"


def load_error(paths: list, options: LoadOptions | None = None) -> str:
    """The message load() raises; it must be a single line."""
    with pytest.raises(InputError) as err:
        load(paths, options or LoadOptions())
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    message = load_error([tmp_path / "nope.csv"])
    assert "nope.csv" in message and "file not found" in message


def test_glob_matching_nothing(tmp_path: Path) -> None:
    assert "no file matches the pattern" in load_error([str(tmp_path / "*.parquet")])


def test_empty_file(write_file) -> None:
    message = load_error([write_file("empty.csv", "")])
    assert "empty.csv" in message and "empty" in message


def test_header_only_file(write_file) -> None:
    message = load_error([write_file("head.csv", "model,task,metric,value\n")])
    assert "head.csv" in message and "no data rows" in message


def test_unreadable_parquet(write_file) -> None:
    message = load_error([write_file("bad.parquet", "this is not parquet")])
    assert "bad.parquet" in message and "cannot read it as parquet" in message


def test_unknown_format(write_file) -> None:
    message = load_error([write_file("results.xlsx", "PK...")])
    assert "results.xlsx" in message and "unknown format '.xlsx'" in message and "--format-in" in message


def test_missing_required_columns_suggest_a_map(write_file) -> None:
    path = write_file("agg.csv", "model_name,benchmark,metric,value\nm,t,acc,0.5\n")
    message = load_error([path])
    assert "agg.csv" in message and "model, task" in message
    assert "--map model_name=model" in message and "--map benchmark=task" in message


def test_unknown_kind_of_table_suggests_columns(write_file) -> None:
    path = write_file("odd.csv", "model,task,doc_id,score\nm,t,1,0.5\n")
    message = load_error([path])
    assert "odd.csv" in message and "--map doc_id=item" in message and "--map score=value" in message


def test_fuzzy_suggestion_for_misspelt_column() -> None:
    assert suggest_column("params", ["modle", "parmas", "task"]) == "parmas"
    assert suggest_column("item", ["temperature", "seed"]) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("big", "'big' is not a number"),
        ("-5", "is not positive"),
        ("0", "is not positive"),
        ("inf", "not finite"),
    ],
)
def test_bad_scales_name_column_and_row(write_file, value: str, problem: str) -> None:
    path = write_file("s.csv", f"model,task,metric,value,params\nm,t,acc,0.5,1e6\nm2,t,acc,0.5,{value}\n")
    message = load_error([path])
    assert message.startswith(str(path)) and "column params, row 2" in message and problem in message


def test_non_numeric_value_names_row(write_file) -> None:
    path = write_file("v.csv", "model,task,metric,value\nm,t,acc,0.5\nm,t,f1,n/a\n")
    assert re.search(r"v\.csv: column value, row 2: 'n/a' is not a number", load_error([path]))


def test_nan_in_outputs_names_row(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "model": ["m", "m"],
            "task": ["t", "t"],
            "item": ["1", "2"],
            "target_logprobs": [[-0.1], [-0.2, math.nan]],
        }
    )
    path = tmp_path / "nan.parquet"
    frame.write_parquet(path)  # JSON (and so a CSV list cell) cannot hold NaN; Parquet can
    message = load_error([path])
    assert "nan.parquet" in message and "column target_logprobs, row 2" in message and "NaN" in message


def test_nan_in_prescored_column_names_row(write_file) -> None:
    path = write_file("p.csv", "model,task,item,acc\nm,t,1,1\nm,t,2,NaN\n")
    message = load_error([path])
    assert "p.csv" in message and "column acc, row 2" in message and "NaN" in message


def test_bad_json_list_cell_names_row(write_file) -> None:
    path = write_file(
        "j.csv", 'model,task,item,choice_logliks,correct_choice\nm,t,1,"[-1, -2]",0\nm,t,2,"-1;-2",0\n'
    )
    message = load_error([path])
    assert "j.csv" in message and "column choice_logliks, row 2" in message and "not a JSON list" in message


def test_choice_index_out_of_range_names_row(write_file) -> None:
    path = write_file(
        "c.csv", 'model,task,item,choice_logliks,correct_choice\nm,t,1,"[-1, -2]",1\nm,t,2,"[-1, -2]",2\n'
    )
    message = load_error([path])
    assert (
        "c.csv" in message
        and "column correct_choice, row 2" in message
        and "out of range for 2 choices" in message
    )


def test_duplicate_sample_rows_name_both_rows(write_file) -> None:
    path = write_file("d.csv", SAMPLE_HEADER + "m,t,1,1e6,a,a\nm,t,2,1e6,b,b\nm,t,1,1e6,a,c\n")
    message = load_error([path])
    assert "d.csv" in message and "row 1 and row 3 repeat" in message and "item='1'" in message


def test_duplicates_across_files_name_both_files(write_file, tmp_path: Path) -> None:
    write_file("a.csv", SAMPLE_HEADER + "m,t,1,1e6,a,a\n")
    write_file("b.csv", SAMPLE_HEADER + "m,t,1,1e6,a,b\n")
    message = load_error([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert "a.csv" in message and "b.csv" in message and "repeat" in message


def test_per_sample_and_aggregate_rows_mixed_for_one_task_and_metric(write_file, tmp_path: Path) -> None:
    write_file("s.csv", SAMPLE_HEADER + "m,t,1,1e6,a,a\n")
    write_file("a.csv", "model,task,metric,value\nm,t,exact_match,0.5\n")
    message = load_error([tmp_path / "s.csv", tmp_path / "a.csv"])
    assert "task 't'" in message and "exact_match" in message and "s.csv" in message and "a.csv" in message
    # a different metric for the same task is fine
    write_file("a.csv", "model,task,metric,value\nm,t,bleu,0.5\n")
    assert load([tmp_path / "s.csv", tmp_path / "a.csv"]).aggregates.height == 1


def test_counts_out_of_range_and_missing_value(write_file) -> None:
    counts = write_file("k.csv", "model,task,n,n_correct\nm,t,10,3\nm,u,10,11\n")
    assert "column n_correct, row 2" in load_error([counts])
    empty = write_file("e.csv", "model,task,metric,value\nm,t,acc,\n")
    assert "column value, row 1" in load_error([empty])


def test_missing_model_cell_names_row(write_file) -> None:
    path = write_file("m.csv", "model,task,metric,value\nm,t,acc,0.5\n,t,acc,0.2\n")
    assert "m.csv: column model, row 2: empty" in load_error([path])


def test_a_bad_file_named_directly_raises_but_in_a_directory_it_is_skipped(
    write_file, tmp_path: Path
) -> None:
    bad = write_file("dir/bad.csv", "model,task,metric,value,params\nm,t,acc,0.5,-1\n")
    write_file("dir/good.csv", "model,task,metric,value,params\nm,t,acc,0.5,1\n")
    assert "bad.csv" in load_error([bad])
    table = load([tmp_path / "dir"])
    assert table.aggregates.height == 1 and any("bad.csv" in w for w in table.warnings)
    (tmp_path / "dir" / "good.csv").unlink()
    assert "no result file could be read" in load_error([tmp_path / "dir"])


def test_bad_sizes_file_names_its_row(write_file) -> None:
    results = write_file("r.csv", "model,task,metric,value\nm,t,acc,0.5\n")
    sizes = write_file("sizes.csv", "model,params\nm,1e6\nk,zero\n")
    message = load_error([results], LoadOptions(sizes_file=str(sizes)))
    assert "sizes.csv" in message and "column params, row 2" in message


def test_duplicate_found_among_many_distinct_keys(tmp_path: Path) -> None:
    """The hashed fast path must still send a single repeated key among 20,000 rows to the exact check."""
    items = [str(i) for i in range(20_000)]
    items[-1] = items[5]  # rows 6 and 20000 repeat model m, task t, item 5
    frame = pl.DataFrame({"model": "m", "task": "t", "item": items, "target": "a", "prediction": "a"})
    path = tmp_path / "many.csv"
    frame.write_csv(path)
    with pytest.raises(InputError, match=r"row 6 and row 20000 repeat"):
        load([path])
    frame.with_columns(pl.Series("item", [str(i) for i in range(20_000)])).write_csv(path)
    assert load([path]).samples.height == 20_000


def _log_layout(models: int, items: int) -> pl.DataFrame:
    """Rows as evaluation logs list them: each model's items of a task together, in the same order."""
    return pl.DataFrame(
        {
            "model": [f"m{j}" for j in range(models) for _ in range(items)],
            "task": "t",
            "item": [f"q{i}" for _ in range(models) for i in range(items)],
            "params": [1e6 * (j + 1) for j in range(models) for _ in range(items)],
            "target": "a",
            "prediction": "a",
        }
    )


def test_duplicate_in_log_layout_is_found_run_by_run(tmp_path: Path) -> None:
    """The run-by-run check (each model's items listed together) finds a repeat inside one model's run."""
    frame = _log_layout(models=3, items=200)
    path = tmp_path / "runs.parquet"
    frame.write_parquet(path)
    assert load([path]).samples.height == 600
    items = frame["item"].to_list()
    items[450] = items[420]  # model m2 lists item q20 twice (rows 421 and 451)
    frame.with_columns(pl.Series("item", items)).write_parquet(path)
    with pytest.raises(InputError, match=r"row 421 and row 451 repeat .*model='m2'.*item='q20'"):
        load([path])


def test_duplicate_from_a_model_listed_in_two_runs(tmp_path: Path) -> None:
    """A model whose items come in two separate runs falls back to the global check and is still found."""
    frame = _log_layout(models=2, items=100)
    repeated = pl.concat([frame, frame.filter(pl.col("model") == "m0").head(1)])
    path = tmp_path / "split.parquet"
    repeated.write_parquet(path)
    with pytest.raises(InputError, match=r"row 1 and row 201 repeat"):
        load([path])
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)  # many short runs: the sorted check
    shuffled.write_parquet(path)
    assert load([path]).samples.height == 200


def test_list_sums_that_overflow_are_not_taken_for_infinity(tmp_path: Path) -> None:
    """The fast NaN/+inf check reads list sums; finite values whose sum overflows must still load."""
    frame = pl.DataFrame(
        {
            "model": ["m", "m"],
            "task": "t",
            "item": ["1", "2"],
            "choice_logliks": [[1e308, 1e308], [-1.0, -2.0]],
            "correct_choice": [0, 1],
        }
    )
    path = tmp_path / "big.parquet"
    frame.write_parquet(path)
    assert load([path]).samples.height == 2
    frame.with_columns(pl.Series("choice_logliks", [[1.0, 2.0], [-1.0, math.inf]])).write_parquet(path)
    assert "column choice_logliks, row 2" in load_error([path])


def test_only_models_without_any_scale_are_warned_about(write_file) -> None:
    path = write_file(
        "w.csv", SAMPLE_HEADER + "a,t,1,1e6,x,x\na,t,2,,x,x\nb,t,1,,x,x\nb,t,2,,x,y\nc,t,1,2e6,x,x\n"
    )
    warnings = [w for w in load([path]).warnings if "cannot be placed" in w]
    assert len(warnings) == 1 and "model 'b'" in warnings[0]
