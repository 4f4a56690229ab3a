"""The metric registry: ids, specs (direction, kind, 0/1, chance), partners and the spec of an unknown metric.

Several metrics come from the same rows (SCIENCE.md section 3), so a jump under a discontinuous metric can be
checked against a continuous one on the same outputs. Conventions stated once here:

* text is compared after ``strip()`` and, with ``MetricOptions.case_fold``, ``lower()``;
* ``token_edit_distance`` tokenises by characters by default, by whitespace with ``tokenizer="whitespace"``,
  and uses the given ``target_tokens``/``prediction_tokens`` lists when a row has both;
* ``mc_grade`` takes the first maximum (numpy ``argmax``): a tie counts as right only when the correct choice
  is the first of the tied choices;
* ``brier`` is the multiclass sum over the K choices, NOT divided by K: range [0, 2], and the uninformed
  uniform guess scores 1 - 1/K.
A per-sample column in the file with the same name as a computed metric (e.g. lm-eval's own ``exact_match``)
wins, and the computed one is listed in ``skipped``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analysis import schema
from analysis.options import MetricOptions
from analysis.schema import MetricSpec

EXACT_MATCH = "exact_match"
TOKEN_EDIT_DISTANCE = "token_edit_distance"
TOKEN_LOSS = "token_loss"
TOKEN_PROB = "token_prob"
MC_GRADE = "mc_grade"
CHOICE_PROB = "choice_prob"
BRIER = "brier"

METRICS: dict[str, MetricSpec] = {
    EXACT_MATCH: MetricSpec(
        EXACT_MATCH,
        +1,
        "discontinuous",
        binary=True,
        description="1 when prediction equals target after strip() (and lower() with case folding), else 0",
    ),
    TOKEN_EDIT_DISTANCE: MetricSpec(
        TOKEN_EDIT_DISTANCE,
        -1,
        "continuous",
        description="Levenshtein distance between target and prediction tokens (characters by default, "
        "whitespace tokens, or the given token lists), after the exact-match normalisation",
    ),
    TOKEN_LOSS: MetricSpec(
        TOKEN_LOSS,
        -1,
        "continuous",
        description="per-token cross-entropy of the target: minus the mean of its token log-probabilities",
    ),
    TOKEN_PROB: MetricSpec(
        TOKEN_PROB,
        +1,
        "continuous",
        description="exp(-token_loss): the geometric-mean probability of a target token",
    ),
    MC_GRADE: MetricSpec(
        MC_GRADE,
        +1,
        "discontinuous",
        binary=True,
        description="1 when the correct choice has the highest log-likelihood (first maximum wins ties), "
        "else 0; chance 1/K",
    ),
    CHOICE_PROB: MetricSpec(
        CHOICE_PROB,
        +1,
        "continuous",
        description="softmax probability of the correct choice over the choices' log-likelihoods; chance 1/K",
    ),
    BRIER: MetricSpec(
        BRIER,
        -1,
        "continuous",
        description="sum over the K choices of (q_k - 1[k = correct])^2 for the softmax q, not divided by K: "
        "range [0, 2]; a uniform guess scores 1 - 1/K",
    ),
}

_PARTNERS: dict[str, tuple[str, ...]] = {
    EXACT_MATCH: (TOKEN_EDIT_DISTANCE, TOKEN_LOSS, TOKEN_PROB),
    MC_GRADE: (BRIER, CHOICE_PROB),
    "acc": (BRIER, CHOICE_PROB),
    "acc_norm": (BRIER, CHOICE_PROB),
}

_REQUIRES: dict[str, tuple[str, ...]] = {
    EXACT_MATCH: (schema.TARGET, schema.PREDICTION),
    TOKEN_EDIT_DISTANCE: (schema.TARGET, schema.PREDICTION),
    TOKEN_LOSS: (schema.TARGET_LOGPROBS,),
    TOKEN_PROB: (schema.TARGET_LOGPROBS,),
    MC_GRADE: (schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE),
    CHOICE_PROB: (schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE),
    BRIER: (schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE),
}

DEFAULT_OPTIONS = MetricOptions()


def _computable(metric: str, columns: set[str]) -> bool:
    if metric == TOKEN_EDIT_DISTANCE and {schema.TARGET_TOKENS, schema.PREDICTION_TOKENS} <= columns:
        return True
    return columns.issuperset(_REQUIRES[metric])


_LOWER_IS_BETTER = ("loss", "distance", "ppl", "perplexity", "brier", "error", "bpb", "bits_per", "ter")


def partners(metric: str) -> tuple[str, ...]:
    """Every continuous metric from the same outputs as ``metric``, best first (empty when it has none)."""
    return _PARTNERS.get(metric, ())


def direction_from_name(name: str) -> int:
    """-1 (lower is better) for names that say loss, distance, perplexity, brier or error; else +1."""
    lowered = name.lower()
    return -1 if any(word in lowered for word in _LOWER_IS_BETTER) else +1


# Aggregate means never show their 0/1 nature: these names are taken as 0/1 metrics when no values are given.
_BINARY_NAMES = frozenset(
    {"acc", "acc_norm", "exact_match", "em", "mc_grade", "accuracy", "multiple_choice_grade"}
)


def spec_for(name: str, values: pl.Series | None = None) -> MetricSpec:
    """The spec of a metric id: the registry's for known ids, else one inferred from the name and values.

    An unknown metric is discontinuous and binary when all its (non-null) ``values`` are 0 or 1 (pre-scored
    per-sample columns) or, without values, when its name is a known 0/1 metric (aggregate rows); else
    continuous. Lower is better when its name says so (see ``direction_from_name``).
    """
    if name in METRICS:
        return METRICS[name]
    if values is None:
        binary = name.lower() in _BINARY_NAMES
        description = "guessed from name"
    else:
        present = values.drop_nulls().cast(pl.Float64)
        binary = len(present) > 0 and bool(present.is_in([0.0, 1.0]).all())
        description = f"pre-scored column from the file ({'0/1 values' if binary else 'numeric values'})"
    kind = "discontinuous" if binary else "continuous"
    return MetricSpec(name, direction_from_name(name), kind, binary=binary, description=description)


def sample_metric_ids(columns: Sequence[str], prescored: Sequence[str] = ()) -> list[str]:
    """Metric ids that per-sample rows with these columns give: computable ones, then pre-scored columns."""
    have = set(columns)
    computed = [m for m in _REQUIRES if _computable(m, have) and m not in prescored]
    return [*computed, *prescored]
