"""Format readers on the real public files in ../shared/data, checked against values read from them."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import polars as pl
import pytest

from analysis.formats import lm_eval, lm_eval_old, wide
from analysis.options import LoadOptions

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not DATA.exists(), reason=f"real public data not found at {DATA} (shared/ beside the repo)"
)
PYTHIA_TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens, per pythia/SOURCE.md


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def one(frame: pl.DataFrame, column: str = "value", **where: object) -> object:
    found = frame.filter(*(pl.col(k) == v for k, v in where.items()))
    assert found.height == 1, (where, found)
    return found[column].item()


def extract(tarball: Path, target: Path) -> Path:
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target


# ---------------------------------------------------------------------------------------------- lm-eval 0.4


def test_tinygpt_output_folder_matches_results_and_samples() -> None:
    folder = DATA / "lm_eval_04_tinygpt"
    table = lm_eval.read(folder, LoadOptions())
    sizes = {r["model"]: (float(r["params"]), float(r["tokens"])) for r in rows(folder / "models.csv")}
    samples = table.samples
    assert set(samples["model"]) == set(sizes)
    assert set(samples["task"]) == {"add3b", "add3b_mc"}
    assert samples.group_by("model", "task").len()["len"].to_list() == [400] * 10
    for results_file in folder.glob("*/results_*.json"):
        raw = json.loads(results_file.read_text())
        model = raw["model_name"]
        mine = samples.filter(pl.col("model") == model)
        assert mine["params"].unique().to_list() == [sizes[model][0]]
        assert mine["tokens"].unique().to_list() == [sizes[model][1]]
        em = mine.filter(pl.col("task") == "add3b")["exact_match"].mean()
        acc = mine.filter(pl.col("task") == "add3b_mc")["acc"].mean()
        assert em == pytest.approx(raw["results"]["add3b"]["exact_match,none"])
        assert acc == pytest.approx(raw["results"]["add3b_mc"]["acc,none"])
    assert table.aggregates.is_empty()  # every aggregate is covered by per-sample rows
    assert not table.warnings


def test_tinygpt_sample_records_are_read_verbatim() -> None:
    folder = DATA / "lm_eval_04_tinygpt" / "tinygpt-3792"
    table = lm_eval.read(folder, LoadOptions())
    mc_file = next(folder.glob("samples_add3b_mc_*.jsonl"))
    gen_file = next(folder.glob("samples_add3b_2*.jsonl"))
    for line in mc_file.read_text().splitlines()[:5]:
        record = json.loads(line)
        row = table.samples.filter(pl.col("task") == "add3b_mc", pl.col("item") == str(record["doc_id"]))
        assert row["choice_logliks"].item().to_list() == [float(x[0]) for x in record["filtered_resps"]]
        assert row["correct_choice"].item() == record["doc"]["gold"] == int(record["target"])
        assert row["acc"].item() == record["acc"]
    for line in gen_file.read_text().splitlines()[:5]:
        record = json.loads(line)
        row = table.samples.filter(pl.col("task") == "add3b", pl.col("item") == str(record["doc_id"]))
        assert row["target"].item() == record["target"]
        assert row["prediction"].item() == record["filtered_resps"][0]
        assert row["exact_match"].item() == record["exact_match"]


def test_gsm8k_example_results_and_trimmed_samples() -> None:
    folder = DATA / "lm_eval_04_examples"
    table = lm_eval.read(folder, LoadOptions())
    assert table.samples.height == 3
    assert table.samples["exact_match[strict-match]"].to_list() == [0.0, 0.0, 0.0]
    assert table.samples["prediction"].to_list() == ["[invalid]"] * 3
    assert any("3 records but n-samples says 1319" in w for w in table.warnings)
    flexible = table.aggregates.filter(pl.col("metric") == "exact_match[flexible-extract]")
    assert flexible.select("model", "task", "value", "n").row(0) == ("tinyllama", "gsm8k", 0.0, 1319)
    assert table.aggregates.filter(pl.col("metric") == "exact_match[strict-match]").is_empty()


def test_lm_eval_0492_folder_with_a_short_samples_file() -> None:
    folder = DATA / "lm_eval_0492" / "raw"
    table = lm_eval.read(folder, LoadOptions())
    results = json.loads(next(folder.glob("*/results_*.json")).read_text())
    samples_file = next(folder.glob("*/samples_*.jsonl"))
    records = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert table.samples.height == len(records) == 10
    for record in records[:5]:
        row = table.samples.filter(pl.col("item") == str(record["doc_id"]))
        assert row["exact_match"].item() == float(record["exact_match"])
        assert row["target"].item() == record["target"]
        assert row["prediction"].item() == record["filtered_resps"][0]
    assert table.samples["params"].unique().to_list() == [float(results["config"]["model_num_parameters"])]
    rephrased = one(table.aggregates, task="math_rephrased_full", metric="exact_match")
    assert rephrased == results["results"]["math_rephrased_full"]["exact_match,none"]
    assert one(table.aggregates, "n", task="math_rephrased_full") == 5000  # n-samples effective
    assert any("10 records but n-samples says 5000" in w for w in table.warnings)


# ---------------------------------------------------------------------------------------------- old lm-eval


@pytest.fixture(scope="module")
def pythia(tmp_path_factory: pytest.TempPathFactory):
    root = extract(DATA / "pythia" / "raw" / "pythia-v1-evals.tar.gz", tmp_path_factory.mktemp("pythia"))
    table = lm_eval_old.read(
        root / "evals" / "pythia-v1", LoadOptions(tokens_per_step=PYTHIA_TOKENS_PER_STEP)
    )
    return root, table


def test_pythia_tree_against_raw_json_and_tidy_csv(pythia) -> None:
    root, table = pythia
    agg = table.aggregates
    assert {"pythia", "pythia-deduped", "pythia-1.4b checkpoints", "pythia-70m-deduped checkpoints"} <= set(
        table.families
    )
    raw = json.loads(
        (root / "evals/pythia-v1/pythia-1.4b-deduped/zero-shot/1.4b-deduped_step143000.json").read_text()
    )
    expected = raw["results"]["winogrande"]
    where = {
        "family": "pythia-deduped",
        "model": "pythia-1.4b-deduped",
        "task": "winogrande 0-shot",
        "metric": "acc",
    }
    assert one(agg, **where) == expected["acc"]
    assert one(agg, "stderr", **where) == expected["acc_stderr"]
    assert one(agg, "tokens", **where) == 143000 * PYTHIA_TOKENS_PER_STEP
    # a handful of tidy.csv rows (every 997th), checkpoints included
    tidy = rows(DATA / "pythia" / "tidy.csv")
    for row in tidy[::997]:
        folder = row["source_file"].split("/")[2]  # pythia-1b-bf16 is tidy's pythia-1b
        step = int(row["step"])
        task = f"{row['task']} {row['shots']}-shot"
        model = f"{folder} step{step}"
        got = one(agg, family=f"{folder} checkpoints", model=model, task=task, metric=row["metric"])
        assert got == pytest.approx(float(row["value"]))
        tokens = one(agg, "tokens", model=model, task=task, metric=row["metric"])
        assert tokens == (float(row["tokens_seen"]) if step > 0 else None)  # step 0: no tokens on a log axis


def test_lm_eval_2023_tree_against_tidy_csv(tmp_path: Path) -> None:
    root = extract(DATA / "lm_eval_2023" / "raw" / "lm-eval-harness_results_2023-07-17.tar.gz", tmp_path)
    table = lm_eval_old.read(root / "results", LoadOptions())
    agg = table.aggregates
    assert set(table.families) == {"bloom", "llama", "mpt", "opt", "xglm"}
    assert any("more than one file" in w for w in table.warnings)
    tidy = rows(DATA / "lm_eval_2023" / "tidy.csv")
    key = [(r["model"], r["shots"], r["task"], r["metric"]) for r in tidy]
    unique = [r for r, k in zip(tidy, key, strict=True) if key.count(k) == 1]
    settings: dict[str, set[str]] = {}
    for row in tidy:
        settings.setdefault(row["task"], set()).add(row["shots"])
    for row in unique[::173]:
        several = len(settings[row["task"]]) > 1  # only a task run at several shot settings is renamed
        task = f"{row['task']} {row['shots']}-shot" if several else row["task"]
        got = one(agg, family=row["family"], model=row["model"], task=task, metric=row["metric"])
        assert got == pytest.approx(float(row["value"]))
    assert settings["lambada_openai"] == {"0"}
    assert one(agg, model="opt-125m", task="lambada_openai", metric="ppl") == pytest.approx(26.02103896885129)
    gsm8k = one(agg, model="bloom-560m", task="gsm8k 8-shot", metric="acc")
    assert gsm8k == pytest.approx(0.00530705079605762)


# ---------------------------------------------------------------------------------------------- wide tables

OBS_MAPPING = {
    "Model": "model",
    "Model Family": "family",
    "Model Size (B)": "params",
    "Pretraining Data Size (T)": "tokens",
    "FLOPs (1E21)": "flops",
}
OBS_FACTORS = {"params": 1e9, "tokens": 1e12, "flops": 1e21}


def test_obsscaling_benchmarks_and_emergent_join() -> None:
    options = LoadOptions(mapping=OBS_MAPPING, scale_factors=OBS_FACTORS)
    base_path = DATA / "obsscaling" / "raw" / "base_llm_benchmark_eval.csv"
    base = wide.read(base_path, options)
    emergent_path = DATA / "obsscaling" / "raw" / "base_llm_emergent_capability_eval.csv"
    emergent = wide.read(emergent_path, options)
    joined = wide.join_on_model(emergent.aggregates, base.aggregates)
    raw = rows(base_path)
    for row in raw[::29]:
        for benchmark in ("MMLU", "GSM8K"):
            if row[benchmark]:
                got = one(base.aggregates, model=row["Model"], task=benchmark)
                assert got == pytest.approx(float(row[benchmark]))
        params = one(base.aggregates, "params", model=row["Model"], task="MMLU")
        assert params == pytest.approx(float(row["Model Size (B)"]) * 1e9)
        assert one(base.aggregates, "family", model=row["Model"], task="MMLU") == row["Model Family"]
    sizes = {r["Model"]: r for r in raw}
    for row in rows(emergent_path)[::17]:
        if row["arithmetic_3ds_2_acc"]:
            got = one(joined, model=row["Model"], task="arithmetic_3ds_2")  # metric acc, from the name
            assert got == pytest.approx(float(row["arithmetic_3ds_2_acc"]))
            if row["Model"] in sizes:
                params = one(joined, "params", model=row["Model"], task="arithmetic_3ds_2")
                assert params == pytest.approx(float(sizes[row["Model"]]["Model Size (B)"]) * 1e9)


def test_ukp_per_run_scores_keep_seeds_as_replicates_and_prompts_apart() -> None:
    path = DATA / "ukp_on_emergence" / "raw" / "evaluation_scores.csv"
    mapping = {
        "filename": "task",
        "number_of_data": "n",
        "exact_match_accuracy": "metric",
        "edit_distance": "metric",
        "bert_score_accuracy": "metric",
    }
    table = wide.read(path, LoadOptions(mapping=mapping, null_values=("-100",)))
    agg = table.aggregates
    assert any("differ only in seed are replicates" in w for w in table.warnings)
    raw = [
        r
        for r in rows(path)
        if r["model"] == "gpt2" and r["filename"] == "tracking_shuffled_objects/task.json"
    ]
    for prompt in ("closed", "open"):
        runs = [r for r in raw if r["prompt_type"] == prompt and r["number_of_shots"] == "0"]
        assert len(runs) == 3
        task = f"tracking_shuffled_objects/task.json [{prompt}] 0-shot"
        em = {r["seed"]: float(r["exact_match_accuracy"]) for r in runs}
        kept = agg.filter(
            (pl.col("model") == "gpt2")
            & (pl.col("task") == task)
            & (pl.col("metric") == "exact_match_accuracy")
        )
        assert dict(zip(kept["replicate"], kept["value"], strict=True)) == pytest.approx(em)
        n = agg.filter(
            (pl.col("model") == "gpt2") & (pl.col("task") == task) & (pl.col("metric") == "edit_distance")
        )
        assert n["n"].to_list() == [int(runs[0]["number_of_data"])] * 3
    assert (agg.filter(pl.col("metric") == "bert_score_accuracy")["value"] >= 0).all()  # -100 is not a score


def test_pythia_arithmetic_counts() -> None:
    path = DATA / "pythia_arithmetic" / "tidy.csv"
    options = LoadOptions(
        mapping={"operation": "task", "params_total": "params"}, tokens_per_step=PYTHIA_TOKENS_PER_STEP
    )
    agg = wide.read(path, options).aggregates
    for row in rows(path)[::37]:
        model = f"{row['model']} step{row['step']}"
        task = f"{row['operation']} {row['shots']}-shot"
        got = one(agg, family=f"{row['model']} checkpoints", model=model, task=task)
        assert got == pytest.approx(int(row["n_correct"]) / int(row["n"]))
        assert one(agg, "n", model=model, task=task) == int(row["n"])
        assert one(agg, "params", model=model, task=task) == float(row["params_total"])
