"""The verdict rules on hand-made curve statuses: which partners decide, and what each category says."""

from __future__ import annotations

import polars as pl
import pytest

from analysis import emergence as E
from analysis.mirage import counts, mirage_summary, task_verdicts
from analysis.schema import PointSet

MODELS = [f"m{i}" for i in range(6)]


def status_row(metric: str, kind: str, status: str, family: str = "f", task: str = "t", **extra) -> dict:
    row = {name: None for name in E._SCHEMA}
    return row | {
        "family": family, "task": task, "metric": metric, "kind": kind, "x": "params", "status": status,
        "sentence": f"{metric} is {status}", "n_models": 6, "n_scales": 6,
    } | extra  # fmt: skip


def points(*keys: tuple[str, str, str]) -> PointSet:
    rows = [
        {"family": f, "task": t, "metric": m, "model": model, "params": 10.0 ** (7 + i), "value": 0.5}
        for f, t, m in keys
        for i, model in enumerate(MODELS)
    ]
    return PointSet(frame=pl.DataFrame(rows))


def verdicts(*rows: dict, lengths: dict | None = None, point_rows: PointSet | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(list(rows), schema=E._SCHEMA)
    keys = {(r["family"], r["task"], r["metric"]) for r in rows}
    return task_verdicts(frame, point_rows or points(*keys), lengths or {})


LOOKS = {"apparent": 0.6, "apparent_at": "m3", "apparent_jump": True}


def test_smooth_partners_make_a_mirage_and_the_sentence_names_them_all() -> None:
    out = verdicts(
        status_row("exact_match", "discontinuous", "smooth", **LOOKS),
        status_row("token_loss", "continuous", "smooth"),
        status_row("token_prob", "continuous", "smooth"),
        status_row("token_edit_distance", "continuous", "smooth"),
    ).row(0, named=True)
    assert out["category"] == "mirage" and out["partner_source"] == "declared"
    assert out["verdict"] == (
        "mirage: exact_match looks like a jump at m3 (raw scale: 60% of its rise above its smaller models' "
        "line), but token_edit_distance, token_loss and token_prob follow the smaller models' trend on the "
        "same outputs: the jump is the metric"
    )


def test_a_jumping_partner_makes_it_survive_and_disagreement_is_inconclusive() -> None:
    survives = verdicts(
        status_row("mc_grade", "discontinuous", "jump", **LOOKS),
        status_row("choice_prob", "continuous", "jump"),
    )
    assert survives["category"].item() == "survives"
    assert "choice_prob jumps too: a real jump, not the metric" in survives["verdict"].item()
    split = verdicts(
        status_row("exact_match", "discontinuous", "smooth", **LOOKS),
        status_row("token_loss", "continuous", "jump"),
        status_row("token_prob", "continuous", "smooth"),
    )
    assert split["category"].item() == "inconclusive"
    assert "token_loss jump but token_prob do not" in split["verdict"].item()


def test_brier_decides_only_without_choice_prob() -> None:
    rows = [
        status_row("mc_grade", "discontinuous", "jump", **LOOKS),
        status_row("brier", "continuous", "smooth"),
    ]
    assert verdicts(*rows)["category"].item() == "mirage"
    with_prob = verdicts(*rows, status_row("choice_prob", "continuous", "jump"))
    assert with_prob["category"].item() == "survives"


def test_no_jump_seen_is_smooth_and_gates_come_first() -> None:
    flat = verdicts(
        status_row("exact_match", "discontinuous", "smooth", apparent=0.05, apparent_jump=False),
        status_row("token_loss", "continuous", "jump"),
    )
    assert flat["category"].item() == "smooth"
    for gate in ("too few scales", "not on this axis", "tied scales", "inverse", "u_shaped"):
        out = verdicts(status_row("exact_match", "discontinuous", gate, **LOOKS))
        assert out["category"].item() == gate and out["verdict"].item() == f"exact_match is {gate}"


def test_without_partners_the_metric_speaks_for_itself() -> None:
    unchecked = verdicts(status_row("acc", "discontinuous", "jump", **LOOKS))
    assert unchecked["category"].item() == "emergent (unchecked)"
    assert unchecked["partners"].item() is None
    rise = verdicts(status_row("acc", "discontinuous", "smooth", **LOOKS))
    assert rise["category"].item() == "smooth" and "smooth rise on its link scale" in rise["verdict"].item()
    low = verdicts(status_row("acc", "discontinuous", "inconclusive", unresolved="m0, m1, m2", **LOOKS))
    assert low["category"].item() == "unresolved"
    assert "the models below the jump are below resolution" in low["verdict"].item()


def test_unresolved_exact_match_says_how_many_items_would_resolve_it() -> None:
    keys = [("f", "t", "exact_match"), ("f", "t", "token_prob")]
    frame = points(*keys).frame.with_columns(
        pl.when(pl.col("metric") == "token_prob").then(0.2).otherwise(0.0).alias("value")
    )
    out = verdicts(
        status_row("exact_match", "discontinuous", "unresolved", unresolved="m0, m1, m2", **LOOKS),
        status_row("token_prob", "continuous", "smooth"),
        lengths={("f", "t"): 5.0},
        point_rows=PointSet(frame=frame),
    ).row(0, named=True)
    implied = 0.2**5  # exact match ~ p^L
    assert out["items_needed"] == pytest.approx(2.996 / implied, rel=0.01)  # the rule of three
    assert out["items_for"] == "m0 at exact match 0.00032 (token_prob^L)"
    assert f"({out['items_needed']:,} items would resolve m0" in out["verdict"]


def test_undeclared_pairs_fall_back_to_the_tasks_continuous_metrics_and_families_stay_apart() -> None:
    out = verdicts(
        status_row("multiple_choice_grade", "discontinuous", "jump", **LOOKS),
        status_row("calibration", "continuous", "smooth"),
        status_row("multiple_choice_grade", "discontinuous", "jump", family="g", **LOOKS),
    )
    by_family = {r["family"]: r for r in out.iter_rows(named=True)}
    assert by_family["f"]["category"] == "mirage" and by_family["f"]["partner_source"] == "same task"
    assert by_family["g"]["category"] == "emergent (unchecked)"


def test_same_numbers_are_not_partners_and_tasks_without_a_discontinuous_metric_give_no_row() -> None:
    out = verdicts(
        status_row("mc_grade", "discontinuous", "jump", **LOOKS),
        status_row("acc", "discontinuous", "same as mc_grade"),
        status_row("choice_prob", "continuous", "jump"),
        status_row("token_loss", "continuous", "smooth", task="other"),
    )
    assert out["metric"].to_list() == ["mc_grade"]
    assert counts(out) == {"survives": 1}
    assert mirage_summary(out).columns == ["family", "task", "metric", "mirage", "verdict"]


def test_a_jump_on_an_unresolved_step_says_so() -> None:
    """The verdict names the step into the model where the jump is seen when its adjacent-step test does not
    resolve it, and says nothing when it does (or when no step was tested)."""
    rows = [
        status_row("exact_match", "discontinuous", "jump", **LOOKS),
        status_row("token_loss", "continuous", "jump"),
    ]
    frame = pl.DataFrame(rows, schema=E._SCHEMA)

    def step(resolved: bool | None, p: float | None) -> pl.DataFrame:
        return pl.DataFrame(
            [{"family": "f", "task": "t", "metric": "exact_match", "lower": "m2", "upper": "m3", "n": 400,
              "test": "McNemar exact", "p_value": p, "resolved": resolved}]
        )  # fmt: skip

    keys = [("f", "t", "exact_match"), ("f", "t", "token_loss")]
    unresolved = task_verdicts(frame, points(*keys), {}, 0.95, step(False, 0.0625))["verdict"].item()
    assert unresolved.startswith("survives: exact_match looks like a jump at m3")
    assert unresolved.endswith(
        "; the step from m2 to m3 is not resolved on these 400 items (McNemar exact p 0.062): the jump "
        "is within the test set's noise"
    )
    for resolved, p in ((True, 1e-6), (None, None)):
        verdict = task_verdicts(frame, points(*keys), {}, 0.95, step(resolved, p))["verdict"].item()
        assert "not resolved" not in verdict
