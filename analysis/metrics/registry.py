"""The metric registry: ids, specs (direction, kind, 0/1, chance), partners and the spec of an unknown metric.

Several metrics come from the same rows (docs/science.md section 3), so a jump under a discontinuous metric
can be checked against a continuous one on the same outputs. Conventions stated once here:

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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import polars as pl

from analysis import schema
from analysis.options import DIRECTIONS, MetricOptions
from analysis.schema import MetricSpec

EXACT_MATCH = "exact_match"
TOKEN_EDIT_DISTANCE = "token_edit_distance"
TOKEN_LOSS = "token_loss"
TOKEN_PROB = "token_prob"
SEQ_PROB = "seq_prob"
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
        partners=(TOKEN_EDIT_DISTANCE, TOKEN_LOSS, TOKEN_PROB, SEQ_PROB),
        scale="loglog",
    ),
    TOKEN_EDIT_DISTANCE: MetricSpec(
        TOKEN_EDIT_DISTANCE,
        -1,
        "continuous",
        description="Levenshtein distance between target and prediction tokens (characters by default, "
        "whitespace tokens, or the given token lists), after the exact-match normalisation",
        scale="edit",
    ),
    TOKEN_LOSS: MetricSpec(
        TOKEN_LOSS,
        -1,
        "continuous",
        description="per-token cross-entropy of the target: minus the mean of its token log-probabilities",
        scale="log",
    ),
    TOKEN_PROB: MetricSpec(
        TOKEN_PROB,
        +1,
        "continuous",
        description="exp(-token_loss): the geometric-mean probability of a target token",
        scale="loglog",
    ),
    SEQ_PROB: MetricSpec(
        SEQ_PROB,
        +1,
        "continuous",
        description="exp(sum of the target's token log-probabilities): the probability of the whole target, "
        "the chance of an exact match if the model sampled its answer (its mean predicts exact_match)",
        scale="loglog",
    ),
    MC_GRADE: MetricSpec(
        MC_GRADE,
        +1,
        "discontinuous",
        binary=True,
        description="1 when the correct choice has the highest log-likelihood (first maximum wins ties), "
        "else 0; chance 1/K",
        partners=(CHOICE_PROB, BRIER),
        scale="logit",
    ),
    CHOICE_PROB: MetricSpec(
        CHOICE_PROB,
        +1,
        "continuous",
        description="softmax probability of the correct choice over the choices' log-likelihoods; chance 1/K",
        scale="loglog",
    ),
    BRIER: MetricSpec(
        BRIER,
        -1,
        "continuous",
        description="sum over the K choices of (q_k - 1[k = correct])^2 for the softmax q, not divided by K: "
        "range [0, 2]; a uniform guess scores 1 - 1/K",
        scale="brier",
    ),
}

# the continuous metrics a pre-scored discontinuous metric is checked against, by the kind its name says:
# exact-match-like answers against the text and log-prob metrics, accuracies against the choice metrics
_EXACT_PARTNERS = (TOKEN_EDIT_DISTANCE, "edit_distance", TOKEN_LOSS, TOKEN_PROB, SEQ_PROB)
_CHOICE_PARTNERS = (CHOICE_PROB, BRIER)

_REQUIRES: dict[str, tuple[str, ...]] = {
    EXACT_MATCH: (schema.TARGET, schema.PREDICTION),
    TOKEN_EDIT_DISTANCE: (schema.TARGET, schema.PREDICTION),
    TOKEN_LOSS: (schema.TARGET_LOGPROBS,),
    TOKEN_PROB: (schema.TARGET_LOGPROBS,),
    SEQ_PROB: (schema.TARGET_LOGPROBS,),
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
# words of a metric's name (its filter suffix dropped) that say what kind of number it is
_DISCONTINUOUS_WORDS = frozenset(
    {"exact", "em", "acc", "accuracy", "match", "grade", "correct", "pass", "mc1", "mc2", "strict"}
)
_EXACT_WORDS = frozenset({"exact", "em", "match", "pass", "strict"})
_CONTINUOUS_WORDS = frozenset(
    {"distance", "loss", "prob", "probability", "brier", "f1", "bleu", "rouge", "rouge1", "rouge2", "rougel",
     "chrf", "ppl", "perplexity", "logprob", "likelihood", "bpb", "bits", "ter", "calibration"}
)  # fmt: skip


def words_of(name: str) -> list[str]:
    """The words of a metric id without its filter (``exact_match[strict-match]``, ``acc,none``)."""
    base = re.split(r"[\[,]", name, maxsplit=1)[0]
    return [w for w in re.split(r"[^a-z0-9@]+", base.lower()) if w]


def partners(metric: str) -> tuple[str, ...]:
    """The continuous metrics from the same outputs ``metric`` is checked against, best first: the
    registry's, else those its name suggests (exact-match-like, or an accuracy), else none."""
    if metric in METRICS:
        return METRICS[metric].partners
    words = set(words_of(metric))
    if not words & _DISCONTINUOUS_WORDS or words & _CONTINUOUS_WORDS:
        return ()
    return _EXACT_PARTNERS if words & _EXACT_WORDS else _CHOICE_PARTNERS


