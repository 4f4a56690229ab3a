"""Settings the user controls, one frozen dataclass per stage: a change reruns only that stage.

Each settings object validates all its values when it is made (``__post_init__``), as scipy validates every
argument up front: the CLI, the report and the app build the same objects, so one rule (and one cap on the
number of replicates, ``MAX_BOOTSTRAP``) holds everywhere, and a stage never sees invalid settings. A bad
value is an ``InputError`` (a ``ValueError``) naming the CLI option and the app's field. Names with their
own registry are checked there: a law by ``analysis.fits.laws.get_law``, an axis against the points' columns
by the fit stage, a format by ``analysis.formats.registry``. This module imports no polars, numpy or scipy, so
the app can import it before its first paint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

from analysis.errors import InputError

MAX_BOOTSTRAP = (
    100_000  # replicates: more takes minutes, and a percentile's Monte Carlo error is already tiny
)
TOKENIZERS: tuple[str, ...] = ("chars", "whitespace")
RESAMPLE_UNITS: tuple[str, ...] = ("item", "seed", "run")  # see analysis.resampling.units
MAX_SWEEP = 100  # sizes, and subsamples per size, of the resolution sweep: each is a run of the analysis


def _is_whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_replicates(value: int, what: str) -> None:
    if not _is_whole(value) or not 0 <= value <= MAX_BOOTSTRAP:
        raise InputError(f"{what} must be a whole number from 0 (off) to {MAX_BOOTSTRAP}, got {value!r}")


def _check_level(value: float, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < value < 1.0:
        raise InputError(f"{what} must be between 0 and 1 (exclusive), such as 0.95, got {value!r}")


def _check_whole(value: int, what: str) -> None:
    if not _is_whole(value):
        raise InputError(f"{what} must be a whole number, got {value!r}")


@dataclass(frozen=True)
class LoadOptions:
    """How to read the user's files into the canonical table."""

    mapping: dict[str, str] = field(default_factory=dict)  # their column name -> canonical name
    format_in: str | None = None  # force a reader ("tidy", "lm_eval", "lm_eval_old", "bigbench", "wide")
    sizes_file: str | None = None  # a small table: model, params[, tokens]
    params_from_name: bool = False  # parse "pythia-1.4b" -> 1.4e9, marked nominal
    params_field: str = "non_embedding"  # BIG-bench: "non_embedding" or "total"
    tokens_per_step: float | None = None  # old lm-eval checkpoints: tokens = step * tokens_per_step
    scale_factors: dict[str, float] = field(
        default_factory=dict
    )  # e.g. {"params": 1e9} for sizes in billions
    family: str | None = None  # family for files that name none
    family_from_name: bool = (
        False  # a file's unnamed families from its model names ("pythia-1.4b" -> "pythia")
    )
    null_values: tuple[str, ...] = ()  # wide tables: cell values meaning "missing", e.g. ("-100",)
    # tables (tidy, wide): drop the rows whose COLUMN equals VALUE, e.g. (("epoch_excluded_outlier", "1"),)
    drop_where: tuple[tuple[str, str], ...] = ()


OVERRIDE_FIELDS = ("kind", "direction", "chance", "partner")
KINDS = ("discontinuous", "continuous")
DIRECTIONS = {"higher": 1, "lower": -1, "+1": 1, "-1": -1, "1": 1}


def _check_override(metric: str, name: str, value: str) -> None:
    """One line naming the flag and what it accepts, for a bad --kind/--direction/--chance/--partner."""
    if name not in OVERRIDE_FIELDS:
        raise InputError(f"unknown metric setting {name!r}; use one of {', '.join(OVERRIDE_FIELDS)}")
    if not metric or not value:
        raise InputError(f"--{name} takes METRIC=VALUE, got {metric!r}={value!r}")
    if name == "kind" and value not in KINDS:
        raise InputError(f"--kind {metric}={value}: the kind must be one of {', '.join(KINDS)}")
    if name == "direction" and value not in DIRECTIONS:
        raise InputError(f"--direction {metric}={value}: say higher or lower (which is better)")
    if name == "chance":
        try:
            chance = float(value)
        except ValueError:
            chance = math.nan
        if not 0.0 <= chance < 1.0:
            raise InputError(f"--chance {metric}={value}: chance must be a number in [0, 1), e.g. 0.25")


@dataclass(frozen=True)
class MetricOptions:
    """How per-sample outputs become metric values."""

    tokenizer: str = "chars"  # "chars", "whitespace" (or given token-list columns, used when present)
    case_fold: bool = False  # exact match and edit distance compare after strip(), and lower() when True
    only: tuple[str, ...] | None = None  # registry metrics to compute; None: every one the columns allow
    # what the user knows about a metric: (metric, field, value), field one of OVERRIDE_FIELDS
    overrides: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise InputError(
                f"the tokenizer (--tokenizer) must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}"
            )
        for metric, name, value in self.overrides:
            _check_override(metric, name, value)


