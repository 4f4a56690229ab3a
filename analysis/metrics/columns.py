"""Metrics read from columns as they are: the file's own pre-scored per-sample columns, and token_loss,
token_prob and seq_prob, one expression each over the target's log-probabilities."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from analysis import schema
from analysis.metrics.registry import SEQ_PROB, TOKEN_LOSS, TOKEN_PROB, spec_for
from analysis.schema import MetricSpec


def _loss_metrics(samples: pl.DataFrame, wanted: set[str]) -> dict[str, pl.Series]:
    """token_loss (minus the mean target log-probability), token_prob = exp(-token_loss) and seq_prob =
    exp(sum of the log-probabilities), the ones in ``wanted``."""
    logprobs = samples[schema.TARGET_LOGPROBS]
    out: dict[str, pl.Series] = {}
    if {TOKEN_LOSS, TOKEN_PROB} & wanted:
        loss = (-logprobs.list.mean()).fill_nan(None)  # eager: a third of the CPU
        out |= {TOKEN_LOSS: loss.alias(TOKEN_LOSS), TOKEN_PROB: (-loss).exp().alias(TOKEN_PROB)}
    if SEQ_PROB in wanted:
        total = logprobs.list.sum().fill_nan(None)
        out[SEQ_PROB] = total.exp().alias(SEQ_PROB).set(logprobs.list.len().fill_null(0) == 0, None)
    return out


def _prescored_metrics(
    samples: pl.DataFrame, prescored: list[str], specs: Mapping[str, MetricSpec] | None = None
) -> tuple[dict[str, pl.Series], dict[str, MetricSpec]]:
    """The pre-scored columns as Float64 metrics, each with a spec inferred from its name and values (or
    ``specs``' when it has one: inferred from the whole file's values when ``samples`` is one task of it)."""
    columns = {name: samples[name].cast(pl.Float64) for name in prescored}
    given = specs or {}
    return columns, {name: given.get(name) or spec_for(name, samples[name]) for name in prescored}
