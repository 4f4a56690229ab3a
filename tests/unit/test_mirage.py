"""The mirage check pairs metrics from the same outputs and says in words whether a jump survives."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.emergence import score_emergence
from analysis.metrics import partners
from analysis.mirage import EMERGENT_RULE, emergence_status, mirage_check, verdict
from analysis.schema import MetricSpec, PointSet


def mirage_points(length: int, family: str = "sim", task: str = "arith") -> list[dict]:
    """SCIENCE.md section 2 (c = 1e9, alpha = -0.4, 12 sizes 1e6..1e12): exact match and TED on one task."""
    sizes = np.logspace(6, 12, 12)
    p = np.exp(-((sizes / 1e9) ** -0.4))
    curves = {
        "exact_match": (p**length, 1, "discontinuous"),
        "token_edit_distance": (length * (1.0 - p), -1, "continuous"),  # a distance: lower is better
    }
    return [
        {
            "family": family,
            "model": f"m{i}",
            "task": task,
            "metric": metric,
            "params": float(n),
            "value": float(v),
            "direction": direction,
            "kind": kind,
        }
        for metric, (values, direction, kind) in curves.items()
        for i, (n, v) in enumerate(zip(sizes, values, strict=True))
    ]


def emergence_frame(rows: list[dict]) -> pl.DataFrame:
    return score_emergence(PointSet(frame=pl.DataFrame(rows)), permutations=100)


def test_status_thresholds_are_relative_to_a_straight_line():
    assert emergence_status(11.0, None, 12) == "smooth"  # a line of 12 points scores exactly 11
    assert emergence_status(22.0, None, 12) == "emergent"
    assert emergence_status(22.0, 12.0, 12) == "emergent"
    assert emergence_status(22.0, 10.0, 12) == "inconclusive"  # CI reaches a line's score
    assert emergence_status(float("inf"), None, 5) == "emergent"
    assert emergence_status(-30.0, None, 12) == "sharp drop"
    assert emergence_status(5.0, None, 2) == "too few models"
    assert emergence_status(None, None, 9) == "too few models"
    assert "2 (M - 1)" in EMERGENT_RULE


def test_mirage_model_long_target_is_a_metric_artefact():
    result = mirage_check(emergence_frame(mirage_points(length=5)))
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["discontinuous"], row["continuous"]) == ("exact_match", "token_edit_distance")
    assert row["score_discontinuous"] > 3 * row["score_continuous"]
    assert row["status_discontinuous"] == "emergent" and row["status_continuous"] == "smooth"
    assert row["mirage"] is True and row["partner_source"] == "declared"
    assert row["verdict"].startswith("emergent under exact_match, smooth under token_edit_distance")


def test_mirage_model_one_token_is_smooth_under_both():
    row = mirage_check(emergence_frame(mirage_points(length=1))).row(0, named=True)
    assert row["score_discontinuous"] == pytest.approx(row["score_continuous"], rel=1e-9)
    assert row["verdict"] == "smooth under both exact_match and token_edit_distance"
    assert row["mirage"] is False


def test_families_are_checked_separately():
    rows = mirage_points(5, family="a") + mirage_points(1, family="b")
    result = mirage_check(emergence_frame(rows))
    assert result.sort("family")["mirage"].to_list() == [True, False]


def test_undeclared_pairs_fall_back_to_continuous_metrics_of_the_task():
    rows = [
        {"family": "f", "model": f"m{i}", "task": "lambada", "metric": metric, "params": 10.0 ** (7 + i)}
        | {"value": v, "direction": d}
        for metric, values, d in (("acc", [0.1, 0.1, 0.1, 0.6, 0.7], 1), ("ppl", [90, 40, 20, 10, 6], -1))
        for i, v in enumerate(values)
    ]
    specs = {"acc": MetricSpec("acc", 1, "discontinuous"), "ppl": MetricSpec("ppl", -1, "continuous")}
    frame = emergence_frame(rows).drop("kind")  # kinds come from the specs
    row = mirage_check(frame, specs).row(0, named=True)
    assert (row["discontinuous"], row["continuous"], row["partner_source"]) == ("acc", "ppl", "same task")
    assert row["score_discontinuous"] == pytest.approx(0.6 / np.sqrt(0.005))  # 8.49 >= 2 x (5 - 1)
    assert row["status_discontinuous"] == "emergent"


def test_tasks_without_a_pair_give_no_row():
    rows = [r for r in mirage_points(5) if r["metric"] == "exact_match"]
    result = mirage_check(emergence_frame(rows))
    assert result.height == 0
    assert "verdict" in result.columns


def test_declared_partners_and_verdict_words():
    assert partners("exact_match")[0] == "token_edit_distance"
    assert set(partners("mc_grade")) == {"brier", "choice_prob"}
    assert partners("token_loss") == ()
    assert verdict("mc_grade", "emergent", "brier", "emergent") == (
        "emergent under both mc_grade and brier: the jump survives a continuous metric"
    )
    assert verdict("mc_grade", "smooth", "brier", "emergent") == "smooth under mc_grade, emergent under brier"
