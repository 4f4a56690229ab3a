"""The four laws evaluate their formulas exactly, keep their parameter names, pick a default per metric."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.fits.laws import LAWS, default_law, evaluate, get_law, joint, logistic, power, saturating
from analysis.schema import MetricSpec


def test_parameter_names_are_the_contract():
    assert LAWS["power"].params == ("a", "b")
    assert LAWS["saturating"].params == ("E", "A", "alpha")
    assert LAWS["joint"].params == ("E", "A", "alpha", "B", "beta")
    assert LAWS["logistic"].params == ("floor", "ceil", "k", "x0")
    assert [LAWS[n].fitted_space for n in ("power", "saturating", "joint", "logistic")] == [
        "log",
        "log",
        "log",
        "linear",
    ]


def test_formulas_at_hand_computed_points():
    assert power(np.array([10.0]), 2.0, 3.0)[0] == pytest.approx(2000.0)
    assert power(np.array([100.0]), 5.0, -0.5)[0] == pytest.approx(0.5)
    assert saturating(np.array([100.0]), 1.0, 10.0, 0.5)[0] == pytest.approx(2.0)
    assert joint(np.array([100.0]), np.array([1e4]), 1.0, 10.0, 0.5, 100.0, 0.5)[0] == pytest.approx(3.0)
    # logistic: midpoint at x = 10**x0, floor and ceil in the limits, k per decade
    assert logistic(np.array([1e9]), 0.25, 0.75, 3.0, 9.0)[0] == pytest.approx(0.5)
    assert logistic(np.array([1e3]), 0.25, 0.75, 3.0, 9.0)[0] == pytest.approx(0.25, abs=1e-7)
    assert logistic(np.array([1e15]), 0.25, 0.75, 3.0, 9.0)[0] == pytest.approx(0.75, abs=1e-7)
    one_decade_up = 0.25 + 0.5 / (1.0 + np.exp(-3.0))
    assert logistic(np.array([1e10]), 0.25, 0.75, 3.0, 9.0)[0] == pytest.approx(one_decade_up)


def test_evaluate_uses_named_parameters():
    x = np.array([1e8, 1e9])
    params = {"alpha": 0.3, "A": 400.0, "E": 1.7}  # order does not matter, names do
    np.testing.assert_allclose(evaluate("saturating", params, x), 1.7 + 400.0 * x**-0.3)
    with pytest.raises(InputError, match="x2"):
        evaluate("joint", {"E": 1, "A": 1, "alpha": 1, "B": 1, "beta": 1}, x)


def test_unknown_law_names_the_choices():
    with pytest.raises(InputError, match="power, saturating, joint, logistic"):
        get_law("sigmoid")


def test_default_law_per_metric():
    assert default_law("token_loss") == "saturating"
    assert default_law("token_edit_distance") == "logistic"  # bounded on [0, L], reaches 0
    assert default_law("brier") == "logistic"  # bounded on [0, 2]
    for metric in ("exact_match", "mc_grade", "choice_prob", "token_prob"):
        assert default_law(metric) == "logistic"
    assert default_law("my_error", MetricSpec("my_error", -1, "continuous")) == "saturating"
    assert default_law("my_score", MetricSpec("my_score", 1, "continuous")) == "logistic"
