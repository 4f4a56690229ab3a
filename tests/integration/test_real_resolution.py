"""Items needed, adjacent steps and the resolution sweep on the real tinygpt lm-eval folder.

Five tiny GPTs on 3-digit addition (``../shared/data/lm_eval_04_tinygpt``, 400 items per task): exact match 6,
11, 177, 395 and 400 of 400; the 4-way choice grade 189, 225, 370, 398 and 400 of 400.
"""

from __future__ import annotations

import itertools

import pytest
from scipy import stats

from analysis.loading import load
from analysis.options import MetricOptions, ResampleSettings, SweepSettings
from analysis.pipeline import Pipeline
from tests.conftest import SHARED_DATA, needs_shared_data

pytestmark = needs_shared_data

SIZES = ("tinygpt-3792", "tinygpt-10760", "tinygpt-15216", "tinygpt-26432", "tinygpt-995456")


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(load([SHARED_DATA / "lm_eval_04_tinygpt"]))


def test_steps_of_exact_match_and_the_choice_grade(pipeline: Pipeline) -> None:
    """McNemar on the items both models answered. Exact match: 10 items only 10760 gets right against 5 only
    3792 does (p 0.30, tied); then 170 to 4 and 218 to 0 (resolved); the last step is 5 to 0, p = 2 / 2^5 =
    0.0625: not resolved at 5% although Newcombe's interval [0.0006, 0.029] just excludes 0 (the exact test
    is conservative). Items at 80% power for the observed differences: 1,882, 18, 12 and 626."""
    resolution = pipeline.resolution(MetricOptions(), ResampleSettings(bootstrap=200), "params")
    steps = resolution.steps

    def of(task: str, metric: str) -> list[dict]:
        return [s for s in steps.iter_rows(named=True) if (s["task"], s["metric"]) == (task, metric)]

    em = of("add3b", "exact_match")
    assert [(s["lower"], s["upper"]) for s in em] == list(itertools.pairwise(SIZES))
    assert [(s["discordant_up"], s["discordant_down"], s["n"]) for s in em] == [
        (10, 5, 400), (170, 4, 400), (218, 0, 400), (5, 0, 400),
    ]  # fmt: skip
    assert [s["difference"] for s in em] == pytest.approx([0.0125, 0.415, 0.545, 0.0125])
    assert (
        em[0]["p_value"] == pytest.approx(stats.binomtest(10, 15).pvalue) == pytest.approx(0.30176, abs=1e-5)
    )
    assert em[3]["p_value"] == pytest.approx(0.0625)
    assert [s["resolved"] for s in em] == [False, True, True, False]
    assert [s["change"] for s in em] == ["tie", "better", "better", "tie"]
    assert (round(em[3]["lo"], 4), round(em[3]["hi"], 4)) == (0.0006, 0.0289)
    assert [s["items_needed"] for s in em] == [1882, 18, 12, 626]
    assert em[0]["detectable"] == pytest.approx(0.0270, abs=1e-4)

    grade = of("add3b_mc", "mc_grade")
    assert [(s["discordant_up"], s["discordant_down"]) for s in grade] == [
        (93, 57),
        (153, 8),
        (30, 2),
        (2, 0),
    ]
    assert [s["resolved"] for s in grade] == [True, True, True, False]
    assert (
        grade[0]["p_value"]
        == pytest.approx(stats.binomtest(57, 150).pvalue)
        == pytest.approx(0.0041, abs=1e-4)
    )
    assert [s["items_needed"] for s in grade] == [362, 22, 126, 1568]

    ted = of("add3b", "token_edit_distance")
    assert {s["test"] for s in ted} == {"paired bootstrap"} and all(s["resolved"] for s in ted)

    groups = {(g["task"], g["metric"]): g["groups"] for g in resolution.groups.iter_rows(named=True)}
    assert groups[("add3b", "exact_match")] == (
        "tinygpt-3792, tinygpt-10760 | tinygpt-15216 | tinygpt-26432, tinygpt-995456"
    )
    assert groups[("add3b_mc", "mc_grade")] == (
        "tinygpt-3792 | tinygpt-10760 | tinygpt-15216 | tinygpt-26432, tinygpt-995456"
    )


def test_items_needed_per_point(pipeline: Pipeline) -> None:
    """From the floor 0 at 95%: ceil(log 0.05 / log(1 - v)), 199 items at 6 of 400 (the rule of three's
    3 / 0.015 = 200); the choice grade from chance 0.25 by the exact search."""
    items = pipeline.points(MetricOptions(), ResampleSettings(bootstrap=200)).frame

    def of(task: str, metric: str) -> list[int | None]:
        rows = items.filter((items["task"] == task) & (items["metric"] == metric))
        return [dict(zip(rows["model"], rows["items_to_resolve"], strict=True))[m] for m in SIZES]

    assert of("add3b", "exact_match") == [199, 108, 6, 1, 1]
    assert of("add3b_mc", "mc_grade") == [62, 35, 7, 3, 3]


def test_the_sweep_ends_at_the_reports_own_statuses(pipeline: Pipeline) -> None:
    resample = ResampleSettings(bootstrap=200)
    sweep = pipeline.resolution_sweep(
        MetricOptions(), resample, "params", SweepSettings(repeats=2, bootstrap=100)
    )
    assert sweep.sizes == (50, 67, 91, 122, 164, 221, 297, 400) and sweep.full_n == 400
    scores, _ = pipeline.emergence(MetricOptions(), resample, "params")
    full = sweep.curves.filter(sweep.curves["n_items"] == 400).sort("task", "metric")
    assert full["status"].to_list() == scores.sort("task", "metric")["status"].to_list()
    summary = {(r["task"], r["metric"]): r for r in sweep.summary.iter_rows(named=True)}
    assert summary[("add3b", "exact_match")]["status_full"] == "jump"
    assert summary[("add3b", "exact_match")]["category_full"] == "survives"
