"""Metrics from per-sample outputs: the registry of ``MetricSpec`` and ``score_samples``.

Modules, from the bottom up (each imports only those above it):

* ``registry``: the metric ids, their specs, partners, direction rules and the spec of an unknown metric;
* ``levenshtein``: the batched token edit distance of short ASCII pairs (the fast path of ``text``);
* ``runs``: writing per-row results run by run (rows with and without a value come in few runs);
* ``choice``: mc_grade, choice_prob and brier from choice log-likelihoods (plain and fast paths);
* ``text``: exact_match and token_edit_distance from texts or token lists;
* ``columns``: metrics read from columns: pre-scored columns, token_loss, token_prob and seq_prob;
* ``score``: ``score_samples``, the pipeline's score stage.
"""

from analysis.metrics.registry import (
    BRIER,
    CHOICE_PROB,
    DEFAULT_OPTIONS,
    EXACT_MATCH,
    MC_GRADE,
    METRICS,
    SEQ_PROB,
    TOKEN_EDIT_DISTANCE,
    TOKEN_LOSS,
    TOKEN_PROB,
    direction_from_name,
    guesses,
    partners,
    sample_metric_ids,
    spec_for,
    with_overrides,
)
from analysis.metrics.score import score_samples
from analysis.metrics.text import token_edit_distances

__all__ = [
    "BRIER",
    "CHOICE_PROB",
    "DEFAULT_OPTIONS",
    "EXACT_MATCH",
    "MC_GRADE",
    "METRICS",
    "SEQ_PROB",
    "TOKEN_EDIT_DISTANCE",
    "TOKEN_LOSS",
    "TOKEN_PROB",
    "direction_from_name",
    "guesses",
    "partners",
    "sample_metric_ids",
    "score_samples",
    "spec_for",
    "token_edit_distances",
    "with_overrides",
]
