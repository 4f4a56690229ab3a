"""Plots that can be read with many families (issue 17, item 3): shapes and colours, the legend's "+N more",
braille fits, a joint fit's predictions, reference lines under the data, ticks in the axis' own units."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from tui.widgets.plot import (
    HOLLOW,
    MARKERS,
    PALETTE,
    PlotSpec,
    Series,
    legend_text,
    render_plot,
    series_style,
)

XS = (1e7, 1e8, 1e9, 1e10)


def families(count: int) -> tuple[Series, ...]:
    return tuple(
        Series(f"family-{i:02d}", XS, (0.1 + i / 50, 0.2 + i / 50, 0.4 + i / 50, 0.8), colour=i)
        for i in range(count)
    )


def test_thirty_families_get_thirty_distinct_colour_and_shape_pairs() -> None:
    styles = [series_style(s, i) for i, s in enumerate(families(30))]
    assert len(set(styles)) == 30
    assert {shape for _, shape in styles} == set(MARKERS) and {c for c, _ in styles} == set(PALETTE)
    drawn = render_plot(PlotSpec(series=families(3)), 60, 14, colour=False)
    assert {"●", "■", "▲"} <= set(drawn)


def test_the_legend_says_how_many_more_series_it_cannot_show() -> None:
    legend = legend_text(PlotSpec(series=families(18), hlines=((0.25, "chance"),)), 80).plain
    assert legend.startswith("● family-00  ■ family-01") and legend.endswith("more (F: one family)")
    shown = legend.count("family-")
    assert f"+{18 + 1 - shown} more" in legend and len(legend) <= 80  # 18 families and the chance line
    assert "more" not in legend_text(PlotSpec(series=families(2)), 80).plain


def test_fits_are_braille_curves_and_held_out_points_hollow_shapes() -> None:
    grid = tuple(np.geomspace(1e7, 1e10, 40).tolist())
    fit = Series("family-00 logistic", grid, tuple(np.linspace(0.1, 0.8, 40).tolist()), style="fit", colour=0)
    held = Series("family-01", XS, (0.1, 0.2, 0.4, 0.8), held_out=(False, False, False, True), colour=1)
    drawn = render_plot(PlotSpec(series=(fit, held)), 60, 14, colour=False)
    assert any("\u2800" <= ch <= "\u28ff" for ch in drawn)  # braille cells
    assert HOLLOW["■"] in drawn and "○" not in drawn
    assert legend_text(PlotSpec(series=(fit,)), 60).plain.startswith("⠒ family-00 logistic")


def test_reference_lines_are_drawn_under_the_data() -> None:
    spec = PlotSpec(series=(Series("m", XS, (0.0, 0.0, 0.4, 0.8)),), hlines=((0.002, "1/n"),))
    drawn = render_plot(spec, 60, 14, colour=False)
    bottom = [line for line in drawn.splitlines() if "●" in line][-1]
    assert bottom.count("●") == 2  # the two points at 0 show over the 1/n line


def test_ticks_read_in_the_axis_units_even_for_a_single_value() -> None:
    spec = PlotSpec(series=(Series("m", (6.0e6, 6.0e6), (0.1, 0.9)),), x_label="tokens")
    drawn = render_plot(spec, 60, 14, colour=False)
    assert "6e6" in drawn and "6.78" not in drawn  # not the log10 value


def test_a_joint_fit_draws_its_predictions_at_the_points() -> None:
    import polars as pl

    from analysis.fits import FitResult
    from tui.state import ViewSettings
    from tui.views.task import task_plot

    class Joint(FitResult):
        def predict(self, x, x2=None):  # E + A/N^0.3 + B/D^0.3
            return 1.7 + 400 / np.asarray(x) ** 0.3 + 400 / np.asarray(x2) ** 0.3

    params, tokens = [1e8, 1e8, 1e9, 1e9, 1e10], [1e9, 1e10, 1e10, 1e11, 1e11]
    frame = pl.DataFrame({
        "family": ["c"] * 5, "model": list("abcde"), "task": ["pretraining"] * 5, "metric": ["loss"] * 5,
        "params": params, "tokens": tokens, "flops": [6 * p * t for p, t in zip(params, tokens, strict=True)],
        "loss": [None] * 5, "value": [3.0, 2.8, 2.5, 2.3, 2.1], "lo": [None] * 5, "hi": [None] * 5,
        "n": [None] * 5, "chance": [None] * 5, "direction": [-1] * 5,
    })  # fmt: skip
    fit = Joint("joint", "params", {"E": 1.7}, {}, 0.9, ok=True, x2="tokens")

    from types import SimpleNamespace

    fits = SimpleNamespace(results={("c", "pretraining", "loss"): fit}, backtests={}, frame=pl.DataFrame())
    analysis = SimpleNamespace(points=frame, fits=fits, emergence=pl.DataFrame(), mirage=pl.DataFrame())
    plot = task_plot(analysis, ViewSettings(law="joint"), "pretraining", "loss")  # type: ignore[arg-type]
    joint = [s for s in plot.series if s.style == "fit_points"]
    assert len(joint) == 1 and len(joint[0].x) == 5
    expected = fit.predict(np.array(params), np.array(tokens))
    assert sorted(joint[0].y) == sorted(expected.tolist())
    assert isinstance(legend_text(plot, 80), Text)


def test_the_labs_measured_zeros_carry_their_exact_interval_and_draw_as_upper_limits_on_log_y() -> None:
    from dataclasses import replace

    from tui.views.lab import LabParams, lab_plots

    left, _ = lab_plots(LabParams(items=500, c=5e9))  # the small models read 0 of 500
    measured = left.series[-1]
    zeros = [i for i, y in enumerate(measured.y) if y == 0]
    assert zeros and all(abs(measured.hi[i] - 0.007351) < 1e-5 for i in zeros)  # Clopper-Pearson 95%, k=0
    log = replace(left, log_y=True)
    assert log.log_y_refusal() == "" and log.upper_limits()  # the zeros: arrows at 3.7/n, log-y drawn
    assert render_plot(log, 60, 16, colour=False).count("↓") == len(zeros)
