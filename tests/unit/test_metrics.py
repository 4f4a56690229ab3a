"""Metric values against hand-computed cases and closed forms."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis import schema
from analysis.metrics import (
    BRIER,
    CHOICE_PROB,
    EXACT_MATCH,
    MC_GRADE,
    METRICS,
    TOKEN_EDIT_DISTANCE,
    TOKEN_LOSS,
    TOKEN_PROB,
    direction_from_name,
    partners,
    sample_metric_ids,
    score_samples,
    spec_for,
)
from analysis.options import MetricOptions
from analysis.schema import ResultTable
from tests.conftest import SHARED_DATA, needs_shared_data


def samples(**columns: list) -> pl.DataFrame:
    """A per-sample frame with identity columns filled in and the given output columns."""
    n = len(next(iter(columns.values())))
    base = {
        schema.FAMILY: ["f"] * n,
        schema.MODEL: ["m"] * n,
        schema.TASK: ["t"] * n,
        schema.PARAMS: [1e6] * n,
        schema.ITEM: [str(i) for i in range(n)],
    }
    dtypes = {c: schema.DTYPES[c] for c in columns if c in schema.DTYPES}
    return pl.DataFrame(base).hstack(pl.DataFrame(columns, schema_overrides=dtypes))


def score(frame: pl.DataFrame, prescored: tuple[str, ...] = (), **options: object) -> pl.DataFrame:
    table = ResultTable(samples=frame, prescored=prescored)
    return score_samples(table, MetricOptions(**options)).frame


def test_levenshtein_characters_on_known_pairs() -> None:
    frame = samples(target=["kitten", "flaw", "abc", ""], prediction=["sitting", "lawn", "abc", "xyz"])
    assert score(frame)[TOKEN_EDIT_DISTANCE].to_list() == [3.0, 2.0, 0.0, 3.0]


def test_levenshtein_whitespace_tokens_counts_words() -> None:
    frame = samples(
        target=["the cat sat", "a b c d", "one"], prediction=["the dog sat down", "a  c d", "one"]
    )
    # substitute cat->dog and insert down; delete b (double space is one separator); identical
    assert score(frame, tokenizer="whitespace")[TOKEN_EDIT_DISTANCE].to_list() == [2.0, 1.0, 0.0]


def test_levenshtein_given_token_lists_take_precedence_over_text() -> None:
    frame = samples(
        target=["xxxx", "kitten"],
        prediction=["y", "sitting"],
        target_tokens=[["12", "+", "7"], None],
        prediction_tokens=[["12", "-", "7", "="], None],
    )
    # row 0 from lists (one substitution, one insertion); row 1 falls back to characters
    assert score(frame)[TOKEN_EDIT_DISTANCE].to_list() == [2.0, 3.0]


def test_levenshtein_token_lists_alone_are_enough() -> None:
    frame = samples(target_tokens=[["a", "b"], []], prediction_tokens=[["b"], ["a", "a"]])
    result = score_samples(ResultTable(samples=frame))
    assert result.frame[TOKEN_EDIT_DISTANCE].to_list() == [1.0, 2.0]
    assert EXACT_MATCH in dict(result.skipped)


def test_exact_match_strips_and_optionally_folds_case() -> None:
    frame = samples(target=["42", "Paris", "a b", None], prediction=[" 42\n", "paris", "a  b", "x"])
    assert score(frame)[EXACT_MATCH].to_list() == [1.0, 0.0, 0.0, None]
    assert score(frame, case_fold=True)[EXACT_MATCH].to_list() == [1.0, 1.0, 0.0, None]
    assert score(frame, case_fold=True)[TOKEN_EDIT_DISTANCE].to_list() == [0.0, 0.0, 1.0, None]


def test_token_loss_and_prob_from_known_logprobs() -> None:
    logprobs = [[math.log(0.5), math.log(0.25)], [0.0], [math.log(0.9)] * 3]
    frame = score(samples(target_logprobs=logprobs))
    expected_loss = [-(math.log(0.5) + math.log(0.25)) / 2, 0.0, -math.log(0.9)]
    assert frame[TOKEN_LOSS].to_list() == pytest.approx(expected_loss)
    # exp(-loss) is the geometric mean token probability: sqrt(.5 * .25)
    assert frame[TOKEN_PROB].to_list() == pytest.approx([math.sqrt(0.125), 1.0, 0.9])


def test_choice_metrics_on_hand_computed_case() -> None:
    logliks = [[math.log(0.5), math.log(0.3), math.log(0.2)]] * 2
    frame = score(samples(choice_logliks=logliks, correct_choice=[1, 0]))
    assert frame[CHOICE_PROB].to_list() == pytest.approx([0.3, 0.5])
    assert frame[BRIER].to_list() == pytest.approx([0.5**2 + 0.7**2 + 0.2**2, 0.5**2 + 0.3**2 + 0.2**2])
    assert frame[MC_GRADE].to_list() == [0.0, 1.0]


def test_choice_prob_is_stable_for_huge_logliks_and_unnormalised() -> None:
    # unnormalised log-likelihoods far from 0: softmax must not overflow or underflow to nan
    frame = score(samples(choice_logliks=[[-1000.0, -1001.0], [800.0, 800.0]], correct_choice=[0, 1]))
    expected = 1 / (1 + math.exp(-1))
    assert frame[CHOICE_PROB].to_list() == pytest.approx([expected, 0.5])
    assert frame[BRIER].to_list() == pytest.approx([2 * (1 - expected) ** 2, 0.5])


def test_mc_grade_tie_counts_only_for_the_first_maximum() -> None:
    logliks = [[-1.0, -1.0, -3.0]] * 3
    frame = score(samples(choice_logliks=logliks, correct_choice=[0, 1, 2]))
    assert frame[MC_GRADE].to_list() == [1.0, 0.0, 0.0]


def test_choice_chance_levels_per_task() -> None:
    frame = samples(choice_logliks=[[0.0, -1.0, -2.0, -3.0]] * 2, correct_choice=[0, 3])
    frame = frame.with_columns(pl.Series(schema.TASK, ["four", "four"]))
    two = samples(choice_logliks=[[0.0, -1.0]], correct_choice=[1]).with_columns(pl.lit("two").alias("task"))
    result = score_samples(ResultTable(samples=pl.concat([frame, two])))
    assert result.chance[("four", MC_GRADE)] == pytest.approx(0.25)
    assert result.chance[("four", CHOICE_PROB)] == pytest.approx(0.25)
    assert result.chance[("four", BRIER)] == pytest.approx(0.75)
    assert result.chance[("two", MC_GRADE)] == pytest.approx(0.5)
    # uniform choice probabilities score exactly the stated Brier chance 1 - 1/K
    uniform = score(samples(choice_logliks=[[-2.0] * 4], correct_choice=[2]))
    assert uniform[BRIER].to_list() == pytest.approx([0.75])


def test_mirage_closed_form_means() -> None:
    """Simulated L-token targets, each token right with prob p: mean EM ~ p^L and mean distance ~ L(1 - p)."""
    rng = np.random.default_rng(0)
    n, length, p = 20_000, 5, 0.7
    right = rng.random((n, length)) < p
    target = ["".join("a" * length)] * n
    prediction = ["".join("a" if ok else "b" for ok in row) for row in right]
    frame = score(samples(target=target, prediction=prediction))
    em, ted = frame[EXACT_MATCH].mean(), frame[TOKEN_EDIT_DISTANCE].mean()
    em_se = math.sqrt(p**length * (1 - p**length) / n)
    assert abs(em - p**length) < 4 * em_se
    assert abs(ted - length * (1 - p)) < 4 * math.sqrt(length * p * (1 - p) / n)


def test_prescored_columns_get_inferred_specs_and_override_same_named_metric() -> None:
    frame = samples(
        target=["a", "b"], prediction=["a", "c"], exact_match=[0.0, 0.0], acc=[1.0, 0.0], bleu_loss=[0.3, 2.0]
    )
    result = score_samples(ResultTable(samples=frame, prescored=("exact_match", "acc", "bleu_loss")))
    assert result.frame[EXACT_MATCH].to_list() == [0.0, 0.0]  # the file's own column, not recomputed
    assert "own per-sample" in dict(result.skipped)[EXACT_MATCH]
    assert result.specs["acc"].kind == "discontinuous" and result.specs["acc"].binary
    assert result.specs["bleu_loss"].kind == "continuous" and result.specs["bleu_loss"].direction == -1
    assert result.frame[TOKEN_EDIT_DISTANCE].to_list() == [0.0, 1.0]


def test_skipped_lists_each_metric_with_a_reason() -> None:
    result = score_samples(ResultTable(samples=samples(target_logprobs=[[-0.1]])))
    skipped = dict(result.skipped)
    assert set(result.specs) == {TOKEN_LOSS, TOKEN_PROB, "seq_prob"}
    assert set(skipped) == {EXACT_MATCH, TOKEN_EDIT_DISTANCE, MC_GRADE, CHOICE_PROB, BRIER}
    assert "choice_logliks" in skipped[MC_GRADE]
    assert list(result.frame.columns[:5]) == [
        schema.FAMILY,
        schema.MODEL,
        schema.TASK,
        schema.PARAMS,
        schema.ITEM,
    ]


def test_registry_directions_partners_and_names() -> None:
    assert METRICS[TOKEN_EDIT_DISTANCE].direction == -1 and METRICS[BRIER].direction == -1
    assert METRICS[EXACT_MATCH].kind == "discontinuous" and METRICS[MC_GRADE].binary
    assert partners(EXACT_MATCH)[0] == TOKEN_EDIT_DISTANCE and partners(MC_GRADE) == (CHOICE_PROB, BRIER)
    assert partners(TOKEN_LOSS) == ()
    assert [direction_from_name(n) for n in ("word_perplexity", "edit_distance", "acc", "f1")] == [
        -1,
        -1,
        1,
        1,
    ]
    assert spec_for("acc", pl.Series([0, 1, 1])).binary
    assert not spec_for("f1", pl.Series([0.5, 1.0])).binary
    assert sample_metric_ids(["target", "prediction"], ["acc"]) == [EXACT_MATCH, TOKEN_EDIT_DISTANCE, "acc"]


def test_edit_distance_scores_every_row_of_many_batches() -> None:
    """300k rows: several batches of pairs on threads, none left unscored (the speed is measured by
    ``emergence-tui bench``)."""
    n = 300_000
    rng = np.random.default_rng(1)
    words = np.array(["12", "+", "7", "=", "19", "20"])
    target = pl.Series([" ".join(words[rng.integers(0, 6, 3)]) for _ in range(1000)] * (n // 1000))
    prediction = target.str.replace("1", "2")
    frame = samples(target=target.to_list()[:10], prediction=prediction.to_list()[:10])
    frame = pl.concat([frame] * (n // 10))
    scored = score(frame)
    assert scored.height == n and scored[TOKEN_EDIT_DISTANCE].null_count() == 0


def test_choice_metrics_with_ragged_and_bad_rows() -> None:
    """Different K per row (segment path) and rows that cannot be graded (null lists, all -inf)."""
    logliks = [
        [math.log(0.5), math.log(0.3), math.log(0.2)],
        [0.0, 0.0],
        None,
        [-math.inf, -math.inf],
        [-1.0],
    ]
    frame = score(samples(choice_logliks=logliks, correct_choice=[1, 1, 0, 0, 0]))
    assert frame[CHOICE_PROB].to_list()[:2] == pytest.approx([0.3, 0.5])
    assert frame[CHOICE_PROB].to_list()[2:] == [None, None, pytest.approx(1.0)]
    assert frame[MC_GRADE].to_list() == [0.0, 0.0, None, None, 1.0]
    assert frame[BRIER].to_list()[:2] == pytest.approx([0.78, 0.5])


@needs_shared_data
def test_mc_grade_agrees_with_lm_eval_acc_on_real_tinygpt_logs() -> None:
    """Our argmax grade, recomputed from lm-eval's logged log-likelihoods, matches its own per-sample acc."""
    pytest.importorskip("analysis.formats.lm_eval", reason="the lm-eval reader is another module")
    from analysis.loading import load

    table = load([SHARED_DATA / "lm_eval_04_tinygpt"])
    scored = score_samples(table)
    mc = scored.frame.filter(pl.col(MC_GRADE).is_not_null())
    assert mc.height > 0 and mc["task"].unique().to_list() == ["add3b_mc"]
    assert mc[MC_GRADE].to_list() == mc["acc"].to_list()
    assert scored.chance[("add3b_mc", MC_GRADE)] == pytest.approx(0.25)
    # exact match 1 <=> edit distance 0 on the generation task (the file's exact_match is used as is)
    gen = scored.frame.filter(pl.col(TOKEN_EDIT_DISTANCE).is_not_null())
    assert ((gen[EXACT_MATCH] == 1) == (gen[TOKEN_EDIT_DISTANCE] == 0)).all()


