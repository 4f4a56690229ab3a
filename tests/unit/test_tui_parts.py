"""Pure parts of the app: literal text, plot rendering, atomic export, settings cycling, numbers."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from analysis.formatting import number as fmt
from tui.export import ExportError, write_text_atomically
from tui.safe_text import clean, literal
from tui.state import ViewSettings, cycle
from tui.views.task import task_points
from tui.widgets.plot import (
    PlotSpec,
    Series,
    legend_text,
    linear_ticks,
    log_ticks,
    render_plot,
    tick_label,
)


def test_clean_removes_escape_sequences_and_controls() -> None:
    assert clean("\x1b[31mred\x1b[0m") == "red"
    assert clean("a\x1b]0;title\x07b") == "ab"
    assert clean("tab\there\nnew") == "tab here new"
    assert clean("bell\x07") == "bell\ufffd"
    assert clean("[red]x[/red]") == "[red]x[/red]"
    assert clean("abcdef", max_length=4) == "abc…"


def test_literal_text_has_no_markup_spans() -> None:
    text = literal("[bold red]x[/bold red]")
    assert text.plain == "[bold red]x[/bold red]" and text.spans == []


def test_plot_renders_at_requested_size_with_log_x() -> None:
    spec = PlotSpec(
        title="t",
        x_label="params",
        series=(Series("fam", (1e7, 1e8, 1e9), (0.1, 0.5, 0.9), (0.05, 0.4, 0.8), (0.15, 0.6, 0.95)),),
        hlines=((0.25, "chance"),),
    )
    lines = render_plot(spec, 60, 15, colour=False).splitlines()
    assert len(lines) == 15 and {len(line) for line in lines} == {60}
    assert "●" in "".join(lines) and "│" in "".join(lines[2:-3])
    ticks = lines[-2].split()
    assert ticks == ["1e7", "1e8", "1e9"]  # whole decades, evenly spaced on the log axis
    columns = [lines[-2].index(t) + len(t) // 2 for t in ticks]
    assert abs((columns[1] - columns[0]) - (columns[2] - columns[1])) <= 1
    assert "params (log)" in lines[-1]
    assert legend_text(spec, 60).plain == "● fam  ┈ chance"


def test_ticks_are_round_and_inside_the_range() -> None:
    assert linear_ticks(0.0, 0.95, 5) == [0.0, 0.25, 0.5, 0.75]
    assert linear_ticks(-10.4, -6.5, 5) == [-10.0, -9.0, -8.0, -7.0]
    assert log_ticks(7.0, 11.0, 5) == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert log_ticks(7.0, 13.0, 3) == [8.0, 10.0, 12.0]  # every second decade when they do not fit
    assert log_ticks(8.0, 8.5, 5) == pytest.approx([8.0, 8.0 + math.log10(2)])  # 1e8, 2e8
    assert [tick_label(v) for v in (0, 0.25, 1000, 1e7, 2.5e-4, 1e21)] == ["0", "0.25", "1000", "1e7",
                                                                          "2.5e-4", "1e21"]  # fmt: skip


def test_numbers_are_formatted_for_people() -> None:
    assert [fmt(v) for v in (1e8, 3.16e9, 0.00275, 55.147, -6.557, None, float("inf"), 7)] == [
        "1.00e8", "3.16e9", "0.00275", "55.1", "-6.56", "–", "+inf", "7",
    ]  # fmt: skip
    assert (fmt(3.2e-4), fmt(1234.5), fmt(1000.0), fmt(0.0)) == ("3.20e-4", "1230", "1000", "0")


def test_plot_labels_with_escape_codes_cannot_restyle() -> None:
    spec = PlotSpec(title="\x1b[5mblink", series=(Series("\x1b[31mfam", (1e7, 1e8), (0.1, 0.2)),))
    out = render_plot(spec, 40, 10)
    assert "\x1b[5m" not in out and "\x1b[31m" not in out


def test_log_y_falls_back_to_linear_for_non_positive_values() -> None:
    spec = PlotSpec(series=(Series("a", (1.0, 10.0), (0.0, 1.0)),), log_y=True)
    assert not spec.usable_log_y()
    assert PlotSpec(series=(Series("a", (1.0, 10.0), (0.1, 1.0)),), log_y=True).usable_log_y()


def test_export_is_atomic_and_never_overwrites_silently(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_text_atomically(target, "a,b\n")
    assert target.read_text() == "a,b\n"
    with pytest.raises(FileExistsError):
        write_text_atomically(target, "new")
    assert target.read_text() == "a,b\n"
    write_text_atomically(target, "new", overwrite=True)
    assert target.read_text() == "new"
    with pytest.raises(ExportError, match="choose another folder"):
        write_text_atomically(tmp_path / "no" / "such.csv", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_cycle_and_status() -> None:
    assert cycle(["a", "b", "c"], "c") == "a"
    assert cycle(["a", "b", "c"], "a", -1) == "c"
    assert cycle([None, "a"], "zzz") is None
    status = ViewSettings(metric="exact_match").status_text()
    assert "exact_match" in status and "x=params" in status and "B=1000" in status and "seed=0" in status


def test_task_points_mark_the_points_the_fit_holds_out_on_every_axis() -> None:
    """Held-out points follow the fit stage's rule: whole scales; on a loss axis the smallest losses."""
    points = pl.DataFrame(
        {
            "family": ["f"] * 4,
            "model": ["m1", "m2", "m3", "m4"],
            "task": ["t"] * 4,
            "metric": ["acc"] * 4,
            "params": [1e7, 1e8, 1e8, 1e9],
            "loss": [2.0, 3.0, 4.0, 5.0],  # not monotone in params: the axes disagree on which end is "best"
            "value": [0.9, 0.5, 0.4, 0.1],
            "lo": [None] * 4,
            "hi": [None] * 4,
            "n": [100] * 4,
        }
    )

    analysis = SimpleNamespace(points=points)

    def held(axis: str, holdout: int) -> list[str]:
        rows = task_points(analysis, ViewSettings(axis=axis, holdout=holdout), "t", "acc")
        return rows.filter(rows["held_out"])["model"].to_list()

    assert held("loss", 1) == ["m1"]  # the most capable model has the smallest loss
    assert held("params", 1) == ["m4"]
    assert sorted(held("params", 2)) == ["m2", "m3", "m4"]  # both models at the second-largest scale
