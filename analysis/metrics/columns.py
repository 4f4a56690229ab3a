"""Metrics read from columns as they are: the file's own pre-scored per-sample columns, and token_loss and
token_prob, one expression over the target's log-probabilities."""

from __future__ import annotations

import polars as pl

from analysis import schema
from analysis.metrics.registry import TOKEN_LOSS, TOKEN_PROB, spec_for
from analysis.schema import MetricSpec


def _loss_metrics(samples: pl.DataFrame) -> dict[str, pl.Series]:
    """token_loss (minus the mean target log-probability) and token_prob = exp(-token_loss)."""
    loss = (-samples[schema.TARGET_LOGPROBS].list.mean()).fill_nan(None)  # eager: a third of the CPU
    return {TOKEN_LOSS: loss.alias(TOKEN_LOSS), TOKEN_PROB: (-loss).exp().alias(TOKEN_PROB)}


def _prescored_metrics(
    samples: pl.DataFrame, prescored: list[str]
) -> tuple[dict[str, pl.Series], dict[str, MetricSpec]]:
    """The pre-scored columns as Float64 metrics, each with a spec inferred from its name and values."""
    columns = {name: samples[name].cast(pl.Float64) for name in prescored}
    return columns, {name: spec_for(name, samples[name]) for name in prescored}
