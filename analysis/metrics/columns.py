"""Metrics that are one column expression: token_loss and token_prob from the target's log-probabilities."""

from __future__ import annotations

import polars as pl

from analysis import schema
from analysis.metrics.registry import TOKEN_LOSS, TOKEN_PROB


def _loss_metrics(samples: pl.DataFrame) -> dict[str, pl.Series]:
    """token_loss (minus the mean target log-probability) and token_prob = exp(-token_loss)."""
    loss = (-samples[schema.TARGET_LOGPROBS].list.mean()).fill_nan(None)  # eager: a third of the CPU
    return {TOKEN_LOSS: loss.alias(TOKEN_LOSS), TOKEN_PROB: (-loss).exp().alias(TOKEN_PROB)}
