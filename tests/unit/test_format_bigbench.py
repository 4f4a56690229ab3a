"""BIG-bench reader against the hand-built fixture in tests/fixtures/formats/bigbench (documented schema)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats import bigbench
from analysis.options import LoadOptions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "formats" / "bigbench"
RESULTS = FIXTURE / "arithmetic" / "results"


def value(table, model: str, task: str, metric: str) -> float:
    rows = table.aggregates.filter(
        pl.col("model") == model, pl.col("task") == task, pl.col("metric") == metric
    )
    assert rows.height == 1
    return rows["value"].item()


def test_sniff() -> None:
    assert bigbench.sniff(FIXTURE)
    assert bigbench.sniff(RESULTS)
    assert bigbench.sniff(RESULTS / "scores_GPT_GPT-3_Large.json")
    assert not bigbench.sniff(FIXTURE / "README.md")


def test_rows_per_model_subtask_shots_metric() -> None:
    table = bigbench.read(FIXTURE, LoadOptions())
    agg = table.aggregates
    # 3 models x 2 shots x (2 numeric subtask metrics + 1 aggregate metric); the null brier score is skipped
    assert agg.height == 18
    assert set(agg["family"]) == {"BIG-G T=0", "GPT"}
    assert set(agg["task"]) == {
        "arithmetic 0-shot",
        "arithmetic 1-shot",
        "arithmetic:1_digit_addition 0-shot",
        "arithmetic:1_digit_addition 1-shot",
    }
    assert value(table, "1b", "arithmetic:1_digit_addition 1-shot", "exact_str_match") == pytest.approx(0.11)
    assert value(table, "2m", "arithmetic:1_digit_addition 0-shot", "log_likelihood") == -10.0
    assert value(table, "GPT-3 Large", "arithmetic 0-shot", "normalized_aggregate_score") == pytest.approx(
        30.0
    )
    params = dict(agg.select("model", "params").unique().iter_rows())
    assert params == {"2m": 2e6, "1b": 1e9, "GPT-3 Large": 7e8}
    assert any("non_embedding_params" in w for w in table.warnings)


@pytest.mark.parametrize(("field", "expected"), [("total", 1.2e9), ("flop_matched", 1.1e9)])
def test_params_field(field: str, expected: float) -> None:
    table = bigbench.read(RESULTS / "scores_BIG-G_T0_1b.json", LoadOptions(params_field=field))
    assert table.aggregates["params"].unique().to_list() == [expected]
    assert any(field.replace("_", "") in w.replace("_", "") for w in table.warnings)


def test_unknown_params_field_raises() -> None:
    with pytest.raises(InputError, match="--params-field"):
        bigbench.read(FIXTURE, LoadOptions(params_field="embedding"))


def test_bad_file_in_folder_is_listed_and_single_bad_file_raises(tmp_path: Path) -> None:
    good = json.loads((RESULTS / "scores_BIG-G_T0_2m.json").read_text())
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "cut.json").write_text(json.dumps(good)[:200])
    table = bigbench.read(tmp_path, LoadOptions())
    assert set(table.aggregates["model"]) == {"2m"}
    assert any("cut.json" in w and "not valid JSON" in w for w in table.warnings)
    with pytest.raises(InputError) as err:
        bigbench.read(tmp_path / "cut.json", LoadOptions())
    assert "cut.json" in str(err.value) and "\n" not in str(err.value)
