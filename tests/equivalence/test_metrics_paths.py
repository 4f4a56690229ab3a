"""The fast paths of the choice metrics give exactly the general path's numbers, edge cases included.

``_choice_block`` (flat values, per-row lengths, ``reduceat`` or a reshaped matrix) is the reference: the
K < 8 column path, the threaded blocks and the slice/scatter writes must reproduce it bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis import metrics, schema
from analysis.metrics import BRIER, CHOICE_PROB, MC_GRADE, choice, runs
from analysis.metrics.choice import _choice_block, _choice_metrics, _few_choices_block


def _awkward_logliks(rng: np.random.Generator, rows: int, choices: int) -> tuple[np.ndarray, np.ndarray]:
    """Random log-likelihoods with ties, -inf, +inf, NaN, huge values, and bad correct indices."""
    values = rng.normal(-3.0, 2.0, (rows, choices))
    values[rng.random((rows, choices)) < 0.02] = -math.inf
    values[rng.random(rows) < 0.01, 0] = math.nan
    values[rng.random(rows) < 0.01, -1] = math.inf
    tied = rng.random(rows) < 0.1
    values[tied, -1] = values[tied, 0]  # exact ties of the first and last choices
    values[rng.random(rows) < 0.01] = -math.inf  # no finite choice at all
    values[rng.random(rows) < 0.02] *= 400.0  # far from 0: the shift by the row max matters
    values[rng.random(rows) < 0.01] = 2.5  # every choice tied
    correct = rng.integers(0, choices, rows)
    correct[rng.random(rows) < 0.02] = choices  # out of range
    correct[rng.random(rows) < 0.02] = -1  # missing
    return values, correct


@pytest.mark.parametrize("choices", [1, 2, 4, 7])
def test_column_block_equals_general_block_bit_for_bit(choices: int) -> None:
    rng = np.random.default_rng(choices)
    values, correct = _awkward_logliks(rng, 5000, choices)
    fast = _few_choices_block(values, correct)
    general = _choice_block(values.ravel(), np.full(len(values), choices), correct)
    for got, want in zip(fast, general, strict=True):
        assert got.tobytes() == want.tobytes()  # same bits, NaN where unusable included
    grade, q_correct, _ = general
    assert np.nansum(grade) > 0 and np.isnan(q_correct).sum() > 0  # both outcomes occur


def _frame(logliks: list[list[float] | None], correct: list[int | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {schema.CHOICE_LOGLIKS: logliks, schema.CORRECT_CHOICE: correct},
        schema={schema.CHOICE_LOGLIKS: pl.List(pl.Float64), schema.CORRECT_CHOICE: pl.Int64},
    )


def _expected(logliks: list[list[float] | None], correct: list[int | None]) -> dict[str, list[float | None]]:
    """The general block over the rows with choices, spread back to every row (null elsewhere)."""
    given = [i for i, row in enumerate(logliks) if row is not None]
    flat = np.array([v for i in given for v in logliks[i]], dtype=np.float64)
    lengths = np.array([len(logliks[i]) for i in given], dtype=np.int64)
    index = np.array([-1 if correct[i] is None else correct[i] for i in given], dtype=np.int64)
    columns: dict[str, list[float | None]] = {
        name: [None] * len(logliks) for name in (MC_GRADE, CHOICE_PROB, BRIER)
    }
    for name, values in zip(columns, _choice_block(flat, lengths, index), strict=True):
        for row, value in zip(given, values.tolist(), strict=True):
            columns[name][row] = None if math.isnan(value) else value
    return columns


@pytest.mark.parametrize("layout", ["runs", "scattered", "ragged"])
@pytest.mark.parametrize("rows_per_slice", [1 << 18, 1000])
def test_threaded_blocks_equal_the_general_path(
    monkeypatch: pytest.MonkeyPatch, layout: str, rows_per_slice: int
) -> None:
    """Many slices and blocks on two threads; rows without choices in runs (slice writes) or scattered."""
    monkeypatch.setattr(choice, "_BLOCK", 512)
    monkeypatch.setattr(choice, "_SLICE", rows_per_slice)
    rng = np.random.default_rng(11)
    rows = 6000
    values, correct_array = _awkward_logliks(rng, rows, 4)
    logliks: list[list[float] | None] = [list(row) for row in values]
    correct: list[int | None] = correct_array.tolist()
    if layout == "runs":
        for start in (0, 1500, 5900):
            logliks[start : start + 100] = [None] * 100
    else:
        for row in np.flatnonzero(rng.random(rows) < 0.3):
            logliks[row] = None
    if layout == "ragged":  # blocks of K=3, K=4 and mixed widths (general path), and an empty list
        for row in range(1000, 2000):
            if logliks[row] is not None:
                logliks[row] = logliks[row][:3]
        for row in np.flatnonzero(rng.random(rows) < 0.05):
            if logliks[row] is not None:
                logliks[row] = logliks[row] + [-1.0] * int(rng.integers(1, 9))
        logliks[3] = []
    for row in np.flatnonzero(rng.random(rows) < 0.01):
        correct[row] = None
    result = _choice_metrics(_frame(logliks, correct))
    expected = _expected(logliks, correct)
    for name in (MC_GRADE, CHOICE_PROB, BRIER):
        assert result[name].to_list() == expected[name]
    assert result[MC_GRADE].null_count() > (300 if layout == "runs" else 1000)


def test_many_runs_of_absent_rows_fill_whole_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``_MANY_RUNS`` runs the columns start all-NaN instead of filling runs: the same values."""
    logliks: list[list[float] | None] = [[0.0, -1.0] if i % 2 else None for i in range(50)]
    correct: list[int | None] = [0] * 50
    by_runs = _choice_metrics(_frame(logliks, correct))
    monkeypatch.setattr(runs, "_MANY_RUNS", 0)
    whole = _choice_metrics(_frame(logliks, correct))
    assert by_runs.equals(whole)
    assert by_runs[CHOICE_PROB].to_list()[:2] == [None, pytest.approx(1 / (1 + math.exp(-1)))]