def direction_from_name(name: str) -> int:
    """-1 (lower is better) for names that say loss, distance, perplexity, brier or error; else +1."""
    lowered = name.lower()
    return -1 if any(word in lowered for word in _LOWER_IS_BETTER) else +1


def spec_for(name: str, values: pl.Series | None = None) -> MetricSpec:
    """The spec of a metric id: the registry's for known ids, else one guessed from the name and values.

    An unknown metric is discontinuous and 0/1 when all its (non-null) ``values`` are 0 or 1 (pre-scored
    per-sample columns), or when a word of its name says so (exact, em, acc, accuracy, match, grade,
    correct, pass; the filter suffix ``[strict-match]`` left out) and none says it is continuous (distance,
    loss, prob, f1, bleu, score, ...); else continuous. Lower is better when its name says so
    (``direction_from_name``). ``guessed`` says which rule decided, for the report.
    """
    if name in METRICS:
        return METRICS[name]
    words = set(words_of(name))
    said = sorted(words & _DISCONTINUOUS_WORDS) if not words & _CONTINUOUS_WORDS else []
    binary_values = False
    if values is not None:
        present = values.drop_nulls().cast(pl.Float64)
        binary_values = len(present) > 0 and bool(present.is_in([0.0, 1.0]).all())
    if binary_values:
        kind, guessed = "discontinuous", "its values are all 0 or 1"
    elif said and values is None:
        kind, guessed = "discontinuous", f"its name says {said[0]!r}"
    elif said:  # a per-sample column named like an accuracy but holding other numbers: a score
        kind, guessed = "continuous", f"its name says {said[0]!r} but its values are not 0/1"
    else:
        kind, guessed = "continuous", "no word of its name says discontinuous"
    description = "pre-scored column from the file" if values is not None else "guessed from name"
    binary = kind == "discontinuous"
    return MetricSpec(
        name,
        direction_from_name(name),
        kind,
        binary=binary,
        description=description,
        partners=partners(name) if binary else (),
        guessed=guessed,
    )


def with_overrides(
    specs: Mapping[str, MetricSpec], overrides: Iterable[tuple[str, str, str]]
) -> dict[str, MetricSpec]:
    """``specs`` with what the user said (``--kind``, ``--direction``, ``--chance``, ``--partner``)."""
    out = dict(specs)
    for metric, field, value in overrides:
        if metric not in out:
            continue
        spec = out[metric]
        if field == "kind":
            spec = replace(spec, kind=value, binary=spec.binary and value == "discontinuous", guessed="")
        elif field == "direction":
            spec = replace(spec, direction=DIRECTIONS[value])
        elif field == "chance":
            spec = replace(spec, chance=float(value))
        elif field == "partner":
            partners_ = () if spec.partners == partners(metric) and metric not in METRICS else spec.partners
            spec = replace(spec, partners=(*partners_, *[p for p in value.split(",") if p]))
        out[metric] = replace(spec, description=f"{spec.description}; set by --{field}")
    return out


def guesses(specs: Mapping[str, MetricSpec]) -> list[str]:
    """One note per metric whose kind was guessed, saying how and which flag changes it."""
    return [
        f"{spec.id}: {spec.kind} because {spec.guessed} (--kind {spec.id}="
        f"{'continuous' if spec.kind == 'discontinuous' else 'discontinuous'} to change)"
        for spec in specs.values()
        if spec.guessed
    ]


def sample_metric_ids(columns: Sequence[str], prescored: Sequence[str] = ()) -> list[str]:
    """Metric ids that per-sample rows with these columns give: computable ones, then pre-scored columns."""
    have = set(columns)
    computed = [m for m in _REQUIRES if _computable(m, have) and m not in prescored]
    return [*computed, *prescored]