@dataclass(frozen=True)
class ResampleSettings:
    """Bootstrap and test-set-size settings."""

    bootstrap: int = 1000  # B; 0 turns the bootstrap off
    ci: float = 0.95
    seed: int = 0
    subsample: int | None = None  # evaluate each model on a seeded random n' of its items
    paired: bool = True  # one draw of item ids applied to every model of a task
    unit: str = "item"  # what the bootstrap resamples: items, or also seeds/epochs/repeats ("seed", "run")

    def __post_init__(self) -> None:
        if self.unit not in RESAMPLE_UNITS:
            raise InputError(
                f"the resampling unit (--resample-unit) must be one of {', '.join(RESAMPLE_UNITS)}, "
                f"got {self.unit!r}"
            )
        _check_replicates(self.bootstrap, "the bootstrap replicates B (--bootstrap)")
        _check_level(self.ci, "the CI level (--ci)")
        _check_whole(self.seed, "the seed (--seed)")
        if self.subsample is not None and (not _is_whole(self.subsample) or self.subsample < 1):
            raise InputError(
                "the subsample n' (--subsample) must be a positive number of items (or none for all items), "
                f"got {self.subsample!r}"
            )


@dataclass(frozen=True)
class FitSettings:
    """Which law to fit against which axis, and how to check it."""

    x: str = "params"  # "params", "tokens", "flops" or "loss"
    law: str | None = None  # None: the metric's default (saturating for losses, logistic for bounded scores)
    holdout: int = 0  # backtest: fit on all but the K largest scales
    bootstrap: int = 200  # fit bootstrap replicates (resampling the fitted points)
    ci: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not _is_whole(self.holdout) or self.holdout < 0:
            raise InputError(
                f"the backtest holdout (--holdout) must be 0 (off) or more scales, got {self.holdout!r}"
            )
        _check_replicates(self.bootstrap, "the fit bootstrap replicates (--fit-bootstrap)")
        _check_level(self.ci, "the CI level (--ci)")
        _check_whole(self.seed, "the seed (--seed)")


@dataclass(frozen=True)
class SweepSettings:
    """The resolution sweep (``analysis.sweep``): which test-set sizes n', how many seeded subsamples of each,
    and the bootstrap replicates B of each subsample's points."""

    sizes: tuple[int, ...] = ()  # explicit sizes n'; (): ``count`` sizes log-spaced from ``start`` to full n
    count: int = 8
    repeats: int = 5
    bootstrap: int = 200  # B inside the sweep: the statuses need the replicates' spread, not fine percentiles
    start: int = 50

    def __post_init__(self) -> None:
        if not isinstance(self.sizes, tuple) or not all(_is_whole(n) and n >= 1 for n in self.sizes):
            raise InputError(
                f"the sweep sizes (--sweep-sizes) must be positive numbers of items, got {self.sizes!r}"
            )
        if not _is_whole(self.count) or not 1 <= self.count <= MAX_SWEEP:
            raise InputError(
                f"the number of sweep sizes (--sweep-sizes) must be from 1 to {MAX_SWEEP}, got {self.count!r}"
            )
        if not _is_whole(self.repeats) or not 1 <= self.repeats <= MAX_SWEEP:
            raise InputError(
                f"the subsamples per size (--sweep-repeats) must be from 1 to {MAX_SWEEP}, "
                f"got {self.repeats!r}"
            )
        _check_replicates(self.bootstrap, "the sweep's bootstrap replicates B (--sweep-bootstrap)")
        if not _is_whole(self.start) or self.start < 1:
            raise InputError(
                f"the sweep's smallest size must be a positive number of items, got {self.start!r}"
            )


NEXT_SCALE = "next"  # a forecast at the next decade beyond the family's largest scale (analysis.forecasts)
EXTRAPOLATION_FACTOR = 10.0  # a forecast beyond the fitted range by more than this factor is flagged


@dataclass(frozen=True)
class ForecastSettings:
    """Forecasts (``analysis.forecasts``): the scales to forecast at on the current axis (numbers, or
    ``"next"``), the factor beyond the fitted range from which a forecast is flagged as a far extrapolation,
    and the scales held out by the calibration (``holdouts``: the largest one, then the largest two)."""

    scales: tuple[float | str, ...] = ()
    factor: float = EXTRAPOLATION_FACTOR
    holdouts: tuple[int, ...] = (1, 2)

    def __post_init__(self) -> None:
        for scale in self.scales:
            if scale == NEXT_SCALE:
                continue
            if (
                not isinstance(scale, Real)
                or isinstance(scale, bool)
                or not (math.isfinite(scale) and scale > 0)
            ):
                raise InputError(
                    f"--predict takes a positive number on the current axis or 'next', got {scale!r}"
                )
        if not isinstance(self.factor, Real) or not (math.isfinite(self.factor) and self.factor >= 1):
            raise InputError(f"the extrapolation factor must be a number of at least 1, got {self.factor!r}")
        if not self.holdouts or not all(_is_whole(k) and k >= 1 for k in self.holdouts):
            raise InputError(
                f"the calibration hold-outs must be whole numbers of scales >= 1, got {self.holdouts!r}"
            )
