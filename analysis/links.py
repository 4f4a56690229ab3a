"""The scale on which "smooth" means "a straight line": one link per kind of metric.

A metric is judged for jumps on the scale where the smooth case of the paper's model is linear in log scale
(docs/science.md section 2): a power-law loss is a line in log-log; a probability p = exp(-CE) with CE a power
law is a line after ``-log(-log p)``, and so is exact match over L tokens (``acc = p^L``: the PassUntil link
of Hu et al. 2023, where "accelerated emergence" is convexity); an edit distance over L tokens
``L (1 - p)`` after ``-log(-log(1 - TED / L))``; a multiclass Brier score through the correct choice's
probability it implies (other choices sharing the rest equally); an accuracy above chance c through
``log((y - c) / (1 - y))`` (the logit of the share of the way from chance to 1). Every link is oriented so
that higher is better, and its units are natural-log factors: a difference of ``log 2`` is a factor 2 in the
implied loss (or in the odds).

A point can be placed on its link scale only when its interval lies strictly inside the link's domain: an
accuracy whose interval includes 0 (or chance) or 1 is "below resolution" or "at the ceiling" there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis.schema import MetricSpec

LOG = "log"
LOG_LOG = "loglog"
EDIT = "edit"
BRIER = "brier"
LOGIT = "logit"
IDENTITY = "identity"

# registry metrics whose link is known from what they measure (others follow spec rules in ``scale_for``)
KNOWN_METRICS: dict[str, str] = {
    "token_loss": LOG,
    "token_prob": LOG_LOG,
    "choice_prob": LOG_LOG,
    "exact_match": LOG_LOG,
    "seq_prob": LOG_LOG,
    "token_edit_distance": EDIT,
    "brier": BRIER,
    "mc_grade": LOGIT,
}
_EXACT_WORDS = frozenset({"exact", "em", "pass", "match"})


@dataclass(frozen=True)
class Link:
    """A link's name, what it reads as, and its forward and inverse maps (``upper`` is the domain's top)."""

    name: str
    label: str  # e.g. "log(-log p)": said in the verdict
    forward: Callable[[np.ndarray, float, float], np.ndarray]  # (y, lower, upper) -> z, oriented
    inverse: Callable[[np.ndarray, float, float], np.ndarray]


def _log_forward(y: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return -np.log(y)


def _log_inverse(z: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return np.exp(-z)


def _loglog_forward(y: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return -np.log(-np.log(y / upper))


def _loglog_inverse(z: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return upper * np.exp(-np.exp(-z))


def _edit_forward(y: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return -np.log(-np.log1p(-y / upper))


def _edit_inverse(z: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return upper * -np.expm1(-np.exp(-z))


def _brier_forward(y: np.ndarray, lower: float, upper: float) -> np.ndarray:
    # upper = K / (K - 1): Brier of a correct-choice probability p with the rest shared equally is
    # (1 - p)^2 K / (K - 1), so p = 1 - sqrt(Brier / upper)
    return -np.log(-np.log1p(-np.sqrt(y / upper)))


def _brier_inverse(z: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return upper * (-np.expm1(-np.exp(-z))) ** 2


def _logit_forward(y: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return np.log((y - lower) / (upper - y))


def _logit_inverse(z: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return lower + (upper - lower) / (1.0 + np.exp(-z))


def _identity_forward(y: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return y


LINKS: dict[str, Link] = {
    LOG: Link(LOG, "log scale (power law = straight line)", _log_forward, _log_inverse),
    LOG_LOG: Link(LOG_LOG, "log(-log p) scale (implied per-token loss)", _loglog_forward, _loglog_inverse),
    EDIT: Link(EDIT, "log(-log(1 - TED/L)) scale (implied per-token loss)", _edit_forward, _edit_inverse),
    BRIER: Link(BRIER, "implied correct-choice loss scale", _brier_forward, _brier_inverse),
    LOGIT: Link(LOGIT, "logit scale above chance", _logit_forward, _logit_inverse),
    IDENTITY: Link(IDENTITY, "raw scale", _identity_forward, _identity_forward),
}


def scale_for(spec: MetricSpec, largest: float | None = None) -> str:
    """The link a metric is judged on: known registry metrics by id, others by what their spec says.

    Lower-is-better metrics are losses (log); 0/1 metrics are exact-match-like (log(-log)) when a word of
    their name is exact, em, pass or match and no chance level is known, else accuracies (logit above
    chance); other higher-is-better metrics are judged on the logit scale when their values (``largest``)
    stay within [0, 1], else on their raw scale.
    """
    if spec.scale is not None:
        return spec.scale
    if spec.id in KNOWN_METRICS:
        return KNOWN_METRICS[spec.id]
    if spec.direction < 0:
        return LOG
    words = set(re.split(r"[^a-z0-9]+", spec.id.lower()))
    if spec.binary and words & _EXACT_WORDS and not spec.chance:
        return LOG_LOG
    if largest is not None and largest > 1.0:
        return IDENTITY
    return LOGIT


def bounds(scale: str, chance: float | None, length: float | None) -> tuple[float, float] | None:
    """(lower, upper) of the raw values the link maps to finite numbers; None when a parameter is missing."""
    if scale == LOG:
        return 0.0, np.inf
    if scale == LOG_LOG:
        return 0.0, 1.0
    if scale == EDIT:
        return (0.0, float(length)) if length is not None and length > 0 else None
    if scale == BRIER:
        if chance is None or not 0.0 < chance < 1.0:
            return None
        choices = 1.0 / (1.0 - chance)  # the Brier chance level of K choices is (K - 1) / K
        return 0.0, choices / (choices - 1.0)
    if scale == LOGIT:
        return (float(chance or 0.0), 1.0)
    return -np.inf, np.inf


def to_link(scale: str, values: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Oriented link values (higher is better) of raw ``values``; NaN outside the open domain."""
    values = np.asarray(values, dtype=np.float64)
    inside = (values > lower) & (values < upper)
    with np.errstate(all="ignore"):
        z = LINKS[scale].forward(np.where(inside, values, np.nan), lower, upper)
    return np.where(inside & np.isfinite(z), z, np.nan)


def from_link(scale: str, z: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Raw values of oriented link values ``z`` (the inverse of ``to_link``)."""
    with np.errstate(all="ignore"):
        return LINKS[scale].inverse(np.asarray(z, dtype=np.float64), lower, upper)


def inside(lo: np.ndarray, hi: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Points whose whole interval [lo, hi] lies strictly inside the domain (placeable on the link scale)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return np.isfinite(lo) & np.isfinite(hi) & (lo > lower) & (hi < upper)
