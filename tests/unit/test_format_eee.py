"""Every Eval Ever: reading aggregate and instance-level files (shaped like the EEE repository's own examples)
and ``report --format eee``, checked against the schema the package ships (vendored in tests/fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.formats import eee
from analysis.loading import load
from analysis.options import LoadOptions
from tests.conftest import REPO_ROOT
from tests.format_helpers import one_line_error, skipped

SCHEMAS = REPO_ROOT / "tests" / "fixtures" / "formats" / "eee"
UUID = "f3a1c0de-4b2e-4c1a-9f6d-1b7e5a2c8d40"


def aggregate(model: str, results: list[tuple[str, str, float]], details: dict | None = None) -> dict:
    """An EvaluationLog like the EEE repository's demo conversion (schema 0.3.0)."""
    return {
        "schema_version": "0.3.0",
        "evaluation_id": f"demo/{model}/1750000000",
        "retrieved_timestamp": "1750000001",
        "source_metadata": {
            "source_type": "evaluation_run",
            "source_organization_name": "demo",
            "evaluator_relationship": "third_party",
        },
        "eval_library": {"name": "lm_eval", "version": "0.4.13"},
        "model_info": {
            "name": model.split("/")[-1],
            "id": model,
            "additional_details": {
                "deployment_type": "unknown",
                "model_availability": "open_weights",
                **(details or {}),
            },
        },
        "evaluation_results": [
            {
                "evaluation_result_id": f"{task}/{metric}",
                "evaluation_name": task,
                "source_data": {"dataset_name": task, "source_type": "other"},
                "metric_config": {"metric_id": metric, "metric_name": metric, "lower_is_better": False},
                "score_details": {
                    "score": score,
                    "uncertainty": {"standard_error": {"value": 0.05}, "num_samples": 4},
                },
            }
            for task, metric, score in results
        ],
    }


def instance(
    model: str, task: str, metric: str, sample: str, score: float, answer: str, reference: str
) -> dict:
    return {
        "schema_version": "0.3.0",
        "evaluation_id": f"demo/{model}/1750000000",
        "model_id": model,
        "evaluation_name": task,
        "evaluation_result_id": f"{task}/{metric}",
        "sample_id": sample,
        "interaction_type": "single_turn",
        "input": {"raw": "What is 2 + 2?", "reference": [reference]},
        "output": {"raw": [f"The answer is {answer}."]},
        "answer_attribution": [
            {
                "turn_idx": 0,
                "source": "output.raw",
                "extracted_value": answer,
                "extraction_method": "match",
                "is_terminal": True,
            }
        ],
        "evaluation": {"score": score, "is_correct": score == 1.0},
    }


