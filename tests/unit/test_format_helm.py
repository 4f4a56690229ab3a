"""HELM run directories: the three real runs in ../shared/data/helm, and small runs written here in HELM's
layout (separate multiple choice, train trials, bad files)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.formats import helm
from analysis.loading import load
from analysis.options import LoadOptions
from tests.conftest import SHARED_DATA, needs_shared_data
from tests.format_helpers import cell, one_line_error, skipped

RAW = SHARED_DATA / "helm" / "raw"
MMLU = RAW / "mmlu-subject=philosophy,method=multiple_choice_joint,model=openai_gpt2"
NARRATIVE = RAW / "narrative_qa-model=openai_gpt2"


def stat(entry: dict, name: str) -> float:
    return next(
        s["mean"] for s in entry["stats"] if s["name"]["name"] == name and not s["name"].get("perturbation")
    )


def split_stat(folder: Path, name: str, split: str) -> float:
    stats = json.loads((folder / "stats.json").read_text())
    return next(
        s["mean"]
        for s in stats
        if s["name"]["name"] == name and s["name"].get("split") == split and not s["name"].get("perturbation")
    )


# ---------------------------------------------------------------------------------------------- real runs


@needs_shared_data
def test_real_suite_is_a_family_per_scenario() -> None:
    table = helm.read(RAW)
    assert set(table.families) == {"commonsense", "mmlu", "narrative_qa"}
    assert set(table.tasks) == {
        "commonsense:dataset=hellaswag,method=multiple_choice_joint",
        "mmlu:subject=philosophy,method=multiple_choice_joint",
        "narrative_qa",
    }
    models = dict(table.samples.group_by("family").agg(pl.col("model").first()).iter_rows())
    assert models == {
        "commonsense": "eleutherai/pythia-1b-v0",
        "mmlu": "openai/gpt2",
        "narrative_qa": "openai/gpt2",
    }
    assert "num_output_tokens" not in table.samples.columns  # bookkeeping, not a metric
    assert {"exact_match", "quasi_exact_match", "f1_score", "rouge_l"} <= set(table.prescored)


@needs_shared_data
def test_real_per_instance_stats_and_the_split_aggregates() -> None:
    table = helm.read(RAW)
    mmlu = table.samples.filter(pl.col("family") == "mmlu")
    entries = json.loads((MMLU / "per_instance_stats.json").read_text())
    test_ids = [e["instance_id"] for e in entries if e["stats"][0]["name"]["split"] == "test"]
    assert sorted(mmlu["item"]) == sorted(test_ids) and len(test_ids) == 9  # the valid instance is left out
    for entry in entries[:5]:
        if entry["instance_id"] in test_ids:
            assert cell(mmlu, "exact_match", item=entry["instance_id"]) == stat(entry, "exact_match")
    assert mmlu["exact_match"].mean() == pytest.approx(split_stat(MMLU, "exact_match", "test"))  # 1/9
    narrative = table.samples.filter(pl.col("family") == "narrative_qa")
    assert narrative["f1_score"].mean() == pytest.approx(split_stat(NARRATIVE, "f1_score", "test"))
    assert narrative["rouge_l"].mean() == pytest.approx(split_stat(NARRATIVE, "rouge_l", "test"))
    assert any("used the test split; left out 1 valid instance" in w for w in table.warnings)


@needs_shared_data
def test_real_outputs_come_from_the_scenario_state() -> None:
    table = helm.read(RAW)
    states = json.loads((MMLU / "scenario_state.json").read_text())["request_states"]
    for state in states[:4]:
        instance = state["instance"]
        if instance["split"] != "test":
            continue
        correct = next(r["output"]["text"] for r in instance["references"] if "correct" in r["tags"])
        letter = next(k for k, v in state["output_mapping"].items() if v == correct)
        row = table.samples.filter(pl.col("item") == instance["id"], pl.col("family") == "mmlu")
        assert row["target"].item() == letter
        assert row["prediction"].item() == state["result"]["completions"][0]["text"].strip()
        assert row["exact_match"].item() == float(letter == row["prediction"].item())
    states = json.loads((NARRATIVE / "scenario_state.json").read_text())["request_states"]
    state = next(s for s in states if s["instance"]["split"] == "test")
    row = table.samples.filter(pl.col("item") == state["instance"]["id"])
    assert row["target"].item() == state["instance"]["references"][0]["output"]["text"]
    assert row["prediction"].item() == state["result"]["completions"][0]["text"]


# ---------------------------------------------------------------------------------------------- written here


def stats_entry(instance: str, trial: int, **values: float) -> dict:
    stats = [
        {"name": {"name": k, "split": "test"}, "count": 1, "sum": v, "mean": v} for k, v in values.items()
    ]
    stats.append({"name": {"name": "num_prompt_tokens", "split": "test"}, "count": 1, "sum": 9, "mean": 9})
    return {"instance_id": instance, "train_trial_index": trial, "stats": stats}


def write_run(
    folder: Path, name: str, model: str | None, method: str, entries: list, states: list | None
) -> Path:
    folder.mkdir(parents=True)
    adapter = {"method": method, "max_train_instances": 0}
    if model:
        adapter["model"] = model
    (folder / "run_spec.json").write_text(json.dumps({"name": name, "adapter_spec": adapter}))
    (folder / "per_instance_stats.json").write_text(json.dumps(entries))
    if states is not None:
        (folder / "scenario_state.json").write_text(json.dumps({"request_states": states}))
    return folder


def separate_states(instance: str, logprobs: list[list[float]], correct: int, mode: str = "original") -> list:
    references = [
        {"output": {"text": f"answer {i}"}, "tags": ["correct"] if i == correct else []} for i in range(3)
    ]
    states = []
    for index, token_logprobs in enumerate(logprobs):
        prompt = [{"text": "Question", "logprob": 0.0}, {"text": ":", "logprob": -0.5}]
        answer = [
            {"text": " answer", "logprob": token_logprobs[0]},
            {"text": f" {index}", "logprob": token_logprobs[1]},
        ]
        states.append(
            {
                "instance": {"id": instance, "split": "test", "references": references},
                "train_trial_index": 0,
                "reference_index": index,
                "request_mode": mode,
                "result": {"completions": [{"text": "", "logprob": 0.0, "tokens": prompt + answer}]},
            }
        )
    return states


def test_separate_multiple_choice_gives_choice_logliks(tmp_path: Path) -> None:
    logprobs = [[-1.0, -2.0], [-0.5, -0.25], [-3.0, -1.0]]
    states = separate_states("i1", logprobs, correct=1)
    entries = [stats_entry("i1", 0, exact_match=1.0)]
    run = write_run(
        tmp_path / "r",
        "toy:method=mcs,model=org_m-1b",
        None,
        "multiple_choice_separate_original",
        entries,
        states,
    )
    table = helm.read(run, LoadOptions(params_from_name=True))
    row = table.samples.row(0, named=True)
    assert row["choice_logliks"] == [-3.0, -0.75, -4.0]  # the two answer tokens, not the echoed prompt
    assert row["correct_choice"] == 1
    assert (row["model"], row["task"], row["family"], row["params"]) == (
        "org/m-1b",
        "toy:method=mcs",
        "toy",
        1e9,
    )
    assert "num_prompt_tokens" not in table.samples.columns


def test_calibrated_choices_subtract_the_calibration_request(tmp_path: Path) -> None:
    states = separate_states("i1", [[-1.0, -2.0], [-0.5, -0.25], [-3.0, -1.0]], correct=0)
    states += separate_states(
        "i1", [[-0.5, -0.5], [-0.25, -0.25], [-1.0, -1.0]], correct=0, mode="calibration"
    )
    entries = [stats_entry("i1", 0, exact_match=0.0)]
    run = write_run(
        tmp_path / "r", "toy:model=org_m", "org/m", "multiple_choice_separate_calibrated", entries, states
    )
    row = helm.read(run).samples.row(0, named=True)
    assert row["choice_logliks"] == [-2.0, -0.25, -2.0]


def test_continuation_logprob_refuses_tokens_that_do_not_spell_the_reference() -> None:
    tokens = [{"text": " answer", "logprob": -1.0}, {"text": " 2", "logprob": -1.0}]
    assert helm.continuation_logprob(tokens, "answer 2") == -2.0
    assert helm.continuation_logprob(tokens, "answer 3") is None
    assert helm.continuation_logprob([{"text": "x", "logprob": None}], "x") is None


def test_train_trials_are_averaged_per_instance(tmp_path: Path) -> None:
    entries = [
        stats_entry("a", 0, exact_match=1.0),
        stats_entry("a", 1, exact_match=0.0),
        stats_entry("b", 0, exact_match=1.0),
    ]
    run = write_run(tmp_path / "r", "toy:model=org_m", "org/m", "generation", entries, None)
    table = helm.read(run)
    assert dict(zip(table.samples["item"], table.samples["exact_match"], strict=True)) == {"a": 0.5, "b": 1.0}
    assert any("2 train trials" in w for w in table.warnings)


def test_run_without_per_instance_stats_gives_aggregates_from_stats_json(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "run_spec.json").write_text(
        json.dumps({"name": "toy:model=org_m", "adapter_spec": {"model": "org/m"}})
    )
    stats = [
        {"name": {"name": "exact_match", "split": "test"}, "count": 1, "mean": 0.25},
        {"name": {"name": "num_instances", "split": "test"}, "count": 1, "mean": 40},
        {
            "name": {"name": "exact_match", "split": "test", "perturbation": {"name": "robustness"}},
            "mean": 0.1,
        },
    ]
    (folder / "stats.json").write_text(json.dumps(stats))
    table = helm.read(folder)
    assert table.aggregates.select("metric", "value", "n").rows() == [("exact_match", 0.25, 40)]


# ---------------------------------------------------------------------------------------------- bad runs


def test_bad_runs_give_one_line_and_a_suite_loads_the_good_ones(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    good = write_run(
        suite / "good", "toy:model=org_m", "org/m", "generation", [stats_entry("a", 0, exact_match=1.0)], None
    )
    cut = write_run(
        suite / "cut", "toy:model=org_n", "org/n", "generation", [stats_entry("a", 0, exact_match=1.0)], None
    )
    (cut / "per_instance_stats.json").write_text('[{"instance_id": "a", "stats": [')
    empty = suite / "empty"
    empty.mkdir()
    (empty / "run_spec.json").write_text(
        json.dumps({"name": "toy:model=org_o", "adapter_spec": {"model": "org/o"}})
    )
    one_line_error(r"cut/per_instance_stats\.json: not valid JSON", helm.read, cut)
    one_line_error(r"empty: neither per_instance_stats\.json nor stats\.json", helm.read, empty)
    table = load([suite], LoadOptions())
    assert set(table.samples["model"]) == {"org/m"}
    bad = skipped(table)
    assert len(bad) == 2 and any("cut" in w for w in bad) and any("empty" in w for w in bad)
    assert good.exists()


def test_bad_scenario_state_names_the_file(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "r", "toy:model=org_m", "org/m", "generation", [stats_entry("a", 0, exact_match=1.0)], []
    )
    (run / "scenario_state.json").write_text("{}")
    one_line_error(r"scenario_state\.json: no request_states list", helm.read, run)
