"""The one number format and the one fit line of the report and the app (analysis.formatting)."""

from __future__ import annotations

import numpy as np

from analysis.formatting import backtest_text, fit_line, interval, number


def test_numbers_read_the_same_everywhere() -> None:
    values = (1e8, 3.16e9, 0.00275, 55.147, -6.557, 1234.5, 3.2e-4, 0.0, 7, np.int64(12), True)
    assert [number(v) for v in values] == [
        "1.00e8", "3.16e9", "0.00275", "55.1", "-6.56", "1230", "3.20e-4", "0", "7", "12", "yes",
    ]  # fmt: skip
    assert [number(v) for v in (None, float("nan"), float("inf"), -np.inf)] == ["–", "–", "+inf", "-inf"]
    assert number(0.123456, 2) == "0.12" and number("n/a") == "n/a"
    assert interval(0.1, 0.25) == "[0.1, 0.25]" and interval(None, None) == "–"


def test_a_fit_reads_as_one_line_with_cis_r2_backtest_and_notes() -> None:
    line = fit_line(
        "logistic",
        "params",
        {"floor": 0.25, "k": 3.414, "x0": 9.1},
        {"k": (3.1, 8.26), "x0": [8.9, 9.3]},
        0.9712,
        message="dropped 1 points with a missing value",
        backtest={"backtest_mae": 0.01623, "backtest_mae_last_value": 0.0437, "backtest_mae_chance": 0.728},
        holdout=2,
    )
    assert line == (
        "logistic vs params  floor=0.25  k=3.41 [3.1, 8.26]  x0=9.1 [8.9, 9.3]  R²=0.971  "
        "backtest (top 2 held out): MAE 0.0162 vs last value 0.0437, chance 0.728  "
        "dropped 1 points with a missing value"
    )
    bare = fit_line("power", "flops", {"a": 2.0, "b": -0.05}, {}, None)
    assert bare == "power vs flops  a=2  b=-0.05  R²=–"
    fixed = fit_line(
        "logistic", "params", {"floor": 0.25, "k": 3.0}, {}, 0.9, fixed=("floor",), r2_space="linear"
    )
    assert fixed == "logistic vs params  floor=0.25 (fixed)  k=3  R²(linear)=0.9"


def test_a_refused_fit_says_why_instead_of_numbers() -> None:
    assert fit_line("saturating", "params", {}, {}, None, ok=False, message="the curve is constant") == (
        "saturating: no fit — the curve is constant"
    )
    assert fit_line(None, "params", {}, {}, None, ok=False) == "fit: no fit — unknown reason"
    text = backtest_text({"backtest_mean_rel_error": 0.83}, 1)
    assert text == "backtest (top 1 held out): mean rel. error 0.83"


def test_a_ci_of_no_width_is_words_and_a_narrow_one_keeps_its_digits():
    line = fit_line(
        "logistic",
        "params",
        {"floor": 0.0, "ceil": 0.833, "x0": 10.34},
        {"floor": (0.0, 0.0), "ceil": (0.759, 0.938), "x0": (10.331, 10.349)},
        0.99,
        r2_space="linear",
    )
    assert "floor=0 (no spread: every replicate gives this value)" in line
    assert "[0, 0]" not in line
    assert "x0=10.3 [10.33, 10.35]" in line  # 3 digits would print [10.3, 10.3]
    assert "ceil=0.833 [0.759, 0.938]" in line
    almost = fit_line("power", "params", {"b": 0.7}, {"b": (0.70000002, 0.70000002 + 1e-9)}, 1.0)
    assert "b=0.7 (no spread" in almost
    fixed = fit_line("logistic", "params", {"floor": 0.25}, {"floor": (0.25, 0.25)}, 0.9, fixed=("floor",))
    assert "floor=0.25 (fixed)" in fixed and "[0.25" not in fixed