def test_token_coding_matches_levenshtein_on_python_lists() -> None:
    """The one-code-point-per-token trick gives exactly the list Levenshtein distance."""
    from rapidfuzz.distance import Levenshtein

    rng = np.random.default_rng(7)
    vocabulary = ["a", "bb", "the", "12", "+", "=", "", "ü"]
    left = [list(rng.choice(vocabulary, rng.integers(0, 6))) for _ in range(300)]
    right = [list(rng.choice(vocabulary, rng.integers(0, 6))) for _ in range(300)]
    frame = samples(target_tokens=left, prediction_tokens=right)
    expected = [float(Levenshtein.distance(a, b)) for a, b in zip(left, right, strict=True)]
    assert score(frame)[TOKEN_EDIT_DISTANCE].to_list() == expected


def test_only_computes_the_requested_metrics_and_says_so() -> None:
    frame = samples(
        target=["ab", "cd"],
        prediction=["ab", "ce"],
        choice_logliks=[[-1.0, -2.0], [-0.5, -0.1]],
        correct_choice=[0, 0],
    )
    result = score_samples(ResultTable(samples=frame), MetricOptions(only=("exact_match", "brier")))
    assert list(result.specs) == ["exact_match", "brier"]
    assert result.frame["exact_match"].to_list() == [1.0, 0.0]
    assert {m: why for m, why in result.skipped if why.startswith("not requested")} == {
        m: "not requested (--metric)" for m in ("token_edit_distance", "mc_grade", "choice_prob")
    }


def test_report_metric_filter_adds_partners_and_leaves_unknown_metrics_to_everything() -> None:
    from analysis.pipeline import metric_options_for

    base = MetricOptions(tokenizer="whitespace")
    chosen = metric_options_for(base, ("exact_match",))
    assert chosen == MetricOptions(
        tokenizer="whitespace",
        only=("exact_match", "token_edit_distance", "token_loss", "token_prob", "seq_prob"),
    )
    assert metric_options_for(base, ("acc",)).only == ("choice_prob", "brier")
    assert metric_options_for(base, ("bleu",)) == base  # no declared partners: all
    assert metric_options_for(base, ()) == base
