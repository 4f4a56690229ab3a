"""The one-word mirage summary per family x task x metric that the overview shows (analysis.mirage)."""

from __future__ import annotations

import polars as pl

from analysis.mirage import mirage_summary


def _pair(discontinuous: str, continuous: str, status_d: str, status_c: str) -> dict:
    return {
        "family": "f",
        "task": "t",
        "discontinuous": discontinuous,
        "continuous": continuous,
        "status_discontinuous": status_d,
        "status_continuous": status_c,
        "mirage": status_d == "emergent" and status_c == "smooth",
        "verdict": f"{discontinuous}/{continuous}",
    }


def test_the_summary_counts_the_partners_under_which_a_jump_vanishes() -> None:
    mirage = pl.DataFrame(
        [
            _pair("exact_match", "token_edit_distance", "emergent", "smooth"),
            _pair("exact_match", "token_loss", "emergent", "emergent"),
            _pair("mc_grade", "brier", "emergent", "emergent"),
            _pair("acc", "brier", "smooth", "smooth"),
        ]
    )
    words = {row["metric"]: row["mirage"] for row in mirage_summary(mirage).iter_rows(named=True)}
    assert words["exact_match"] == "mirage 1/2"  # smooth under one of its two partners
    assert words["mc_grade"] == "emergent"  # survives every partner
    assert words["acc"] == "smooth"  # never jumped
    assert words["token_edit_distance"] == "smooth" and words["token_loss"] == "emergent"
    assert words["brier"] == "emergent"  # a continuous metric reads its own status (its first row)
    verdicts = mirage_summary(mirage).filter(pl.col("metric") == "exact_match")["verdict"].to_list()
    assert verdicts == ["exact_match/token_edit_distance; exact_match/token_loss"]


def test_an_empty_or_partial_check_gives_an_empty_summary() -> None:
    assert mirage_summary(pl.DataFrame()).columns == ["family", "task", "metric", "mirage", "verdict"]
    assert mirage_summary(pl.DataFrame({"family": ["f"]})).is_empty()
