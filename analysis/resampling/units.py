"""The resampling unit: how the replicates of one point (seeds, epochs, repeats) enter its bootstrap.

A point may average several *replicates*: training seeds of one size, Inspect epochs, lm-eval repeats (the
canonical ``replicate`` column). Each replicate's mean over items is bootstrapped over items first (paired:
one draw of item weights per family x task, for every model and replicate); ``combine`` then averages a
model's replicate means with weights that depend on ``ResampleSettings.unit``:

* ``item``: every replicate weighs 1. The interval covers item noise only (and the item x replicate noise that
  the item draw carries); between-seed noise is ignored. The unit for data without replicates.
* ``seed``: a two-level (hierarchical) bootstrap, the pigeonhole bootstrap of Owen (2007) for crossed designs:
  each replicate of each model weighs ``Gamma(1)`` (a Bayesian bootstrap over replicates), drawn independently
  per model, on top of the item draw. A model's seeds are its own training runs.
* ``run``: as ``seed``, but one weight per replicate label per family x task, shared by every model that has
  that label: the checkpoints of one training run (a family ``"<model> checkpoints"``, one model per step)
  move together, as correlated points of one run must.

Few replicates: a bootstrap over S values spreads like S draws, not like the population, so at S = 3 its
interval is far too narrow (a t interval with 2 degrees of freedom is 2.2 times a normal one). The seed-level
part of each replicate, its weighted mean minus the equal-weight mean, is therefore scaled by ``t_(S-1) / z *
sqrt((S + 1) / (S - 1))`` at the CI level: the Bayesian bootstrap's variance of a mean of S is ``(S - 1) / (S
+ 1)`` of the unbiased one, and the t quantile accounts for estimating it from S values. For normal seed
effects the percentile interval is then close to the t interval (coverage measured in ``docs/science.md``
section 4). A model with one replicate has no seed level: its unit is ``item``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.options import RESAMPLE_UNITS
from analysis.resampling.seeds import stream

UNITS = RESAMPLE_UNITS
ITEM, SEED, RUN = UNITS
UNIT_RULE = (
    "resampling unit (--resample-unit): `item` resamples items only (a point's replicates, e.g. seeds or "
    "epochs, weigh equally); `seed` adds a Bayesian bootstrap over each model's replicates on top of the "
    "paired item draw (two-level, Owen's pigeonhole bootstrap); `run` draws one weight per replicate label "
    "shared by every model of the family (checkpoints of one run move together); with S replicates the "
    "seed-level part is scaled by t_(S-1)/z * sqrt((S+1)/(S-1)); the `unit` column says what each interval "
    "resampled (a model with one replicate has no seed level: item)"
)


@dataclass(frozen=True, eq=False)
class Columns:
    """The value columns of one family x task: each a (model, replicate) pair, models in replicate order."""

    models: tuple[str, ...]  # distinct models, in order
    owner: np.ndarray  # (C,) the model of each column
    label: tuple[str, ...]  # (C,) the replicate label of each column

    @property
    def counts(self) -> np.ndarray:
        """Replicates per model."""
        return np.bincount(self.owner, minlength=len(self.models))

    def average(self, values: np.ndarray) -> np.ndarray:
        """Equal-weight mean over each model's columns of ``values`` (..., C), NaN columns left out.

        When each model has one column, in order (an aggregate table without seeds), the mean is the column:
        its value, or NaN where it is not finite, without the product by the identity (``_average``), 4 ms
        of every aggregate group's replicate draw at B = 1000. The product adds only exact zeros to each
        value, so the two are equal (a -0.0 reads +0.0 in both; tests/equivalence/test_aggregate_memory.py).
        """
        if len(self.owner) == len(self.models) and (self.owner == np.arange(len(self.owner))).all():
            return np.where(np.isfinite(values), values + 0.0, _ZERO_BY_ZERO)
        return _average(values, self.owner, len(self.models))


with np.errstate(invalid="ignore"):
    _ZERO_BY_ZERO = np.divide(np.zeros(1), np.zeros(1))[0]  # the NaN of 0 / 0, sign bit and all


def _average(values: np.ndarray, owner: np.ndarray, n_models: int) -> np.ndarray:
    """Equal-weight mean over each model's columns (``owner``) of ``values`` (..., C), NaN columns left out:
    a product by the columns' one-hot model matrix."""
    present = np.isfinite(values)
    onehot = _onehot(owner, n_models)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(present, values, 0.0) @ onehot) / (present @ onehot)


def _onehot(owner: np.ndarray, n_models: int) -> np.ndarray:
    out = np.zeros((len(owner), n_models))
    out[np.arange(len(owner)), owner] = 1.0
    return out


def unit_of(columns: Columns, unit: str) -> np.ndarray:
    """The unit each model's interval resamples: ``unit`` where the model has 2+ replicates, else ``item``."""
    return np.where(columns.counts >= 2, unit, ITEM)


def _inflation(replicates: np.ndarray, level: float) -> np.ndarray:
    """t_(S-1) / z * sqrt((S + 1) / (S - 1)) per model with S >= 2 replicates (1 otherwise)."""
    from scipy import stats

    s = np.maximum(replicates, 2).astype(np.float64)
    tail = 0.5 + level / 2.0
    factor = stats.t.ppf(tail, s - 1.0) / stats.norm.ppf(tail) * np.sqrt((s + 1.0) / (s - 1.0))
    return np.where(replicates >= 2, factor, 1.0)


def combine(
    draws: np.ndarray, columns: Columns, unit: str, level: float, seed: int, family: str, task: str
) -> np.ndarray:
    """Replicate values (B, models) of each model from the item-level replicates (B, C) of its columns.

    ``item``: the equal-weight mean of the model's columns. ``seed``/``run``: the equal-weight mean plus the
    inflated seed-level deviation of a Bayesian-bootstrap weighted mean (weights per column, or per label
    for ``run``), as the module docstring says. NaN columns (a replicate without the metric) are left out.
    """
    equal = columns.average(draws)
    if unit == ITEM or (columns.counts < 2).all():
        return equal
    n_replicates, n_columns = draws.shape
    rng = stream(seed, family, task, "unit", unit)
    if unit == RUN:
        labels, by_label = np.unique(np.asarray(columns.label, dtype=object), return_inverse=True)
        weights = rng.standard_exponential((n_replicates, len(labels)))[:, by_label.ravel()]
    else:
        weights = rng.standard_exponential((n_replicates, n_columns))
    present = np.isfinite(draws)
    weights = np.where(present, weights, 0.0)
    onehot = _onehot(columns.owner, len(columns.models))
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = (weights * np.where(present, draws, 0.0)) @ onehot / (weights @ onehot)
    counts = (present.any(axis=0) @ onehot).astype(np.int64)  # replicates of each model with a value
    inflation = _inflation(counts, level)
    return equal + inflation * (weighted - equal)