def write_pair(folder: Path, log: dict, instances: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{UUID}.json"
    path.write_text(json.dumps(log, indent=2))
    if instances:
        (folder / f"{UUID}{eee.SAMPLES_SUFFIX}").write_text("".join(json.dumps(r) + "\n" for r in instances))
    return path


def test_aggregate_and_instance_files_of_one_model(tmp_path: Path) -> None:
    model = "demo-org/demo-1b"
    log = aggregate(
        model, [("arith", "accuracy", 0.75), ("arith", "f1", 0.5)], {"num_parameters": "1100000000"}
    )
    answers = [("s1", 1.0, "4", "4"), ("s2", 1.0, "6", "6"), ("s3", 0.0, "9", "8"), ("s4", 1.0, "2", "2")]
    rows = [instance(model, "arith", "accuracy", s, v, a, r) for s, v, a, r in answers]
    path = write_pair(tmp_path / "data" / "demo" / "demo-org" / "demo-1b", log, rows)
    jsonschema = pytest.importorskip("jsonschema")  # the fixtures are valid EEE records
    jsonschema.validate(log, json.loads((SCHEMAS / "eval.schema.json").read_text()))
    for row in rows:
        jsonschema.validate(row, json.loads((SCHEMAS / "instance_level_eval.schema.json").read_text()))
    assert (
        eee.sniff(path) and eee.sniff(path.with_name(f"{UUID}{eee.SAMPLES_SUFFIX}")) and eee.sniff(tmp_path)
    )
    table = eee.read(path)
    samples = table.samples.sort("item")
    assert samples["accuracy"].to_list() == [1.0, 1.0, 0.0, 1.0]
    assert samples["target"].to_list() == ["4", "6", "8", "2"]
    assert samples["prediction"].to_list() == ["4", "6", "9", "2"]
    assert samples["params"].unique().to_list() == [1.1e9]
    assert table.prescored == ("accuracy",)
    # accuracy comes from the instances (its mean 0.75 matches); f1 has no instances and stays an aggregate
    assert table.aggregates.select("task", "metric", "value", "stderr", "n").rows() == [
        ("arith", "f1", 0.5, 0.05, 4)
    ]
    assert not table.warnings
    assert load([tmp_path], LoadOptions()).samples.height == 4  # the datastore folder too


def test_open_llm_leaderboard_style_file_with_params_in_billions(tmp_path: Path) -> None:
    log = aggregate(
        "TencentARC/LLaMA-Pro-8B-Instruct", [("IFEval", "accuracy", 0.4486), ("BBH", "accuracy", 0.4224)]
    )
    log["schema_version"] = "0.2.0"
    log["model_info"]["additional_details"] = {"precision": "bfloat16", "params_billions": 8.357}
    path = tmp_path / "98ea850e.json"
    path.write_text(json.dumps(log))
    table = eee.read(path)
    assert table.aggregates.sort("task").select("task", "value", "params").rows() == [
        ("BBH", 0.4224, pytest.approx(8.357e9)),
        ("IFEval", 0.4486, pytest.approx(8.357e9)),
    ]


def test_instance_mean_that_disagrees_with_the_aggregate_is_reported(tmp_path: Path) -> None:
    model = "m"
    rows = [instance(model, "t", "accuracy", f"s{i}", 1.0, "a", "a") for i in range(2)]
    write_pair(tmp_path, aggregate(model, [("t", "accuracy", 0.5)]), rows)
    table = eee.read(tmp_path / f"{UUID}.json")
    assert any("differs from the aggregate 0.5" in w for w in table.warnings)
    assert table.aggregates.is_empty()


# ---------------------------------------------------------------------------------------------- writing


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from tui.cli import main

    folder = tmp_path_factory.mktemp("eee_out")
    source = folder / "points.csv"
    rows = ["model,params,task,item,em,dist"]
    for model, params, right in (("m-1m", 1e6, 1), ("m-10m", 1e7, 3), ("m-100m", 1e8, 5)):
        rows += [f"{model},{params},t,{i},{float(i < right)},{5 - min(i, right)}" for i in range(6)]
    source.write_text("\n".join(rows) + "\n")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["report", str(source), "--format", "eee", "--bootstrap", "100", "--metric", "em"]) == 0
    return source, buffer.getvalue()


def test_report_format_eee_validates_against_the_schema(written: tuple[Path, str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "eval.schema.json").read_text())
    lines = written[1].splitlines()
    assert len(lines) == 3  # one aggregate log per family x model
    for line in lines:
        jsonschema.validate(json.loads(line), schema)
    first = json.loads(lines[0])
    result = next(r for r in first["evaluation_results"] if r["metric_config"]["metric_id"] == "em")
    uncertainty = result["score_details"]["uncertainty"]
    assert uncertainty["confidence_interval"]["confidence_level"] == 0.95
    assert uncertainty["num_samples"] == 6 and uncertainty["num_bootstrap_samples"] == 100
    assert result["metric_config"]["min_score"] == 0.0 and result["metric_config"]["max_score"] == 1.0


def test_written_points_read_back_as_the_same_points(written: tuple[Path, str], tmp_path: Path) -> None:
    source, text = written
    path = tmp_path / "points.eee.jsonl"
    path.write_text(text)
    back = load([path], LoadOptions()).aggregates
    original = pl.read_csv(source).group_by("model").agg(pl.col("em").mean(), pl.col("params").first())
    for model, em, params in original.iter_rows():
        row = back.filter(pl.col("model") == model, pl.col("metric") == "em")
        assert row["value"].item() == pytest.approx(em)
        assert row["params"].item() == params
        assert row["n"].item() == 6
        assert row["family"].item() == "default"


# ---------------------------------------------------------------------------------------------- bad files


def test_bad_files_give_one_line_and_a_folder_loads_the_good_ones(tmp_path: Path) -> None:
    good = write_pair(tmp_path / "good", aggregate("m/a", [("t", "accuracy", 0.5)]), [])
    bad_score = aggregate("m/b", [("t", "accuracy", 0.5)])
    bad_score["evaluation_results"][0]["score_details"]["score"] = "high"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "score.json").write_text(json.dumps(bad_score))
    (tmp_path / "bad" / "cut.json").write_text(json.dumps(bad_score)[:200].replace('"high"', "0.5"))
    score_error = r"score\.json: log evaluation_results\[0\]: score_details\.score is not a number"
    one_line_error(score_error, eee.read, tmp_path / "bad" / "score.json")
    one_line_error(r"cut\.json: not valid JSON", eee.read, tmp_path / "bad" / "cut.json")
    table = load([tmp_path], LoadOptions())
    assert table.aggregates["model"].to_list() == ["m/a"]
    bad = skipped(table)
    assert len(bad) == 2 and any("score.json" in w for w in bad) and any("cut.json" in w for w in bad)
    assert good.exists()
