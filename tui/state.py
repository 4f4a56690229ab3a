"""What the user has chosen on screen: one frozen value, replaced (never mutated) on every key press."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from analysis.options import FitSettings, MetricOptions, ResampleSettings

AXES: tuple[str, ...] = ("params", "tokens", "flops", "loss")
LAWS: tuple[str | None, ...] = (
    None,
    "power",
    "saturating",
    "logistic",
    "joint",
)  # None: the metric's default
HOLDOUTS: tuple[int, ...] = (0, 1, 2, 3)
T = TypeVar("T")


def cycle(options: Sequence[T], current: T, step: int = 1) -> T:
    """The option ``step`` places after ``current`` (wrapping); the first one when ``current`` is absent."""
    if not options:
        return current
    if current not in options:
        return options[0]
    return options[(list(options).index(current) + step) % len(options)]


@dataclass(frozen=True)
class ViewSettings:
    """Every toggle of the app. ``metric``/``family`` None mean "all" (the overview shows every row)."""

    metric: str | None = None
    axis: str = "params"
    log_y: bool = False
    law: str | None = None
    family: str | None = None
    holdout: int = 0
    resample: ResampleSettings = field(default_factory=ResampleSettings)
    metric_options: MetricOptions = field(default_factory=MetricOptions)

    def fit_settings(self) -> FitSettings:
        """The fit stage's settings: only axis, law and holdout (and the seed) affect it."""
        return FitSettings(x=self.axis, law=self.law, holdout=self.holdout, seed=self.resample.seed)

    def with_(self, **changes: object) -> ViewSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def resample_text(self) -> str:
        r = self.resample
        boot = f"B={r.bootstrap}" if r.bootstrap else "B=off"
        sub = f"n'={r.subsample}" if r.subsample else "n'=all"
        return f"{boot} CI={r.ci:.0%} seed={r.seed} {sub} {'paired' if r.paired else 'unpaired'}"

    def status_text(self) -> str:
        """The one-line summary the status bar always shows."""
        metric = self.metric or "all metrics"
        family = self.family or "all families"
        law = self.law or "default law"
        hold = f" holdout={self.holdout}" if self.holdout else ""
        logy = " log-y" if self.log_y else ""
        return f"{metric} | x={self.axis}{logy} | {law}{hold} | {family} | {self.resample_text()}"


def needs_compute(new: ViewSettings, old: ViewSettings) -> bool:
    """Whether going from ``old`` to ``new`` changes a computed stage (else a redraw is enough)."""
    return (
        new.resample != old.resample
        or new.metric_options != old.metric_options
        or new.fit_settings() != old.fit_settings()
    )
