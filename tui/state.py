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
        """Test-set size n' and paired, then B, CI level and seed, abbreviated for the status line."""
        r = self.resample
        sub = f"n'={r.subsample}" if r.subsample else "n'=all"
        pairing = "paired" if r.paired else "unpaired"
        return f"{sub} {pairing}  B={r.bootstrap or 'off'} {r.ci:.0%} seed={r.seed}"

    def status_text(self, *, log_y_shown: bool | None = None) -> str:
        """The settings summary the status bar always shows, in the order that matters at 80 columns while a
        stage runs: axis and law, n' and paired, then B, CI and seed, then metric and family (which the
        screens also show).

        ``log_y_shown`` False when the plot refused log-y: the status then says ``lin-y``, not ``log-y``.
        """
        from tui.safe_text import elide

        log_y = self.log_y if log_y_shown is None else self.log_y and log_y_shown
        y = " log-y" if log_y else " lin-y" if self.log_y else ""
        hold = f" hold={self.holdout}" if self.holdout else ""
        metric = elide(self.metric, 18) if self.metric else "all metrics"
        family = f"fam={elide(self.family, 14)}" if self.family else "all fams"
        return f"x={self.axis}{y}  law={self.law or 'auto'}{hold}  {self.resample_text()}  {metric}  {family}"


def needs_compute(new: ViewSettings, old: ViewSettings) -> bool:
    """Whether going from ``old`` to ``new`` changes a computed stage (else a redraw is enough)."""
    return (
        new.resample != old.resample
        or new.metric_options != old.metric_options
        or new.fit_settings() != old.fit_settings()
    )
