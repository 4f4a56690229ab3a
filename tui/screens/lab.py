"""The mirage lab: the paper's simulator as a screen whose curves redraw as its numbers change.

Curves come from ``analysis.simulate.mirage_curves(c, alpha, params, length, choices)``. The "measured"
series (``analysis.simulate.measured_accuracy``) draws n Bernoulli items per model around the exact-match
curve to show the 1/n floor:
with n items nothing below 1/n can read as anything but 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import polars as pl
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.widgets.plot import PlotSpec, PlotWidget, Series
from tui.widgets.status import StatusLine

DISCONTINUOUS_WORDS = ("exact", "grade", "acc", "match")
LEFT_CURVES = ("exact_match", "mc_grade")  # shown when the simulator provides them; else every curve, by name
RIGHT_CURVES = ("neg_token_edit_distance", "neg_brier", "p")


@dataclass(frozen=True)
class LabParams:
    """The simulator's knobs: CE(N) = (N/c)**alpha over ``scales``; L target tokens, K choices, n items."""

    c: float = 5e6
    alpha: float = -0.5
    length: int = 5
    choices: int = 4
    items: int = 500
    seed: int = 0
    low: float = 1e7
    high: float = 1e11
    points: int = 12

    def scales(self) -> np.ndarray:
        return np.geomspace(self.low, self.high, self.points)


FIELDS: tuple[str, ...] = ("c", "alpha", "length", "choices", "items")
LABELS = {
    "c": "c",
    "alpha": "alpha",
    "length": "L (target tokens)",
    "choices": "K (choices)",
    "items": "n (items)",
}


def step_param(params: LabParams, name: str, direction: int) -> LabParams:
    """One key press on a knob: c and n move by factors of 2, alpha by 0.05, L and K by 1 (kept valid)."""
    value = getattr(params, name)
    if name == "c":
        return replace(params, c=float(value * (2.0**direction)))
    if name == "items":
        return replace(params, items=int(min(max(round(value * 2.0**direction), 10), 100_000)))
    if name == "alpha":
        return replace(params, alpha=float(min(round(value + 0.05 * direction, 2), -0.05)))
    if name == "length":
        return replace(params, length=int(min(max(value + direction, 1), 50)))
    return replace(params, choices=int(min(max(value + direction, 2), 26)))


def lab_curves(params: LabParams) -> dict[str, np.ndarray]:
    """The simulator's closed-form curves (from analysis.simulate) for these knobs."""
    from analysis.simulate import mirage_curves

    curves = mirage_curves(params.c, params.alpha, params.scales(), params.length, params.choices)
    if isinstance(curves, pl.DataFrame):
        curves = {name: curves[name].to_numpy() for name in curves.columns}
    return {str(k): np.asarray(v, dtype=float) for k, v in dict(curves).items()}


def lab_plots(params: LabParams) -> tuple[PlotSpec, PlotSpec]:
    """(discontinuous/nonlinear metrics with the n-item measurement, continuous metrics)."""
    from analysis.simulate import measured_accuracy

    try:
        curves = lab_curves(params)
    except Exception as err:  # a knob combination the simulator refuses: say so, keep the screen alive
        return PlotSpec(message=f"simulator: {err}"), PlotSpec(message="")
    scales = params.scales()
    x = tuple(scales.tolist())
    left: list[Series] = []
    right: list[Series] = []
    preferred = [k for k in (*LEFT_CURVES, *RIGHT_CURVES) if k in curves]
    for name in preferred or list(curves):
        values = curves[name]
        if values.shape != scales.shape or name.lower() in {"params", "n", "scale", "x"}:
            continue
        series = Series(label=name, x=x, y=tuple(values.tolist()), style="line")
        (left if any(w in name.lower() for w in DISCONTINUOUS_WORDS) else right).append(series)
    exact = next((curves[k] for k in curves if "exact" in k.lower()), None)
    if exact is not None and exact.shape == scales.shape:
        reading = measured_accuracy(exact, params.items, params.seed)
        left.append(Series(label=f"measured, n={params.items}", x=x, y=tuple(reading.tolist())))
    left_spec = PlotSpec(
        title="nonlinear / discontinuous", x_label="params", series=tuple(left),
        hlines=((1.0 / params.items, "1/n"),), log_x=True,
    )  # fmt: skip
    right_spec = PlotSpec(title="linear / continuous", x_label="params", series=tuple(right), log_x=True)
    return left_spec, right_spec


class LabScreen(Screen):
    """Up/down pick a knob, left/right (or -/+) change it, s re-draws the n-item sample with a new seed."""

    DEFAULT_CSS = """
    LabScreen #lab-body { layout: horizontal; height: 1fr; }
    LabScreen #knobs { width: 26; height: 1fr; padding: 0 1; border-right: solid $primary; }
    LabScreen #plots { layout: horizontal; height: 1fr; }
    LabScreen.narrow #plots { layout: vertical; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("up,k", "select(-1)", "Knob ↑", show=False),
        Binding("down,j", "select(1)", "Knob ↓", show=False),
        Binding("left,minus", "change(-1)", "−"),
        Binding("right,plus,equals_sign", "change(1)", "+"),
        Binding("s", "resample", "New sample"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.params = LabParams()
        self.selected = 0

    def compose(self) -> ComposeResult:
        with Container(id="lab-body"):
            yield Static("", id="knobs")
            with Container(id="plots"):
                yield PlotWidget(id="lab-left")
                yield PlotWidget(id="lab-right")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.on_resize()
        self.refresh_view()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 120, "narrow")

    def knob_text(self) -> Text:
        text = Text("Mirage lab\n", style="bold")
        text.append("CE(N) = (N/c)^alpha\np = exp(-CE)\n\n", style="dim")
        for i, name in enumerate(FIELDS):
            value = getattr(self.params, name)
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            marker = "▶ " if i == self.selected else "  "
            text.append(f"{marker}{LABELS[name]}: {shown}\n", style="reverse" if i == self.selected else "")
        floor = 1.0 / self.params.items
        text.append(f"\n1/n floor = {floor:.2g}\nseed = {self.params.seed}\n", style="dim")
        if not math.isfinite(floor):
            text.append("n must be positive", style="red")
        return text

    def refresh_view(self) -> None:
        app: Any = self.app
        self.query_one(StatusLine).show(app.settings, app.activity)
        self.query_one("#knobs", Static).update(self.knob_text())
        left, right = lab_plots(self.params)
        self.query_one("#lab-left", PlotWidget).show(left)
        self.query_one("#lab-right", PlotWidget).show(right)

    def action_select(self, step: int) -> None:
        self.selected = (self.selected + step) % len(FIELDS)
        self.refresh_view()

    def action_change(self, direction: int) -> None:
        self.params = step_param(self.params, FIELDS[self.selected], direction)
        self.refresh_view()

    def action_resample(self) -> None:
        self.params = replace(self.params, seed=self.params.seed + 1)
        self.refresh_view()

    def action_back(self) -> None:
        self.app.pop_screen()

    def export_table(self) -> pl.DataFrame:
        try:
            curves = lab_curves(self.params)
        except Exception:
            return pl.DataFrame()
        return pl.DataFrame({"params": self.params.scales(), **curves})

    def export_plot(self) -> str:
        return "\n\n".join(w.plain_text() for w in self.query(PlotWidget))
