"""The options the real-data commands need: --drop-where, the stop when no model has a scale, task filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.loading import load
from analysis.options import LoadOptions
from tui.cli import main

FAST = ["--bootstrap", "0", "--fit-bootstrap", "0"]
LOSS_RUNS = (
    "point_id,params_N,tokens_D,loss,flagged\n"
    "a,1e8,1e9,3.2,0\nb,2e8,2e9,3.0,0\nc,4e8,4e9,2.8,0\nd,8e8,8e9,2.7,0\ne,1.6e9,1.6e10,2.6,0\nf,1e8,1e9,9.9,1\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_drop_where_removes_the_flagged_rows_and_the_spent_flag_column(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(LOSS_RUNS)
    mapping = {"point_id": "model", "params_N": "params", "tokens_D": "tokens"}
    for format_in in ("wide", None):  # the wide reader and the tidy loss-table reader
        options = LoadOptions(mapping=mapping, format_in=format_in, drop_where=(("flagged", "1"),))
        table = load([path], options)
        assert sorted(table.aggregates["model"].to_list()) == ["a", "b", "c", "d", "e"]
        assert table.aggregates["value"].max() == pytest.approx(3.2)
        assert set(table.aggregates["task"].to_list()) == {"pretraining"}  # the flag did not become a task
        assert any("dropped 1 of 6 rows (flagged=1: 1 row(s))" in w for w in table.warnings)
        assert any("flagged hold one value after the drop: removed" in w for w in table.warnings)
    kept = load([path], LoadOptions(mapping=mapping, format_in="wide"))
    assert "f" in kept.aggregates["model"].to_list() and "flagged" in set(kept.aggregates["task"].to_list())


def test_drop_where_keeps_a_column_that_still_varies_and_matches_text(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(
        "model,params,task,prompt,score\n"
        + "".join(
            f"m{i},{10 ** (i + 6)},t,{p},{0.1 * i}\n" for i in range(3) for p in ("open", "closed", "x")
        )
    )
    options = LoadOptions(
        format_in="wide", mapping={"prompt": "variant", "score": "metric"}, drop_where=(("prompt", " x"),)
    )
    table = load([path], options)
    assert sorted(set(table.aggregates["task"].to_list())) == ["t [closed]", "t [open]"]
    by_role = load([path], LoadOptions(**{**options.__dict__, "drop_where": (("variant", "x"),)}))
    assert by_role.aggregates.equals(table.aggregates)  # the column named by the role --map gave it


def test_drop_where_names_a_missing_column_and_refuses_to_drop_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(LOSS_RUNS)
    base = [str(path), "--map", "point_id=model", "--map", "params_N=params", "--map", "tokens_D=tokens"]
    code, out, err = run(capsys, *base, "--drop-where", "outlier=1", *FAST)
    assert code == 2 and out == ""
    assert err.startswith("emergence-tui: ")
    assert "--drop-where outlier=1: the table has no column 'outlier'" in err
    code, _, err = run(capsys, *base, "--drop-where", "loss=9.9", "--drop-where", "flagged=0", *FAST)
    assert code == 2 and len(err.splitlines()) == 1  # 9.9 matched as a number in the loss column
    assert "--drop-where drops every row: loss=9.9, flagged=0" in err
    code, out, _ = run(capsys, *base, "--drop-where", "loss=3.2", "--y", "loss", "--format", "json", *FAST)
    report = json.loads(out)
    assert code == 0 and {p["model"] for p in report["points"]} == {"b", "c", "d", "e", "f"}
    assert not any("removed" in w for w in report["warnings"])  # loss is data, not a flag: it stays
    code, out, _ = run(capsys, *base, "--drop-where", "flagged=1", "--y", "loss", "--format", "json", *FAST)
    assert code == 0 and {p["model"] for p in json.loads(out)["points"]} == {"a", "b", "c", "d", "e"}


def old_lm_eval(folder: Path, model: str) -> None:
    (folder / model).mkdir(parents=True)
    results = {"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.01}}, "versions": {"piqa": 0}}
    (folder / model / "results.json").write_text(json.dumps(results))


def test_no_model_on_any_axis_stops_with_one_line_and_the_hint_that_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_lm_eval(tmp_path, "gpt2")
    old_lm_eval(tmp_path, "davinci")
    code, out, err = run(capsys, str(tmp_path), *FAST)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and len(err.strip()) <= 300
    code, out, err = run(capsys, str(tmp_path), "--verbose", *FAST)
    assert "no model can be placed on a scale axis: give --sizes FILE" in err and "--params-from-name" in err
    assert "'davinci', 'gpt2'" in err and str(tmp_path) in err
    code, out, err = run(capsys, str(tmp_path), "--params-from-name", "--verbose", *FAST)
    assert code == 2 and "no size in the name: give --sizes FILE" in err
    assert "or --params-from-name" not in err  # the flag was given: it is not suggested again


def test_the_per_model_warning_does_not_suggest_a_flag_already_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_lm_eval(tmp_path, "gpt2")
    old_lm_eval(tmp_path, "opt-125m")
    code, out, err = run(capsys, str(tmp_path), "--params-from-name", "--format", "json", *FAST)
    assert code == 0, err
    (warning,) = [w for w in json.loads(out)["warnings"] if "cannot be placed" in w]
    assert "model 'gpt2'" in warning and "no size in the name: give --sizes FILE" in warning
    assert "--params-from-name" not in warning


def test_task_filter_selects_the_settings_folded_into_a_name_and_refuses_a_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agg.csv"
    rows = [
        f"m{i},{10 ** (7 + i)},{task},{shots},acc,{0.1 + 0.1 * i}"
        for i in range(5)
        for task, shots in (("lambada", 0), ("lambada", 5), ("lambada_x", 0))
    ]
    path.write_text("model,params,task,shots,metric,value\n" + "\n".join(rows) + "\n")
    code, out, err = run(capsys, str(path), "--task", "lambada", "--format", "json", *FAST)
    assert code == 0, err
    assert {p["task"] for p in json.loads(out)["points"]} == {"lambada 0-shot", "lambada 5-shot"}
    code, out, _ = run(capsys, str(path), "--task", "lambada 5-shot", "--format", "json", *FAST)
    assert {p["task"] for p in json.loads(out)["points"]} == {"lambada 5-shot"}
    code, out, err = run(capsys, str(path), "--task", "lambda", *FAST)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "--task 'lambda' matches nothing; the tasks are: lambada 0-shot, lambada 5-shot, lambada_x" in err
    code, _, err = run(capsys, str(path), "--family", "opt", *FAST)
    assert code == 2 and "--family 'opt' matches nothing; the families are: default" in err
