"""The four scaling laws: their formulas, parameter names, fitted space and the default law per metric.

Parameter names are the contract shared by fits, reports and the app (docs/science.md section 6):

* ``power``       y = a * x**b                                   (b signed)
* ``saturating``  y = E + A * x**(-alpha)
* ``joint``       y = E + A / N**alpha + B / D**beta              (x = params N, x2 = tokens D)
* ``logistic``    y = floor + (ceil - floor) / (1 + exp(-k * (log10(x) - x0)))

``power``, ``saturating`` and ``joint`` are fitted (and their R^2 computed) in log space; ``logistic`` in
linear space. This module only evaluates the laws; the fitting procedures live in ``analysis.fits``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analysis.errors import InputError
from analysis.schema import MetricSpec


@dataclass(frozen=True)
class Law:
    """What a law is called, its parameters in output order, its formula and where it is fitted."""

    name: str
    params: tuple[str, ...]
    formula: str
    fitted_space: str  # "log" (residuals of log y) or "linear" (residuals of y)
    needs_x2: bool = False  # joint law: a second axis (tokens) besides x (params)
    needs_positive_y: bool = False


POWER = Law("power", ("a", "b"), "y = a * x**b", "log", needs_positive_y=True)
SATURATING = Law("saturating", ("E", "A", "alpha"), "y = E + A * x**(-alpha)", "log", needs_positive_y=True)
JOINT = Law(
    "joint",
    ("E", "A", "alpha", "B", "beta"),
    "y = E + A / N**alpha + B / D**beta",
    "log",
    needs_x2=True,
    needs_positive_y=True,
)
LOGISTIC = Law(
    "logistic",
    ("floor", "ceil", "k", "x0"),
    "y = floor + (ceil - floor) / (1 + exp(-k * (log10(x) - x0)))",
    "linear",
)
LAWS: dict[str, Law] = {law.name: law for law in (POWER, SATURATING, JOINT, LOGISTIC)}

# Default law per known metric id. Losses are positive quantities falling toward an irreducible floor, so the
# saturating law fits them (on a curve that rises instead, inverse scaling, the fit stage fits the power law,
# whose exponent takes the data's sign). Bounded scores move between a floor and a ceiling as a sigmoid in log
# scale, so the logistic fits them, rising or falling (k takes the data's sign): higher-is-better scores in
# [0, 1], and the bounded distances, token edit distance on [0, L] (it reaches a perfect 0, which the
# saturating law's log space cannot hold, and it starts at L for small models, where a power law diverges)
# and the multiclass Brier score on [0, 2].
DEFAULT_LAWS: dict[str, str] = {
    "token_loss": "saturating",
    "loss": "saturating",
    "ppl": "saturating",
    "perplexity": "saturating",
    "token_edit_distance": "logistic",
    "brier": "logistic",
    "exact_match": "logistic",
    "mc_grade": "logistic",
    "choice_prob": "logistic",
    "token_prob": "logistic",
    "acc": "logistic",
    "acc_norm": "logistic",
}


def get_law(name: str) -> Law:
    """The law called ``name``; an unknown name is an input error naming the choices."""
    try:
        return LAWS[name]
    except KeyError:
        raise InputError(f"--law {name!r} is not a known law: choose one of {', '.join(LAWS)}") from None


def default_law(metric: str, spec: MetricSpec | None = None) -> str:
    """The law to fit when the user chose none: by metric id, else by the spec's direction.

    Unknown metrics: lower-is-better ones get ``saturating`` (a loss-like quantity), higher-is-better ones get
    ``logistic`` (a score rising from a floor).
    """
    if metric in DEFAULT_LAWS:
        return DEFAULT_LAWS[metric]
    if spec is not None and spec.direction < 0:
        return "saturating"
    return "logistic"


def power(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """y = a * x**b."""
    return a * np.asarray(x, dtype=float) ** b


def saturating(x: np.ndarray, E: float, A: float, alpha: float) -> np.ndarray:
    """y = E + A * x**(-alpha)."""
    return E + A * np.asarray(x, dtype=float) ** (-alpha)


def joint(
    n: np.ndarray, d: np.ndarray, E: float, A: float, alpha: float, B: float, beta: float
) -> np.ndarray:
    """y = E + A / N**alpha + B / D**beta (Chinchilla, Hoffmann et al. 2022)."""
    return E + A / np.asarray(n, dtype=float) ** alpha + B / np.asarray(d, dtype=float) ** beta


def logistic(x: np.ndarray, floor: float, ceil: float, k: float, x0: float) -> np.ndarray:
    """y = floor + (ceil - floor) / (1 + exp(-k * (log10(x) - x0))); k per decade of x, x0 in log10 units."""
    z = k * (np.log10(np.asarray(x, dtype=float)) - x0)
    return floor + (ceil - floor) * 0.5 * (1.0 + np.tanh(0.5 * z))  # = sigmoid(z), without overflow


def evaluate(
    law: str, params: Mapping[str, float], x: np.ndarray, x2: np.ndarray | None = None
) -> np.ndarray:
    """The law's prediction at x (and x2 for the joint law) with the named parameters."""
    spec = get_law(law)
    values = [float(params[name]) for name in spec.params]
    if spec.needs_x2:
        if x2 is None:
            raise InputError("the joint law needs a second axis (tokens) to predict: give x2")
        return joint(x, x2, *values)
    return {"power": power, "saturating": saturating, "logistic": logistic}[law](x, *values)
