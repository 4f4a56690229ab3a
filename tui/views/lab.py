"""The mirage lab: the paper's simulator as a screen whose curves redraw as its numbers change.

Curves come from ``analysis.simulate.mirage_curves(c, alpha, params, length, choices)``. The "measured"
series (``analysis.simulate.measured_accuracy``) draws n Bernoulli items per model around the exact-match
curve to show the 1/n floor: with n items nothing below 1/n can read as anything but 0. Each reading carries
its exact (Clopper-Pearson) interval, as the app's points do, so 0 of n reads "below 3.7/n", not zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from tui.widgets.plot import PlotSpec, Series

DISCONTINUOUS_WORDS = ("exact", "grade", "acc", "match")
LEFT_CURVES = ("exact_match", "mc_grade")  # shown when the simulator provides them; else every curve, by name
RIGHT_CURVES = ("p", "neg_token_edit_distance", "neg_brier")  # the right panel shows one at a time


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
        from analysis.resampling.intervals import exact_interval

        reading = measured_accuracy(exact, params.items, params.seed)
        lo, hi = exact_interval(np.round(reading * params.items), params.items)  # 0 of n: [0, 3.7/n]
        left.append(
            Series(
                label=f"measured, n={params.items}",
                x=x,
                y=tuple(reading.tolist()),
                lo=tuple(np.asarray(lo, dtype=float).tolist()),
                hi=tuple(np.asarray(hi, dtype=float).tolist()),
            )
        )
    left_spec = PlotSpec(
        title="nonlinear / discontinuous", x_label="params", series=tuple(left),
        hlines=((1.0 / params.items, "1/n"),), log_x=True,
    )  # fmt: skip
    right_spec = PlotSpec(title="linear / continuous", x_label="params", series=tuple(right), log_x=True)
    return left_spec, right_spec
