"""The presenters in tui/views, one section per module, on a small hand-made analysis with known numbers.

The analysis: family ``fam`` (and ``other`` for filters), task ``add`` with exact_match (jumps) and two
continuous partners, four models at 1e7..1e10 params; the jump is smooth under edit_distance (a mirage) and
survives token_loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pytest

from analysis.fits import FitResult
from analysis.formatting import interval as fmt_ci
from analysis.formatting import number as fmt
from tui.state import ViewSettings
from tui.views.contents import available_axes, backtest_for, families, frame_of, metrics_for
from tui.views.lab import LabParams, lab_plots, step_param
from tui.views.mirage import MiragePair, mirage_pairs
from tui.views.overview import OVERVIEW_COLUMNS, overview_frame
from tui.views.task import fit_summary, task_plot, task_points, verdicts_for

SCALES = (1e7, 1e8, 1e9, 1e10)
EXACT = (0.0, 0.01, 0.2, 0.9)


@dataclass(frozen=True)
class Points:
    frame: pl.DataFrame


@dataclass(frozen=True)
class Fits:
    frame: pl.DataFrame
    results: dict = field(default_factory=dict)
    backtests: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    points: Points
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    fits: Fits | None = None


@dataclass(frozen=True)
class Held:
    """A backtest as the views read it: the held-out scales and the fit without them."""

    x: tuple[float, ...]
    fit: FitResult


@dataclass(frozen=True)
class Line(FitResult):
    """A fit whose curve is y = x / 1e10 (easy to check on the plot)."""

    def predict(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(x, dtype=float) / 1e10


def point_rows(family: str, metric: str, values: tuple[float, ...], kind: str, direction: int) -> list[dict]:
    return [
        {"family": family, "model": f"{family}-{i}", "task": "add", "metric": metric, "params": scale,
         "tokens": None, "value": value, "lo": value - 0.01, "hi": value + 0.01, "n": 100, "chance": 0.0,
         "kind": kind, "direction": direction}
        for i, (scale, value) in enumerate(zip(SCALES, values, strict=True))
    ]  # fmt: skip


def make_analysis(fits: Fits | None = None) -> Analysis:
    rows = point_rows("fam", "exact_match", EXACT, "discontinuous", 1)
    rows += point_rows("fam", "edit_distance", (4.0, 3.0, 2.0, 1.0), "continuous", -1)
    rows += point_rows("fam", "token_loss", (3.0, 2.9, 2.5, 0.4), "continuous", -1)
    rows += point_rows("other", "exact_match", (0.1, 0.2, 0.3, 0.4), "discontinuous", 1)
    emergence = pl.DataFrame(
        [
            {"family": "fam", "task": "add", "metric": "exact_match", "kind": "discontinuous",
             "status": "jump", "jump": 2.3, "jump_at": "fam-3", "p_adjusted": 0.01,
             "sentence": "exact_match jumps at fam-3"},
            {"family": "fam", "task": "add", "metric": "edit_distance", "kind": "continuous",
             "status": "smooth", "jump": 0.1, "jump_at": "fam-2", "p_adjusted": 1.0,
             "sentence": "edit_distance follows its trend"},
            {"family": "fam", "task": "add", "metric": "token_loss", "kind": "continuous", "status": "jump",
             "jump": 2.0, "jump_at": "fam-3", "p_adjusted": 0.02, "sentence": "token_loss jumps at fam-3"},
            {"family": "other", "task": "add", "metric": "exact_match", "kind": "discontinuous",
             "status": "too few scales", "jump": None, "jump_at": None, "p_adjusted": None,
             "sentence": "exact_match: 4 scales cannot tell a step from a bend"},
            {"family": "fam", "task": "add", "metric": "acc", "kind": "discontinuous",
             "status": "same as exact_match", "jump": None, "jump_at": None, "p_adjusted": None,
             "sentence": "acc: the same numbers as exact_match, judged there"},
        ]
    )  # fmt: skip
    mirage = pl.DataFrame(
        [
            {"family": "fam", "task": "add", "metric": "exact_match", "category": "inconclusive",
             "verdict": "inconclusive: exact_match looks like a jump at fam-3; token_loss jump but "
             "edit_distance do not", "partners": "edit_distance, token_loss"},
            {"family": "other", "task": "add", "metric": "exact_match", "category": "too few scales",
             "verdict": "exact_match: 4 scales cannot tell a step from a bend", "partners": None},
        ]
    )  # fmt: skip
    return Analysis(Points(pl.DataFrame(rows)), emergence, mirage, fits)


def make_fits(holdout: int = 0) -> Fits:
    line = Line(
        law="power", x="params", params={"a": 1e-10, "b": 1.0}, ci={"a": (5e-11, 2e-10), "b": (0.9, 1.1)},
        r2=0.98, ok=True,
    )  # fmt: skip
    rows = [
        {"family": "fam", "task": "add", "metric": "exact_match", "law": "power", "x": "params", "r2": 0.98,
         "ok": True, "message": "", "backtest_mae": 0.05 if holdout else None,
         "backtest_mae_last_value": 0.3 if holdout else None},
        {"family": "other", "task": "add", "metric": "exact_match", "law": "power", "x": "params", "r2": None,
         "ok": False, "message": "two points only", "backtest_mae": None, "backtest_mae_last_value": None},
    ]  # fmt: skip
    backtests = {("fam", "add", "exact_match"): Held((1e10,), line)} if holdout else {}
    return Fits(pl.DataFrame(rows), {("fam", "add", "exact_match"): line}, backtests)


# ---- format ----
def test_intervals_are_written_as_brackets_of_formatted_numbers() -> None:
    assert fmt_ci(0.0, 0.0038) == "[0, 0.0038]"
    assert fmt_ci(None, None) == "–" and fmt_ci(1e8, None) == "[1.00e8, –]"
    assert (fmt(True), fmt(np.int64(12)), fmt(float("nan")), fmt("text")) == ("yes", "12", "–", "text")


# ---- contents ----
def test_contents_lists_axes_metrics_and_families_with_values() -> None:
    analysis = make_analysis()
    assert available_axes(analysis) == ["params"]  # tokens are all null, flops and loss absent
    assert metrics_for(analysis) == ["edit_distance", "exact_match", "token_loss"]
    assert metrics_for(analysis, task="add", family="other") == ["exact_match"]
    assert metrics_for(analysis, task="nope") == []
    assert families(analysis) == ["fam", "other"]
    assert frame_of(None).is_empty() and frame_of(analysis.emergence) is analysis.emergence
    assert backtest_for(analysis, "fam", "add", "exact_match") is None  # no fits yet
    assert backtest_for(make_analysis(make_fits(1)), "fam", "add", "exact_match").x == (1e10,)


# ---- overview ----
def test_overview_shows_the_verdict_or_the_status_sorts_biggest_miss_first_and_hides_copies() -> None:
    analysis = make_analysis()
    frame = overview_frame(analysis, ViewSettings(), sort_key="jump")
    assert frame.columns == list(OVERVIEW_COLUMNS)
    assert frame.select("family", "metric", "word", "jump").rows() == [
        ("fam", "exact_match", "inconclusive", 2.3),
        ("fam", "token_loss", "jump", 2.0),
        ("fam", "edit_distance", "smooth", 0.1),
        ("other", "exact_match", "too few scales", None),
    ]  # acc, the same numbers as exact_match, is left out
    assert frame["verdict"][2] == "edit_distance follows its trend"
    assert overview_frame(analysis, ViewSettings(family="other")).height == 1
    assert overview_frame(analysis, ViewSettings(metric="edit_distance"))["metric"].to_list() == [
        "edit_distance"
    ]
    assert overview_frame(analysis, ViewSettings(), query="INCONCLUSIVE exact")["family"].to_list() == ["fam"]
    assert overview_frame(analysis, ViewSettings(), query="follows").is_empty()  # hidden text does not match


# ---- task ----
def test_task_points_mark_the_held_out_models() -> None:
    settings = ViewSettings(family="fam", holdout=1)
    points = task_points(make_analysis(), settings, "add", "exact_match")
    assert points.select("model", "scale", "value", "held_out").rows() == [
        ("fam-0", 1e7, 0.0, False), ("fam-1", 1e8, 0.01, False), ("fam-2", 1e9, 0.2, False),
        ("fam-3", 1e10, 0.9, True),
    ]  # fmt: skip
    assert task_points(make_analysis(), ViewSettings(axis="flops"), "add", "exact_match").is_empty()


def test_task_plot_draws_each_family_its_fit_and_the_chance_line() -> None:
    plot = task_plot(make_analysis(make_fits()), ViewSettings(), "add", "exact_match")
    assert [(s.label, s.style) for s in plot.series] == [
        ("fam", "points"), ("fam power", "fit"), ("other", "points"),
    ]  # fmt: skip
    fit = plot.series[1]
    assert fit.x[0] == pytest.approx(1e7) and fit.x[-1] == pytest.approx(1e11)  # to 10x the largest scale
    assert fit.y[-1] == pytest.approx(10.0)  # the curve is the fit's own prediction
    assert (plot.y_label, plot.hlines, plot.log_x) == ("exact_match ↑ better", ((0.0, "chance"),), True)
    backtested = task_plot(make_analysis(make_fits(1)), ViewSettings(holdout=1), "add", "exact_match")
    assert backtested.series[1].label == "fam power fit w/o held-out"
    assert task_plot(make_analysis(), ViewSettings(), "sub", "exact_match").message.startswith("no points")


def test_fit_summary_gives_parameters_with_intervals_backtest_and_reasons() -> None:
    lines = dict(
        fit_summary(make_analysis(make_fits(holdout=2)), ViewSettings(holdout=2), "add", "exact_match")
    )
    assert lines["fam"] == (
        "power vs params  a=1.00e-10 [5.00e-11, 2.00e-10]  b=1 [0.9, 1.1]  R²=0.98  "
        "backtest (top 2 held out): MAE 0.05 vs last value 0.3"
    )
    assert lines["other"] == "power: no fit — two points only"
    assert fit_summary(make_analysis(), ViewSettings(), "add", "exact_match") == []  # fits still running


def test_verdicts_give_the_category_for_a_discontinuous_metric_and_the_status_for_a_continuous_one() -> None:
    analysis = make_analysis()
    assert verdicts_for(analysis, "add", "exact_match", family="fam") == [
        ("fam", "inconclusive", "exact_match looks like a jump at fam-3; token_loss jump but "
         "edit_distance do not (m: beside its partners)"),
    ]  # fmt: skip
    assert verdicts_for(analysis, "add", "token_loss") == [("fam", "jump", "token_loss jumps at fam-3")]
    other = verdicts_for(analysis, "add", "exact_match", family="other")
    assert other == [("other", "too few scales", "exact_match: 4 scales cannot tell a step from a bend")]


# ---- mirage ----
def test_mirage_pairs_list_each_partner_with_both_statuses() -> None:
    pairs = mirage_pairs(make_analysis(), "add")
    assert pairs[0] == MiragePair("fam", "add", "exact_match", "edit_distance", "jump", "smooth",
                                  pairs[0].verdict)  # fmt: skip
    assert [pair.continuous for pair in pairs] == ["edit_distance", "token_loss"]
    assert mirage_pairs(make_analysis(), "add", family="other") == []


# ---- lab ----
def test_lab_knobs_step_and_stay_valid() -> None:
    params = LabParams()
    assert step_param(params, "c", 1).c == 1e7 and step_param(params, "items", -1).items == 250
    assert step_param(LabParams(items=12), "items", -1).items == 10  # at least 10 items
    assert step_param(LabParams(alpha=-0.05), "alpha", 1).alpha == -0.05  # the exponent stays negative
    assert step_param(LabParams(choices=2), "choices", -1).choices == 2
    assert step_param(LabParams(length=50), "length", 1).length == 50


def test_lab_plots_put_discontinuous_curves_and_the_measurement_left_with_the_1_over_n_floor() -> None:
    left, right = lab_plots(LabParams(items=400))
    assert [s.label for s in left.series] == ["exact_match", "mc_grade", "measured, n=400"]
    assert left.hlines == ((1 / 400, "1/n"),)
    assert [s.label for s in right.series] == ["p", "neg_token_edit_distance", "neg_brier"]
    measured = left.series[-1].y
    assert all(math.isclose(v * 400, round(v * 400), abs_tol=1e-9) for v in measured)  # k of n items right
    refused, _ = lab_plots(LabParams(length=0))
    assert refused.message.startswith("simulator: ")


def test_name_columns_are_cut_in_the_middle_only_as_far_as_rows_stay_distinct() -> None:
    from tui.safe_text import elide, elided_widths

    families = ["pythia-1.4b-deduped", "pythia-1.4b", "pythia-12b-deduped"]
    widths = elided_widths({"family": families}, room=0)
    cut = [elide(f, widths["family"]) for f in families]
    assert len(set(cut)) == 3 and widths["family"] < len(families[0])
    assert elided_widths({"family": families}, room=100) == {"family": 19}  # room: the longest name
    assert elide("pythia-1.4b-deduped", 9) == "pyth…uped"
