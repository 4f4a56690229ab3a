"""Settings the user controls, one frozen dataclass per stage: a change reruns only that stage."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    null_values: tuple[str, ...] = ()  # wide tables: cell values meaning "missing", e.g. ("-100",)


@dataclass(frozen=True)
class MetricOptions:
    """How per-sample outputs become metric values."""

    tokenizer: str = "chars"  # "chars", "whitespace" (or given token-list columns, used when present)
    case_fold: bool = False  # exact match and edit distance compare after strip(), and lower() when True
    only: tuple[str, ...] | None = None  # registry metrics to compute; None: every one the columns allow


@dataclass(frozen=True)
class ResampleSettings:
    """Bootstrap and test-set-size settings."""

    bootstrap: int = 1000  # B; 0 turns the bootstrap off
    ci: float = 0.95
    seed: int = 0
    subsample: int | None = None  # evaluate each model on a seeded random n' of its items
    paired: bool = True  # one draw of item ids applied to every model of a task


@dataclass(frozen=True)
class FitSettings:
    """Which law to fit against which axis, and how to check it."""

    x: str = "params"  # "params", "tokens", "flops" or "loss"
    law: str | None = None  # None: the metric's default (saturating for losses, logistic for bounded scores)
    holdout: int = 0  # backtest: fit on all but the K largest scales
    bootstrap: int = 200  # fit bootstrap replicates (resampling the fitted points)
    ci: float = 0.95
    seed: int = 0
