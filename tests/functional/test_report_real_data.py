"""Every real file set in ../shared/data opens in `report`, and the numbers that come out are the files'."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, needs_shared_data
from tui.cli import main

FAST = ["--bootstrap", "0", "--fit-bootstrap", "0", "--format", "json"]
WIDE_UKP = ["--format-in", "wide", "--map", "filename=task", "--map", "number_of_data=n",
            "--map", "exact_match_accuracy=metric", "--map", "edit_distance=metric",
            "--map", "bert_score_accuracy=metric", "--null-value", "-100"]  # fmt: skip
WIDE_ARITHMETIC = ["--format-in", "wide", "--map", "operation=task", "--map", "params_total=params",
                   "--tokens-per-step", "2097152"]  # fmt: skip

pytestmark = needs_shared_data


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main(["report", *argv, *FAST])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def point(report_json: dict, **where: object) -> dict:
    (found,) = [p for p in report_json["points"] if all(p[k] == v for k, v in where.items())]
    return found


def test_tinygpt_lm_eval_folder(capsys: pytest.CaptureFixture[str]) -> None:
    folder = SHARED_DATA / "lm_eval_04_tinygpt"
    out = report(capsys, str(folder))
    results = json.loads(next((folder / "tinygpt-3792").glob("results_*.json")).read_text())
    em = point(out, model="tinygpt-3792", task="add3b", metric="exact_match")
    assert em["value"] == pytest.approx(results["results"]["add3b"]["exact_match,none"])
    assert em["params"] == 3792.0 and em["n"] == 400
    grade = point(out, model="tinygpt-3792", task="add3b_mc", metric="mc_grade")
    assert grade["value"] == pytest.approx(results["results"]["add3b_mc"]["acc,none"])


def test_lm_eval_2023_tarball(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with tarfile.open(
        SHARED_DATA / "lm_eval_2023" / "raw" / "lm-eval-harness_results_2023-07-17.tar.gz"
    ) as tar:
        tar.extractall(tmp_path, filter="data")
    out = report(capsys, str(tmp_path), "--params-from-name")  # the files state no sizes
    raw_files = sorted(tmp_path.rglob("*.json"))
    raw = next(
        json.loads(f.read_text()) for f in raw_files if "opt-125m" in str(f) and "piqa" in f.read_text()
    )
    expected = raw["results"]["piqa"]["acc"]
    values = [p["value"] for p in out["points"] if p["task"].startswith("piqa") and p["metric"] == "acc"
              and "125m" in p["model"].lower()]  # fmt: skip
    assert expected in values


def test_ukp_wide_per_run_table(capsys: pytest.CaptureFixture[str]) -> None:
    raw = SHARED_DATA / "ukp_on_emergence" / "raw" / "evaluation_scores.csv"
    out = report(capsys, str(raw), *WIDE_UKP, "--params-from-name")  # falcon-7b, models--llama/13B, ...
    metrics = {p["metric"] for p in out["points"]}
    assert {"exact_match_accuracy", "edit_distance", "bert_score_accuracy"} <= metrics
    assert any("seed" in w or "averag" in w for w in out["warnings"])


def test_pythia_arithmetic_counts(capsys: pytest.CaptureFixture[str]) -> None:
    out = report(capsys, str(SHARED_DATA / "pythia_arithmetic" / "tidy.csv"), *WIDE_ARITHMETIC)
    assert all(p["n"] == 5000 for p in out["points"])
    assert all(0.0 <= p["value"] <= 1.0 for p in out["points"])
