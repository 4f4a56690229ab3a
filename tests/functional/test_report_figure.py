"""`report --figure DIR`: one SVG per task with the task view's series, intervals, fits and chance line; and
the figure drawer itself on plots made by hand."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tui.cli import main
from tui.figure import figure_svg, literal_label
from tui.widgets.plot import PlotSpec, Series

SVG = "{http://www.w3.org/2000/svg}"


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def by_id(root: ET.Element) -> dict[str, ET.Element]:
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)), "ids in an SVG must be unique"
    return {e.get("id"): e for e in root.iter() if e.get("id")}


def test_report_figure_writes_one_svg_per_task_with_what_the_app_draws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "figures"  # made by the command
    code = main(
        ["report", "--figure", str(folder), "--bootstrap", "100", "--fit-bootstrap", "0", "--format", "json"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.strip() == f"wrote 4 figure(s) to {folder}"
    report = json.loads(captured.out)  # stdout still holds the report alone
    tasks = sorted({p["task"] for p in report["points"]})
    assert sorted(p.stem for p in folder.glob("*.svg")) == tasks
    assert not list(folder.glob(".*"))  # no temporary files left
    root = ET.parse(folder / "multiple_choice.svg").getroot()
    words = texts(root)
    metrics = sorted({p["metric"] for p in report["points"] if p["task"] == "multiple_choice"})
    assert "multiple_choice" in words  # the figure's title
    for metric in metrics:
        assert f"multiple_choice · {metric}" in words  # one panel per metric
    assert "params (log scale)" in words and "toy-lm" in words and "chance" in words
    parts = by_id(root)
    points = [p for p in report["points"] if p["task"] == "multiple_choice" and p["metric"] == metrics[0]]
    markers = parts["p0-points-toy-lm"].findall(f".//{SVG}use")
    assert len(markers) == len(points) == 9  # one marker per model
    assert any(key.startswith("p0-fit-toy-lm") for key in parts)  # the fitted law of the first panel
    assert "p0-hline-chance" in parts
    fits = {(f["task"], f["metric"]) for f in report["fits"] if f.get("law") and f.get("ok", True)}
    assert ("multiple_choice", metrics[0]) in fits or not fits


def test_report_figure_follows_the_metric_filter_and_refuses_a_bad_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "f"
    args = ["--bootstrap", "0", "--fit-bootstrap", "0", "--task", "long_answer", "--metric", "exact_match"]
    assert main(["report", "--figure", str(folder), *args]) == 0
    capsys.readouterr()
    assert [p.name for p in folder.iterdir()] == ["long_answer.svg"]
    words = texts(ET.parse(folder / "long_answer.svg").getroot())
    assert "long_answer · exact_match" in words and not any("token_loss" in w for w in words)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["report", "--figure", str(blocker / "sub"), *args])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("emergence-tui: --figure")


def test_figure_draws_held_out_points_hollow_names_literally_and_keeps_many_families_readable() -> None:
    spec = PlotSpec(
        title="t · m",
        x_label="params",
        y_label="m",
        series=(
            Series("fam $x$ [b]", (1e7, 1e8, 1e9), (0.1, 0.2, 0.5), (0.05, 0.1, None), (0.2, 0.3, None),
                   held_out=(False, False, True), colour=0),
            Series("fam $x$ [b] power", (1e7, 1e10), (0.1, 0.9), style="fit", colour=0),
        ),
        hlines=((0.25, "chance"),),
    )  # fmt: skip
    root = ET.fromstring(figure_svg([spec]))
    words = texts(root)
    assert "fam $x$ [b]" in words and "fam $x$ [b] power" in words and "chance" in words  # no mathtext
    parts = by_id(root)
    assert len(parts["p0-points-fam_x_b"].findall(f".//{SVG}use")) == 2
    assert len(parts["p0-held-out-fam_x_b"].findall(f".//{SVG}use")) == 1
    assert literal_label("a$b\x1b[31m") == r"a\$b[31m"
    many = PlotSpec(
        series=tuple(
            s
            for i in range(30)
            for s in (
                Series(f"family-{i}", (1e8, 1e9), (0.1 + i / 100, 0.3), colour=i),
                Series(f"family-{i} logistic", (1e8, 1e10), (0.1, 0.4), style="fit", colour=i),
            )
        )
    )
    root = ET.fromstring(figure_svg([many]))
    words = texts(root)
    assert all(f"family-{i}" in words for i in range(30))
    assert "fitted law (family colour)" in words and "family-0 logistic" not in words  # one entry for fits
    assert figure_svg([many]) == figure_svg([many])  # the same figure gives the same bytes
