"""The canonical data model: column names, dtypes and the frozen containers passed between stages.

One tidy long table in two kinds of rows (see DESIGN.md):

* per-sample rows, one per family x model x task x item, holding whichever raw outputs exist;
* aggregate rows, one per family x model x task x metric, holding a value (or counts) and maybe n and stderr.

Both may carry an optional ``replicate`` label (training seed, Inspect epoch, lm-eval repeat): rows that
differ only in it are repeated measurements of one point, averaged by the points stage, where the resampling
unit (``ResampleSettings.unit``) decides whether the interval resamples them.

Scales are always Float64 (an int64 6ND overflows). Families are never pooled: every downstream group-by
starts with ``family``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

import polars as pl

# identity
FAMILY = "family"
MODEL = "model"
TASK = "task"
PARAMS = "params"
TOKENS = "tokens"
FLOPS = "flops"
LOSS = "loss"
SCALES: tuple[str, ...] = (PARAMS, TOKENS, FLOPS, LOSS)
NOMINAL = "params_nominal"  # Boolean: params parsed from a model name, not measured
IDENTITY: tuple[str, ...] = (FAMILY, MODEL, TASK)

# per-sample outputs
ITEM = "item"
TARGET = "target"
PREDICTION = "prediction"
TARGET_TOKENS = "target_tokens"  # List(Utf8): given token lists, used instead of tokenising text
PREDICTION_TOKENS = "prediction_tokens"  # List(Utf8)
TARGET_LOGPROBS = "target_logprobs"  # List(Float64): log-prob of each target token
CHOICE_LOGLIKS = "choice_logliks"  # List(Float64): log-likelihood of each choice
CORRECT_CHOICE = "correct_choice"  # Int64: 0-based index of the correct choice
OUTPUT_COLUMNS: tuple[str, ...] = (
    TARGET,
    PREDICTION,
    TARGET_TOKENS,
    PREDICTION_TOKENS,
    TARGET_LOGPROBS,
    CHOICE_LOGLIKS,
    CORRECT_CHOICE,
)

# repeated measurements of one point: a training seed, an Inspect epoch, an lm-eval repeat (optional)
REPLICATE = "replicate"

# aggregate rows and long metric tables
METRIC = "metric"
VALUE = "value"
N = "n"
STDERR = "stderr"
N_CORRECT = "n_correct"

# points
LO = "lo"
HI = "hi"
BINOM_LO = "binom_lo"
BINOM_HI = "binom_hi"
SOURCE = "source"  # "samples" or "aggregate"
UNIT = "unit"  # what the point's interval resampled: "item", "seed", "run" (see analysis.resampling.units)
N_REPLICATES = "n_replicates"  # replicates (seeds, epochs, repeats) averaged into the point
RESOLVED = "resolved"  # the interval excludes the floor (0, or chance): analysis.resolution.resolved
ITEMS_TO_RESOLVE = "items_to_resolve"  # test-set size that would resolve the point (analysis.resolution)
ITEMS_AT = "items_at"  # "value" or "upper bound": the rate items_to_resolve was computed at

CANONICAL_COLUMNS: tuple[str, ...] = (
    *IDENTITY,
    *SCALES,
    NOMINAL,
    ITEM,
    REPLICATE,
    *OUTPUT_COLUMNS,
    METRIC,
    VALUE,
    N,
    STDERR,
    N_CORRECT,
)

# extra roles a mapping may give a column of a wide table (see analysis/formats/wide.py)
MAPPING_ROLES: tuple[str, ...] = ("shots", "step", "variant", "ignore")

DTYPES: dict[str, pl.DataType] = {
    FAMILY: pl.Utf8(),
    MODEL: pl.Utf8(),
    TASK: pl.Utf8(),
    PARAMS: pl.Float64(),
    TOKENS: pl.Float64(),
    FLOPS: pl.Float64(),
    LOSS: pl.Float64(),
    NOMINAL: pl.Boolean(),
    ITEM: pl.Utf8(),
    REPLICATE: pl.Utf8(),
    TARGET: pl.Utf8(),
    PREDICTION: pl.Utf8(),
    TARGET_TOKENS: pl.List(pl.Utf8()),
    PREDICTION_TOKENS: pl.List(pl.Utf8()),
    TARGET_LOGPROBS: pl.List(pl.Float64()),
    CHOICE_LOGLIKS: pl.List(pl.Float64()),
    CORRECT_CHOICE: pl.Int64(),
    METRIC: pl.Utf8(),
    VALUE: pl.Float64(),
    N: pl.Int64(),
    STDERR: pl.Float64(),
    N_CORRECT: pl.Float64(),
}

DEFAULT_FAMILY = "default"

SAMPLE_KEY: tuple[str, ...] = (FAMILY, MODEL, TASK, ITEM, REPLICATE)  # replicate: when the rows have one
AGGREGATE_KEY: tuple[str, ...] = (FAMILY, MODEL, TASK, METRIC, REPLICATE)
POINT_KEY: tuple[str, ...] = (FAMILY, MODEL, TASK, METRIC)


def empty_samples() -> pl.DataFrame:
    """A per-sample frame with the identity columns and no rows."""
    cols = (*IDENTITY, *SCALES, ITEM)
    return pl.DataFrame(schema={c: DTYPES[c] for c in cols})


def empty_aggregates() -> pl.DataFrame:
    """An aggregate frame with its columns and no rows."""
    cols = (*IDENTITY, *SCALES, METRIC, VALUE, N, STDERR)
    return pl.DataFrame(schema={c: DTYPES[c] for c in cols})


@dataclass(frozen=True)
class ResultTable:
    """What loading produces: canonical per-sample and aggregate rows, plus what the user should be told.

    ``prescored`` names the numeric per-sample columns that are metrics in their own right (e.g. lm-eval's
    ``acc``); ``nominal_models`` the models whose params were parsed from their names.
    """

    samples: pl.DataFrame = field(default_factory=empty_samples)
    aggregates: pl.DataFrame = field(default_factory=empty_aggregates)
    prescored: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def tasks(self) -> list[str]:
        names = set(self.samples[TASK].unique().to_list()) | set(self.aggregates[TASK].unique().to_list())
        return sorted(n for n in names if n is not None)

    @property
    def families(self) -> list[str]:
        names = set(self.samples[FAMILY].unique().to_list()) | set(self.aggregates[FAMILY].unique().to_list())
        return sorted(n for n in names if n is not None)


@dataclass(frozen=True)
class MetricSpec:
    """What a metric id means: its direction (+1 higher is better, -1 lower), kind and chance level, the
    continuous metrics on the same outputs it is checked against (``partners``), the link scale it is judged
    on (``scale``, see ``analysis.links``; None: decided from the other fields) and, for a metric the
    registry does not know, how its kind was guessed (``guessed``, said in the report)."""

    id: str
    direction: int
    kind: str  # "discontinuous" or "continuous"
    binary: bool = False  # values are 0/1, so binomial intervals apply
    chance: float | None = None
    description: str = ""
    partners: tuple[str, ...] = ()
    scale: str | None = None
    guessed: str = ""


@dataclass(frozen=True)
class ScoredSamples:
    """Per-sample metric values, wide: identity, ``item``, one Float64 column per metric in ``specs``."""

    frame: pl.DataFrame
    specs: dict[str, MetricSpec] = field(default_factory=dict)
    chance: dict[tuple[str, str], float] = field(default_factory=dict)  # (task, metric) -> chance level
    skipped: tuple[tuple[str, str], ...] = ()  # (metric, reason)
    overrides: tuple[tuple[str, str, str], ...] = ()  # what the user said of metrics (--kind, ...)

    @property
    def metrics(self) -> list[str]:
        return list(self.specs)


@dataclass(frozen=True, eq=False)
class Replicates:
    """Bootstrap replicates of each model's mean for one family x task x metric; ``values[b, j]``: model j.

    Held (``stored``), or drawn again on each read by ``draw`` (seeded: the same numbers every time), which
    keeps a large table's replicates out of memory between the stages that read them one curve at a time.
    """

    models: tuple[str, ...]
    stored: object = None  # numpy.ndarray of shape (B, len(models))
    draw: Callable[[int | None], object] | None = None  # the first ``count`` rows of that array (None: all)

    @property
    def values(self) -> object:
        """The (B, len(models)) replicate values."""
        return self.head(None)

    def head(self, count: int | None) -> object:
        """The first ``count`` replicates (all when None); a drawn group draws only those where it can."""
        if self.draw is not None:
            return self.draw(count)
        return self.stored if count is None else self.stored[:count]  # type: ignore[index]


@dataclass(frozen=True, eq=False)
class PointSet:
    """One value with an interval per family x model x task x metric (columns in DESIGN.md)."""

    frame: pl.DataFrame
    replicates: dict[tuple[str, str, str], Replicates] = field(default_factory=dict)
    specs: dict[str, MetricSpec] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def without_data(self) -> PointSet:
        """The points without their bootstrap replicates (large): what a display reads."""
        return replace(self, replicates={})

    def of_tasks(self, tasks: Collection[str]) -> PointSet:
        """The points of ``tasks`` only; replicates are looked up by family x task x metric, so the same
        ones serve (a curve's fits and forecasts are the same as among every task's)."""
        return replace(self, frame=self.frame.filter(pl.col(TASK).is_in(list(tasks))))