def test_no_choice_rows_at_all_give_nulls() -> None:
    result = _choice_metrics(_frame([None, None], [0, 1]))
    assert result.null_count().row(0) == (2, 2, 2)
    assert _choice_metrics(_frame([], [])).height == 0


def test_score_samples_groups_keep_order_chance_and_a_prescored_grade() -> None:
    """Metric groups run concurrently: columns keep the registry order, every group's values are there, and
    a pre-scored mc_grade is used as is while its continuous partners (choice_prob, brier) are computed from
    the choices, and all get chance levels."""
    from analysis.schema import ResultTable

    frame = pl.DataFrame(
        {
            schema.FAMILY: ["f"] * 3,
            schema.MODEL: ["m"] * 3,
            schema.TASK: ["t"] * 3,
            schema.PARAMS: [1e6] * 3,
            schema.ITEM: ["0", "1", "2"],
            schema.TARGET: ["ab", "ab", None],
            schema.PREDICTION: ["ab", "ac", "x"],
            schema.TARGET_LOGPROBS: [[math.log(0.5)], [math.log(0.25), 0.0], None],
            schema.CHOICE_LOGLIKS: [[0.0, -1.0, -2.0], None, [-1.0, -1.0, -1.0]],
            schema.CORRECT_CHOICE: [0, 1, 2],
            MC_GRADE: [1.0, 0.0, 1.0],
        }
    )
    scored = metrics.score_samples(ResultTable(samples=frame, prescored=(MC_GRADE,)))
    computed = [c for c in scored.frame.columns if c in metrics.METRICS]
    assert computed == [
        "exact_match",
        "token_edit_distance",
        "token_loss",
        "token_prob",
        "seq_prob",
        CHOICE_PROB,
        BRIER,
        MC_GRADE,
    ]
    assert scored.frame[MC_GRADE].to_list() == [1.0, 0.0, 1.0]  # the file's own column
    assert scored.frame[CHOICE_PROB].to_list()[1] is None  # no choices on row 2
    assert scored.frame[CHOICE_PROB][2] == pytest.approx(1 / 3)
    assert scored.frame["exact_match"].to_list() == [1.0, 0.0, None]
    assert scored.frame["token_edit_distance"].to_list() == [0.0, 1.0, None]
    assert scored.frame["token_loss"].to_list() == pytest.approx([math.log(2), math.log(4) / 2, None])
    assert scored.chance == pytest.approx(
        {("t", MC_GRADE): 1 / 3, ("t", CHOICE_PROB): 1 / 3, ("t", BRIER): 2 / 3}
    )
