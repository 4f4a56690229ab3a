"""Link scales: on each, the mirage model's smooth curve is an exact straight line in log scale."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import links
from analysis.schema import MetricSpec
from analysis.simulate import mirage_curves

SIZES = np.geomspace(1e7, 1e11, 12)
U = np.log10(SIZES)


def straight(z: np.ndarray) -> float:
    """Largest distance of z from its least-squares line against log10 N."""
    slope, intercept = np.polyfit(U, z, 1)
    return float(np.max(np.abs(z - (intercept + slope * U))))


@pytest.mark.parametrize("length", [1, 3, 5, 20])
def test_identical_items_give_straight_lines_for_every_continuous_metric(length: int) -> None:
    """CE = (N / c)^alpha: log CE is linear in log N, and every link recovers -log CE up to a constant."""
    curves = mirage_curves(3e9, -0.5, SIZES, length, 4)
    cases = {
        links.LOG: (curves["token_loss"], links.bounds(links.LOG, None, None)),
        links.LOG_LOG: (curves["token_prob"], links.bounds(links.LOG_LOG, None, None)),
        links.EDIT: (curves["token_edit_distance"], links.bounds(links.EDIT, None, length)),
    }
    for scale, (values, (lower, upper)) in cases.items():
        z = links.to_link(scale, values, lower, upper)
        assert straight(z) < 1e-9, scale
        np.testing.assert_allclose(z, -np.log(curves["token_loss"]), rtol=1e-9, atol=1e-9)
    exact = links.to_link(links.LOG_LOG, curves["exact_match"], 0.0, 1.0)
    np.testing.assert_allclose(exact, -np.log(length * curves["token_loss"]), atol=1e-9)  # PassUntil


def test_brier_of_a_correct_choice_with_the_rest_shared_equally_inverts_exactly() -> None:
    choices = 4
    p = np.exp(-((SIZES / 3e9) ** -0.5))
    brier = (1 - p) ** 2 + (choices - 1) * ((1 - p) / (choices - 1)) ** 2  # = (1 - p)^2 K / (K - 1)
    lower, upper = links.bounds(links.BRIER, (choices - 1) / choices, None)
    assert upper == pytest.approx(choices / (choices - 1))
    z = links.to_link(links.BRIER, brier, lower, upper)
    np.testing.assert_allclose(z, -np.log(-np.log(p)), rtol=1e-9)


def test_logit_above_chance_straightens_a_logistic_in_log_scale() -> None:
    accuracy = 0.25 + 0.75 / (1 + np.exp(-1.7 * (U - 9.0)))
    z = links.to_link(links.LOGIT, accuracy, 0.25, 1.0)
    np.testing.assert_allclose(z, 1.7 * (U - 9.0), atol=1e-9)


@pytest.mark.parametrize("scale", [links.LOG, links.LOG_LOG, links.BRIER, links.LOGIT, links.EDIT])
def test_inverse_undoes_the_link(scale: str) -> None:
    lower, upper = links.bounds(scale, 0.75 if scale == links.BRIER else 0.25, 7.0)
    top = upper if np.isfinite(upper) else 100.0
    values = np.linspace(lower + 1e-3 * (top - lower), top - 1e-3 * (top - lower), 50)
    back = links.from_link(scale, links.to_link(scale, values, lower, upper), lower, upper)
    np.testing.assert_allclose(back, values, rtol=1e-9)


def test_values_outside_the_domain_are_not_placed() -> None:
    z = links.to_link(links.LOG_LOG, np.array([0.0, 0.5, 1.0, 1.2, np.nan]), 0.0, 1.0)
    assert np.isnan(z[[0, 2, 3, 4]]).all() and np.isfinite(z[1])
    inside = links.inside(np.array([0.0, 0.1, 0.2]), np.array([0.2, 0.9, 1.0]), 0.0, 1.0)
    assert inside.tolist() == [False, True, False]


def test_scales_from_specs() -> None:
    assert links.scale_for(MetricSpec("token_loss", -1, "continuous")) == links.LOG
    assert links.scale_for(MetricSpec("exact_match", 1, "discontinuous", True)) == links.LOG_LOG
    assert links.scale_for(MetricSpec("mc_grade", 1, "discontinuous", True, 0.25)) == links.LOGIT
    assert links.scale_for(MetricSpec("perplexity", -1, "continuous")) == links.LOG
    assert links.scale_for(MetricSpec("exact_str_match", 1, "discontinuous", True)) == links.LOG_LOG
    assert links.scale_for(MetricSpec("acc", 1, "discontinuous", True, 0.25)) == links.LOGIT
    assert links.scale_for(MetricSpec("bleu", 1, "continuous"), largest=27.0) == links.IDENTITY
    assert links.scale_for(MetricSpec("f1", 1, "continuous"), largest=0.8) == links.LOGIT
