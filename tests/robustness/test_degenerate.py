"""Degenerate analyses say what is wrong instead of inventing numbers.

Too few scales to fit, a constant curve, a zero-denominator emergence score and a metric that a task's columns
do not allow: each gives a refusal with a reason (or the stated convention), through the public functions and
through the whole pipeline and report.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from analysis.emergence import ZERO_DENOMINATOR_CONVENTION, emergence_score
from analysis.fits import fit_law
from analysis.loading import load
from analysis.options import FitSettings, MetricOptions, ResampleSettings
from analysis.pipeline import Pipeline
from analysis.report import report_dict
from tui.cli import main

LAWS = ("power", "saturating", "logistic")
FAST = (MetricOptions(), ResampleSettings(bootstrap=40, seed=1), FitSettings(bootstrap=0))


@pytest.mark.parametrize("law", LAWS)
def test_too_few_scales_refuses_with_the_count(law: str) -> None:
    fit = fit_law(np.array([1e8, 1e9]), np.array([0.2, 0.4]), law)
    assert not fit.ok and fit.params == {} and fit.ci == {}
    assert "needs at least" in fit.message and "got 2" in fit.message
    assert np.isnan(fit.predict(np.array([1e10]))).all()


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("level", [0.0, 0.3, 1.0])
def test_constant_curve_is_refused_not_fitted(law: str, level: float) -> None:
    x = np.logspace(7, 10, 6)
    fit = fit_law(x, np.full(6, level), law)
    assert not fit.ok and fit.params == {}
    assert "constant" in fit.message or "y > 0" in fit.message  # zeros fail the log-space laws first


def test_zero_denominator_emergence_follows_the_stated_convention() -> None:
    assert emergence_score(np.array([0.0, 0.0, 0.0, 0.0, 1.0])) == np.inf  # one jump, flat elsewhere
    assert emergence_score(np.array([1.0, 0.0, 0.0, 0.0, 0.0])) == -np.inf  # the maximum comes first
    assert emergence_score(np.zeros(5)) == 0.0  # a flat curve
    assert np.isnan(emergence_score(np.array([0.5])))  # one scale: no score
    assert "+inf" in ZERO_DENOMINATOR_CONVENTION and "0.0 for a flat curve" in ZERO_DENOMINATOR_CONVENTION


def _mixed_tasks(tmp_path) -> pl.DataFrame:
    """A generation task that jumps at the last model and a 2-choice task stuck at 0 correct."""
    rows = [
        {
            "model": f"m{j}",
            "task": "gen",
            "params": 10.0 ** (7 + j),
            "item": str(i),
            "target": "a",
            "prediction": "a" if j == 4 and i < 3 else "b",
            "choice_logliks": None,
            "correct_choice": None,
        }
        for j in range(5)
        for i in range(10)
    ] + [
        {
            "model": f"m{j}",
            "task": "mc",
            "params": 10.0 ** (7 + j),
            "item": str(i),
            "target": None,
            "prediction": None,
            "choice_logliks": json.dumps([-2.0 - j, -1.0]),
            "correct_choice": "0",
        }
        for j in range(5)
        for i in range(10)
    ]
    path = tmp_path / "mixed.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


def test_pipeline_refuses_what_it_cannot_compute(tmp_path) -> None:
    analysis = Pipeline(load([_mixed_tasks(tmp_path)])).run(*FAST)
    skipped = dict(analysis.scored.skipped)
    assert "target_logprobs" in skipped["token_loss"]  # a metric the columns do not allow says why
    points = analysis.points.frame
    pairs = set(zip(points["task"], points["metric"], strict=True))
    assert ("gen", "mc_grade") not in pairs and ("mc", "exact_match") not in pairs  # nothing invented
    grade = points.filter((pl.col("task") == "mc") & (pl.col("metric") == "mc_grade"))
    assert grade["value"].to_list() == [0.0] * 5 and (grade["binom_hi"] > 0).all()  # 0 of n is not "zero"
    fits = {(f["task"], f["metric"]): f for f in analysis.fits.to_records()}
    assert not fits[("mc", "mc_grade")]["ok"] and "constant" in fits[("mc", "mc_grade")]["message"]
    report = report_dict(analysis, strict=True)
    scores = {(e["task"], e["metric"]): e["score"] for e in report["emergence"]}
    assert scores[("gen", "exact_match")] is None  # +inf under the convention, null in strict JSON ...
    assert ZERO_DENOMINATOR_CONVENTION in report["notes"]  # ... and the convention is stated
    assert any("non-finite" in note for note in report["notes"])
    assert scores[("mc", "mc_grade")] == 0.0


def test_one_model_gets_no_score_and_no_fit(tmp_path, capsys) -> None:
    path = tmp_path / "one.csv"
    path.write_text("model,task,metric,params,value\nsolo,t,acc,1e9,0.4\n")
    code = main(["report", str(path), "--format", "json", "--bootstrap", "20"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["emergence"][0]["score"] is None and report["emergence"][0]["n_models"] == 1
    assert [f["ok"] for f in report["fits"]] == [False] and "needs at least" in report["fits"][0]["message"]
