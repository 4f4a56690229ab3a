"""When a fit does not fit: the refusals and the parameters the data do not identify (docs/science.md 6).

A fit is refused (``ok=False``, a reason instead of digits) when:

* the law cannot follow the curve's direction: the saturating and joint laws only fall toward E, so a curve
  whose log-log slope is >= 0 (inverse scaling) is refused before fitting, with the laws that can;
* a shape parameter ends at its search bound (alpha or beta at 0 or 10, |k| at 30 per decade, x0 two decades
  beyond the data): the optimum lies outside what the points can measure;
* R^2 in the fitted space is <= 0: the law does worse than the curve's mean;
* a parameter's estimate lies outside its own bootstrap CI (by more than ``CI_SLACK`` of the CI's width and
  ``CI_PRECISION`` of its size, the precision a perfect fit stops at, and 1e-12): the replicates found another
  optimum, so neither can be trusted.

A positive constant (power ``a``; saturating and joint ``E``, ``A``, ``B``) that the data do not identify is
named in words, not digits: ``E ~ 0 (not identified)`` when its estimate is 0 (the fit without it is as
good) or below ``NOISE`` times the smallest value (below what the optimiser resolves); ``not identified`` when
its CI reaches 0 or spans more than ``MAX_DECADES`` decades (a constant traded off against its exponent). The
fit itself stands: the curve is still drawn and predicted.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from analysis.fits.optimizer import _PERFECT_RESIDUAL

MAX_DECADES = 6.0  # a constant's CI wider than a factor of a million says nothing about it
NOISE = (
    _PERFECT_RESIDUAL  # a constant below 1e-6 of the smallest value changes no prediction the fit resolves
)
CI_SLACK = 0.01  # an estimate outside its CI by more than 1% of the CI's width is outside ...
CI_PRECISION = 1e-4  # ... and by more than this share of its size (replicates stop once perfect to 1e-6)
POSITIVE_CONSTANTS: dict[str, tuple[str, ...]] = {
    "power": ("a",),
    "saturating": ("E", "A"),
    "joint": ("E", "A", "B"),
}
ZERO_CONSTANTS = frozenset({"E"})  # additive constants: ~0 means "no floor"
FALLING_LAWS = frozenset({"saturating", "joint"})
FIT_RULES = (
    "fits: default laws saturating for losses (the power law when the curve rises: inverse scaling), "
    "logistic for bounded scores and distances (edit distance on [0, L], Brier), its floor fixed at chance "
    "when chance is known and fitted otherwise; refused, with the reason, when the law cannot follow the "
    "curve's direction, a shape parameter ends at its search bound, R² <= 0 in the fitted space, or an "
    "estimate lies outside its own bootstrap CI; a constant the data do not identify (estimate 0 or below "
    "1e-6 of the smallest value; CI reaching 0 or spanning more than 6 decades) is named in words; R² is "
    "shown in linear and in log space (log where every value is positive), with a note when it is below "
    "0.5 in the space the law was not fitted in"
)
_SHAPE_WORDS = {
    ("alpha", "lower"): "alpha at its lower bound 0: the law cannot fall along this curve",
    ("alpha", "upper"): "alpha at its upper bound 10: the curve falls faster than a power law (a step?)",
    ("beta", "lower"): "beta at its lower bound 0: the loss does not fall with tokens",
    ("beta", "upper"): "beta at its upper bound 10: the loss falls faster with tokens than a power law",
    ("k", "lower"): "k at its bound -30 per decade: the curve drops within one step between scales, so its "
    "steepness is not measured",
    ("k", "upper"): "k at its bound 30 per decade: the curve rises within one step between scales, so its "
    "steepness is not measured",
    ("x0", "lower"): "x0 at its bound two decades below the data: the midpoint is out of the points' reach",
    ("x0", "upper"): "x0 at its bound two decades above the data: the midpoint is out of the points' reach",
}


def direction_refusal(law: str, x: np.ndarray, y: np.ndarray, x_name: str) -> str | None:
    """A law that only falls (saturating, joint) on a curve that does not fall: the reason, else None."""
    if law not in FALLING_LAWS or y.size < 2 or (y <= 0).any() or (x <= 0).any() or np.ptp(x) == 0:
        return None  # other refusals (too few points, values <= 0) say why
    slope = float(np.polyfit(np.log(x), np.log(y), 1)[0])
    if slope < 0:
        return None
    return (
        f"the values rise with {x_name} (log-log slope {slope:+.3g}; inverse scaling): the {law} law can "
        "only fall toward E; fit --law power (its exponent takes the data's sign) or --law logistic"
    )


def bound_refusal(
    free: tuple[str, ...], theta: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> str | None:
    """The first shape parameter (alpha, beta, k, x0) at a search bound, as a reason; else None."""
    for name, value, lo, hi in zip(free, theta, lower, upper, strict=True):
        for side, bound in (("lower", lo), ("upper", hi)):
            if (name, side) in _SHAPE_WORDS and np.isclose(value, bound):
                return _SHAPE_WORDS[(name, side)]
    return None


def r2_refusal(r2: float | None, space: str) -> str | None:
    """R^2 <= 0 in the fitted space: the reason, else None."""
    if r2 is None or r2 > 0:
        return None
    return f"R²({space}) = {r2:.3g} <= 0: the law fits worse than the curve's mean"


POOR_R2 = 0.5  # R² below this in the space the law was not fitted in: the fit misses that end of the curve


def poor_r2_note(spaces: Mapping[str, float | None], fitted_space: str) -> str | None:
    """A standing fit whose R² in the other space (linear or log) is below ``POOR_R2``: a note in words
    (a logistic fitted in linear space can follow a curve's large values and miss its small ones by
    ratio); else None."""
    for space in ("linear", "log"):
        r2 = spaces.get(f"r2_{space}")
        if space != fitted_space and r2 is not None and r2 < POOR_R2:
            ends = "small values (by ratio)" if space == "log" else "large values"
            return (
                f"R² {r2:.2f} in {space} space: the law misses the curve's {ends}; read its predictions "
                "there with care"
            )
    return None


def ci_refusal(params: Mapping[str, float], ci: Mapping[str, tuple[float, float]]) -> str | None:
    """The first parameter whose estimate lies outside its own CI (beyond ``CI_SLACK``), as a reason."""
    for name, value in params.items():
        if name not in ci:
            continue
        lo, hi = ci[name]
        slack = max(CI_SLACK * (hi - lo), CI_PRECISION * abs(value), 1e-12)
        if value < lo - slack or value > hi + slack:
            return (
                f"the estimate {name} = {value:.3g} lies outside its bootstrap CI [{lo:.3g}, {hi:.3g}]: the "
                "replicates found another optimum, so neither is reported"
            )
    return None


def unidentified(
    law: str, params: Mapping[str, float], ci: Mapping[str, tuple[float, float]], y: np.ndarray
) -> dict[str, str]:
    """Positive constants the data do not identify, each with the words printed instead of its digits."""
    out: dict[str, str] = {}
    smallest = float(np.min(y)) if y.size else 0.0
    for name in POSITIVE_CONSTANTS.get(law, ()):
        value = params.get(name)
        if value is None:
            continue
        if name in ZERO_CONSTANTS and value <= NOISE * max(smallest, 0.0):
            out[name] = "~ 0 (not identified)"
            continue
        if name not in ci:
            continue
        lo, hi = ci[name]
        if lo <= 0.0 < hi:
            out[name] = f"not identified (its CI [{lo:.3g}, {hi:.3g}] reaches 0)"
        elif lo > 0.0 and np.log10(hi / lo) > MAX_DECADES:
            out[name] = f"not identified (its CI spans {np.log10(hi / lo):.0f} decades)"
    return out
