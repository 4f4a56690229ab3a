"""Verdicts on the real result files in ../shared/data, each with the reason it is the right call."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA, needs_shared_data
from tui.cli import main

pytestmark = needs_shared_data

ARITHMETIC = ["--format-in", "wide", "--map", "operation=task", "--map", "params_total=params",
              "--tokens-per-step", "2097152"]  # fmt: skip


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main(["report", *argv, "--bootstrap", "500", "--fit-bootstrap", "0", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def by_task(out: dict, family: str | None = None) -> dict[str, dict]:
    return {v["task"]: v for v in out["verdicts"] if family is None or v["family"] == family}


def status(out: dict, task: str, metric: str, family: str | None = None) -> dict:
    (row,) = [
        e for e in out["emergence"]
        if e["task"] == task and e["metric"] == metric and family in (None, e["family"])
    ]  # fmt: skip
    return row


def test_tinygpt_jumps_are_real_in_both_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    """Five tiny GPTs on 3-digit addition: exact match 0.015, 0.028, 0.44, 0.99, 1 and edit distance
    1.84, 1.58, 0.60, 0.01, 0 between 10.8k and 26.4k parameters. The edit distance falls 3x beyond its trend
    in one step, so the jump is in the continuous metric too: it survives. The 4-way choice task likewise:
    choice_prob jumps (0.56 -> 0.89) with the grade."""
    out = report(capsys, str(SHARED_DATA / "lm_eval_04_tinygpt"))
    verdicts = by_task(out)
    assert verdicts["add3b"]["category"] == "survives"
    assert verdicts["add3b_mc"]["category"] == "survives"
    ted = status(out, "add3b", "token_edit_distance")
    assert ted["status"] == "jump" and ted["jump_at"] == "tinygpt-15216" and ted["jump"] > 1.0
    assert status(out, "add3b_mc", "choice_prob")["status"] == "jump"
    assert status(out, "add3b_mc", "acc")["status"] == "same as mc_grade"  # lm-eval's acc is the grade
    assert {v["metric"] for v in out["verdicts"]} == {"exact_match", "mc_grade"}


def test_pythia_few_shot_addition_jumps_at_2_8b_with_nothing_to_check_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Pythia 2-digit addition, 5000 questions per model: with 2 to 16 shots accuracy goes from 0.01-0.05 up
    to 1.4B to about 0.7 at 2.8B, a miss of 40-75x in the odds with 5000 items behind each point; the file
    holds counts only, so no continuous metric can say whether the per-token loss jumped too: emergent,
    unchecked.
    Zero-shot addition never leaves 0-4% and rises as a line on the logit scale: smooth."""
    out = report(capsys, str(SHARED_DATA / "pythia_arithmetic" / "tidy.csv"), *ARITHMETIC)
    verdicts = by_task(out, "default")
    for shots in (2, 4, 8, 16):
        verdict = verdicts[f"addition {shots}-shot"]
        assert verdict["category"] == "emergent (unchecked)", verdict["verdict"]
        row = status(out, f"addition {shots}-shot", "accuracy", "default")
        assert row["jump_at"] == "pythia-2.8b-deduped" and row["jump"] > 3.0 and row["p_adjusted"] < 1e-6
    assert verdicts["addition 0-shot"]["category"] == "smooth"
    # each run's checkpoints share one params value: a family along tokens, not a curve on params
    checkpoints = [e for e in out["emergence"] if e["family"].endswith(" checkpoints")]
    assert checkpoints and {e["status"] for e in checkpoints} == {"not on this axis"}


def test_ukp_families_are_too_small_to_judge(capsys: pytest.CaptureFixture[str]) -> None:
    """UKP's 24 models come in families of 1 to 4 sizes (GPT-2 has 2, LLaMA 3, Falcon 2, T5 2): no family has
    the 5 distinct sizes a step needs to be told from a bend, and three 175B GPT-3 models tie, so no curve is
    judged (the old rule called 60 of them emergent with no p-value surviving)."""
    out = report(
        capsys, str(SHARED_DATA / "ukp_on_emergence" / "tidy.csv"), "--format-in", "wide",
        "--map", "params_nominal=params", "--map", "exact_match_accuracy=metric",
        "--map", "edit_distance=metric", "--map", "bert_score_accuracy=metric",
        "--map", "single_bert_score=metric", "--map", "prompt_type=variant",
        "--map", "seed=replicate", "--map", "run_id=ignore", "--map", "temperature=ignore",
        "--map", "instruction_tuned=ignore", "--null-value", "-100",
    )  # fmt: skip
    statuses = {e["status"] for e in out["emergence"]}
    assert statuses <= {"not on this axis", "too few scales", "tied scales", "same as bert_score_accuracy",
                        "same as edit_distance", "same as exact_match_accuracy"}  # fmt: skip
    assert not [e for e in out["emergence"] if e["status"] in ("jump", "smooth", "inconclusive")]


OBSSCALING = ["--format-in", "wide", "--map", "Model=model", "--map", "Model Family=family",
              "--map", "Model Size (B)=params", "--map", "Pretraining Data Size (T)=tokens",
              "--map", "FLOPs (1E21)=flops", "--scale", "params=1e9", "--scale", "tokens=1e12",
              "--scale", "flops=1e21"]  # fmt: skip


def test_obsscaling_emergent_tasks_jump_but_the_table_cannot_say_how_noisy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ObsScaling's table of Wei et al.'s emergent tasks gives accuracies with no item counts or errors. Its
    column names say the metric (``arithmetic_3ds_2_acc``: an accuracy, discontinuous; ``_bleu``:
    continuous). GPT-Neo/J's 3-digit subtraction goes from near 0 to far above the smaller models' line at
    GPT-J-6B (a miss of over 100x in the odds), but with no noise estimate that cannot be tested:
    inconclusive, not emergent."""
    raw = SHARED_DATA / "obsscaling" / "raw"
    files = [str(raw / "base_llm_benchmark_eval.csv"), str(raw / "base_llm_emergent_capability_eval.csv")]
    out = report(capsys, *files, *OBSSCALING)
    kinds = {e["metric"]: e["kind"] for e in out["emergence"]}
    assert kinds["acc"] == "discontinuous" and kinds["exact_match"] == "discontinuous"
    assert kinds["bleu"] == "continuous" and kinds["score"] == "continuous"
    verdicts = {(v["family"], v["task"]): v for v in out["verdicts"]}
    neo = verdicts[("GPT-Neo/J", "arithmetic_3ds_2")]
    assert neo["category"] == "inconclusive" and "cannot be tested" in neo["verdict"]
    row = status(out, "arithmetic_3ds_2", "acc", "GPT-Neo/J")
    assert row["jump_at"] == "EleutherAI/gpt-j-6b" and row["jump"] > 4.0 and row["p_value"] is None
    assert not [v for v in out["verdicts"] if v["category"] in ("survives", "mirage", "emergent (unchecked)")]
