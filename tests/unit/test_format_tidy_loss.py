"""Tidy loss tables (model, params and/or tokens, loss) open without --format-in, for --y loss."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.loading import load
from analysis.options import LoadOptions
from tests.conftest import SHARED_DATA, needs_shared_data

CHINCHILLA = SHARED_DATA / "chinchilla" / "tidy.csv"
CHINCHILLA_MAP = {"point_id": "model", "params_N": "params", "tokens_D": "tokens"}


def test_loss_table_opens_as_aggregate_loss_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("model,params,tokens,loss\nr1,1e8,2e9,3.2\nr2,1e9,2e10,2.6\nr3,1e10,2e11,2.2\n")
    table = load([path], LoadOptions())
    rows = (
        table.aggregates.sort("params").select("task", "metric", "value", "loss", "params", "tokens").rows()
    )
    assert rows == [
        ("pretraining", "loss", 3.2, 3.2, 1e8, 2e9),
        ("pretraining", "loss", 2.6, 2.6, 1e9, 2e10),
        ("pretraining", "loss", 2.2, 2.2, 1e10, 2e11),
    ]
    assert table.aggregates["flops"].to_list() == pytest.approx(
        [6 * 1e8 * 2e9, 6 * 1e9 * 2e10, 6 * 1e10 * 2e11]
    )
    wide = load([path], LoadOptions(format_in="wide"))  # the same rows the wide reader gives
    assert (
        wide.aggregates.sort("params")
        .select(rows_columns := ["task", "metric", "value"])
        .equals(table.aggregates.sort("params").select(rows_columns))
    )


def test_loss_table_without_model_names_the_maps_to_give(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("run,N,D,loss\na,1e8,2e9,3.2\n")
    with pytest.raises(
        InputError, match=r"a loss table .* needs column\(s\) model, params, tokens"
    ) as caught:
        load([path], LoadOptions())
    assert "metric and value" not in str(caught.value)


@needs_shared_data
def test_chinchilla_runs_open_and_fit_with_y_loss(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match=r"--map params_N=params --map tokens_D=tokens"):
        load([CHINCHILLA], LoadOptions())
    table = load([CHINCHILLA], LoadOptions(mapping=CHINCHILLA_MAP))
    with CHINCHILLA.open(newline="") as handle:
        raw = list(csv.DictReader(handle))
    assert table.aggregates.height == len(raw) == 245
    for row in raw[::50]:
        mine = table.aggregates.filter(pl.col("model") == row["point_id"])
        assert mine["value"].item() == pytest.approx(float(row["loss"]))
        assert mine["params"].item() == pytest.approx(float(row["params_N"]))
        assert mine["tokens"].item() == pytest.approx(float(row["tokens_D"]))

    from tui.cli import main

    args = [f"--map={k}={v}" for k, v in CHINCHILLA_MAP.items()]
    code = main(
        [
            "report",
            str(CHINCHILLA),
            *args,
            "--y",
            "loss",
            "--law",
            "joint",
            "--bootstrap",
            "0",
            "--fit-bootstrap",
            "0",
        ]
    )
    assert code == 0
    assert "joint vs params" in capsys.readouterr().out
