"""lm-eval output made by the real harness (lm-eval 0.4.13, its ``dummy`` model, tasks on a local JSON Lines
file, no download) at three "sizes" given by a sizes file, read back and checked against the raw files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from analysis.formats import lm_eval
from analysis.loading import load
from analysis.options import LoadOptions

MODELS = {"toy-1m": 1e6, "toy-10m": 1e7, "toy-100m": 1e8}

TASK_MC = """
task: toy_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: gold
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""

TASK_GEN = """
task: toy_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n"]
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
filter_list:
  - name: strict
    filter:
      - function: take_first
  - name: loose
    filter:
      - function: regex
        regex_pattern: "(\\\\d+)"
      - function: take_first
"""

RUN = textwrap.dedent(
    """
    import sys
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    tasks_dir, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    manager = TaskManager(include_path=tasks_dir)
    for seed, name in enumerate(names):
        tracker = EvaluationTracker(output_path=out)
        results = lm_eval.simple_evaluate(
            model="dummy", model_args=f"pretrained={name}", tasks=["toy_mc", "toy_gen"], task_manager=manager,
            log_samples=True, evaluation_tracker=tracker, random_seed=seed, numpy_random_seed=seed,
        )
        samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=samples)
        for task in results["configs"]:
            tracker.save_results_samples(task_name=task, samples=samples[task])
    """
)


# the tests of harness_output share an xdist group: the harness run (a subprocess, the suite's slowest
# setup) once, on one worker
SHARED_HARNESS_OUTPUT = pytest.mark.xdist_group("lm_eval_harness")


@pytest.fixture(scope="module")
def harness_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("lm_eval")
    root = tmp_path_factory.mktemp("lm_eval_harness")
    tasks = root / "tasks"
    tasks.mkdir()
    data = tasks / "data.jsonl"
    rows = [
        {
            "question": f"What is {i}+{i}?",
            "answer": str(2 * i),
            "choices": [str(2 * i), str(2 * i + 1)],
            "gold": i % 2,
        }
        for i in range(1, 9)
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tasks / "toy_mc.yaml").write_text(TASK_MC.format(data=data))
    (tasks / "toy_gen.yaml").write_text(TASK_GEN.format(data=data))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(tasks), str(root / "out"), *MODELS],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (root / "sizes.csv").write_text("model,params\n" + "".join(f"{m},{p}\n" for m, p in MODELS.items()))
    return root


@SHARED_HARNESS_OUTPUT
def test_real_harness_output_matches_its_raw_files(harness_output: Path) -> None:
    out = harness_output / "out"
    table = load([out], LoadOptions(sizes_file=str(harness_output / "sizes.csv")))
    samples = table.samples
    assert dict(samples.group_by("model").agg(pl.col("params").first()).iter_rows()) == MODELS
    for results_file in out.glob("*/results_*.json"):
        raw = json.loads(results_file.read_text())
        model = raw["model_name"]
        assert raw["results"]["toy_mc"]["sample_len"] == 8  # the 0.4.12+ results layout
        mine = samples.filter(pl.col("model") == model)
        mc = mine.filter(pl.col("task") == "toy_mc")
        assert mc["acc"].mean() == pytest.approx(raw["results"]["toy_mc"]["acc,none"])
        gen = mine.filter(pl.col("task") == "toy_gen")
        for filter_name in ("strict", "loose"):
            expected = raw["results"]["toy_gen"][f"exact_match,{filter_name}"]
            assert gen[f"exact_match[{filter_name}]"].mean() == pytest.approx(expected)
        stamp = results_file.stem.removeprefix("results_")
        for line in (results_file.parent / f"samples_toy_mc_{stamp}.jsonl").read_text().splitlines()[:3]:
            record = json.loads(line)
            row = mc.filter(pl.col("item") == str(record["doc_id"]))
            assert row["choice_logliks"].item().to_list() == [float(x[0]) for x in record["filtered_resps"]]
            assert row["correct_choice"].item() == int(record["target"])
            assert row["acc"].item() == record["acc"]
    assert table.aggregates.is_empty()  # every results metric is covered by per-sample rows
    assert samples.filter(pl.col("task") == "toy_gen")["prediction"].unique().to_list() == ["lol"]


@SHARED_HARNESS_OUTPUT
def test_real_harness_folder_reports(harness_output: Path) -> None:
    from tui.cli import main

    args = ["report", str(harness_output / "out"), "--sizes", str(harness_output / "sizes.csv")]
    assert main([*args, "--bootstrap", "0", "--task", "toy_mc", "--metric", "acc"]) == 0
    assert lm_eval.sniff(harness_output / "out")
