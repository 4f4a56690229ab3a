"""Metric kinds guessed from names (and said), the user's --kind/--direction/--chance/--partner, families from
model names, and exact match compared with what the same items' token probabilities predict."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats.finalize import finalize
from analysis.formats.model_sizes import family_from_name
from analysis.metrics import partners, score_samples, spec_for
from analysis.options import LoadOptions, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from analysis.resampling import compute_points
from analysis.schema import ResultTable
from analysis.simulate import simulate
from tui.cli import main


@pytest.mark.parametrize(
    "name,kind,partner",
    [
        ("exact_match_accuracy", "discontinuous", "edit_distance"),  # UKP
        ("exact_str_match", "discontinuous", "token_edit_distance"),  # BIG-bench
        ("exact_match[strict-match]", "discontinuous", "token_prob"),  # lm-eval, filter suffix
        ("acc,none", "discontinuous", "choice_prob"),
        ("arithmetic_acc", "discontinuous", "brier"),
        ("multiple_choice_grade", "discontinuous", "choice_prob"),
        ("bert_score_accuracy", "discontinuous", "choice_prob"),
        ("exact_match_f1", "continuous", None),
        ("edit_distance", "continuous", None),
        ("bleu", "continuous", None),
    ],
)
def test_kinds_and_partners_from_names(name: str, kind: str, partner: str | None) -> None:
    spec = spec_for(name)
    assert spec.kind == kind and spec.guessed
    assert spec.binary == (kind == "discontinuous")
    assert (partner in spec.partners) if partner else spec.partners == ()
    assert partners(name) == spec.partners


def test_values_decide_for_per_sample_columns() -> None:
    assert spec_for("judge", pl.Series([0.0, 1.0, 1.0])).kind == "discontinuous"
    graded = spec_for("accuracy", pl.Series([0.0, 0.5, 1.0]))  # named like an accuracy, holds scores
    assert graded.kind == "continuous" and "not 0/1" in graded.guessed
    assert spec_for("exact_match").guessed == ""  # the registry's own metric: nothing guessed


def table_with(**columns) -> ResultTable:
    frame = simulate(3e8, -0.6, np.geomspace(1e7, 1e11, 6), 4, 4, 200, seed=1, spread=0.5)
    frame = frame.filter(pl.col("task") == "generation")
    extra = {name: values(frame) for name, values in columns.items()}
    return finalize(
        ResultTable(samples=frame.with_columns(**extra), prescored=tuple(extra)), LoadOptions(), "x"
    )


def test_the_user_says_what_a_metric_is() -> None:
    table = table_with(judge=lambda f: pl.Series(np.linspace(0, 1, f.height)))
    options = MetricOptions(
        overrides=(
            ("judge", "kind", "discontinuous"),
            ("judge", "direction", "lower"),
            ("judge", "chance", "0.5"),
            ("judge", "partner", "token_loss"),
        )
    )
    scored = score_samples(table, options)
    spec = scored.specs["judge"]
    assert (spec.kind, spec.direction, spec.chance, spec.partners) == (
        "discontinuous", -1, 0.5, ("token_loss",),
    )  # fmt: skip
    assert spec.guessed == "" and "set by --partner" in spec.description
    assert scored.chance[("generation", "judge")] == 0.5
    points = compute_points(scored, table, ResampleSettings(bootstrap=0))
    judged = points.frame.filter(pl.col("metric") == "judge")
    assert set(judged["chance"].to_list()) == {0.5} and set(judged["direction"].to_list()) == {-1}


@pytest.mark.parametrize(
    "override",
    [("m", "kind", "sharp"), ("m", "direction", "up"), ("m", "chance", "1.5"), ("m", "colour", "red")],
)
def test_bad_settings_are_one_line(override: tuple[str, str, str]) -> None:
    with pytest.raises(InputError) as error:
        MetricOptions(overrides=(override,))
    assert "\n" not in str(error.value)


def test_guessed_kinds_are_said_in_the_notes() -> None:
    table = table_with(exact_match_accuracy=lambda f: (f["target"] == f["prediction"]).cast(pl.Float64))
    points = compute_points(score_samples(table), table, ResampleSettings(bootstrap=0))
    (note,) = [n for n in points.notes if n.startswith("kind guessed: exact_match_accuracy")]
    assert "discontinuous because its values are all 0 or 1" in note
    assert "--kind exact_match_accuracy=continuous to change" in note


@pytest.mark.parametrize(
    "name,family",
    [
        ("EleutherAI/pythia-1.4b-deduped", "pythia-deduped"),
        ("meta-llama/Llama-2-7b-hf", "Llama-2"),
        ("gpt2-xl", "gpt2"),
        ("gpt2", "gpt2"),
        ("google/flan-t5-small", "flan-t5"),
        ("tiiuae/falcon-40b-instruct", "falcon-instruct"),
        ("tinygpt-3792", "tinygpt"),
        ("pythia-1b-bf16", "pythia"),
        ("7b", None),
    ],
)
def test_family_from_name(name: str, family: str | None) -> None:
    assert family_from_name(name) == family


def test_family_from_name_splits_one_wide_table(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wide.csv"
    rows = ["model,params,mmlu"]
    for model, size in [("gpt2", 1.2e8), ("gpt2-medium", 3.5e8), ("gpt2-large", 7.7e8), ("t5-small", 6e7),
                        ("t5-large", 7.7e8), ("llama-7b", 7e9), ("llama-13b", 1.3e10)]:  # fmt: skip
        rows.append(f"{model},{size},{0.25 + 0.01 * math.log10(size)}")
    path.write_text("\n".join(rows) + "\n")
    base = ["report", str(path), "--format-in", "wide", "--format", "json", "--bootstrap", "0"]
    assert main(base) == 0
    import json

    assert {p["family"] for p in json.loads(capsys.readouterr().out)["points"]} == {"default"}
    assert main([*base, "--family-from-name"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert {p["model"]: p["family"] for p in points} == {
        "gpt2": "gpt2", "gpt2-medium": "gpt2", "gpt2-large": "gpt2", "t5-small": "t5", "t5-large": "t5",
        "llama-7b": "llama", "llama-13b": "llama",
    }  # fmt: skip


def test_exact_match_is_what_the_token_probabilities_predict_when_answers_are_sampled() -> None:
    """In the simulator an item is exactly right with the product of its token probabilities, so exact match
    agrees with seq_prob; answers that are right whenever seq_prob > 0.5 (a greedy caricature) do not."""
    sizes = np.geomspace(1e7, 1e11, 9)
    frame = simulate(3e8, -0.7, sizes, 5, 4, 1000, seed=4, spread=0.5).filter(pl.col("task") == "generation")
    table = finalize(ResultTable(samples=frame), LoadOptions(), "x")
    _, verdicts = Pipeline(table).emergence(MetricOptions(), ResampleSettings(bootstrap=200), "params")
    row = verdicts.row(0, named=True)
    assert row["predicted_agree"] == row["predicted_of"] == 9
    assert "is what the items' token probabilities predict" in row["verdict"]

    greedy = frame.with_columns(
        pl.when(pl.col("target_logprobs").list.sum().exp() > 0.5)
        .then(pl.col("target"))
        .otherwise(pl.col("prediction") + "x")
        .alias("prediction")
    )
    table = finalize(ResultTable(samples=greedy), LoadOptions(), "x")
    _, verdicts = Pipeline(table).emergence(MetricOptions(), ResampleSettings(bootstrap=200), "params")
    row = verdicts.row(0, named=True)
    assert row["predicted_agree"] < row["predicted_of"]
    assert "departs from what the items' token probabilities predict (above at" in row["verdict"]
