"""The resolution sweep's view: one task's statuses, verdicts and emergence score as the test set shrinks
to n' items (``analysis.sweep``, docs/science.md section 7.4)."""

from __future__ import annotations

import polars as pl

from analysis.formatting import number
from tui.state import ViewSettings
from tui.widgets.plot import PlotSpec, Series

SWEEP_COLUMNS: tuple[str, ...] = ("family", "n'", "status", "verdict", "score", "range", "smallest resolved")


def _chosen(frame: pl.DataFrame, task: str, metric: str, family: str | None) -> pl.DataFrame:
    if frame.is_empty() or "task" not in frame.columns:
        return frame.clear()
    chosen = frame.filter((pl.col("task") == task) & (pl.col("metric") == metric))
    return chosen if family is None else chosen.filter(pl.col("family") == family)


def _share(share: float | None, runs: int | None) -> str:
    return "" if share is None or not runs else f" {round(share * runs)}/{runs}"


def sweep_rows(sweep: object, settings: ViewSettings, task: str, metric: str) -> list[dict[str, str]]:
    """One row per family x n': the status and verdict of most subsamples with their counts, the median score
    with its range, and in how many subsamples the smallest model is resolved."""
    curves = _chosen(getattr(sweep, "curves", pl.DataFrame()), task, metric, settings.family)
    models = _chosen(getattr(sweep, "model_sizes", pl.DataFrame()), task, metric, settings.family)
    summary = _chosen(getattr(sweep, "summary", pl.DataFrame()), task, metric, settings.family)
    smallest = {r["family"]: r["smallest"] for r in summary.iter_rows(named=True)}
    resolved = {
        (r["family"], r["n_items"]): _share(r["resolved_share"], r["runs"]).strip()
        for r in models.iter_rows(named=True)
        if r["model"] == smallest.get(r["family"])
    }
    rows = []
    for r in curves.sort(["family", "n_items"]).iter_rows(named=True):
        rows.append(
            {
                "family": r["family"],
                "n'": str(r["n_items"]),
                "status": (r["status"] or "–") + _share(r["status_share"], r["runs"]),
                "verdict": (r["category"] or "–")
                + (_share(r["category_share"], r["runs"]) if r["category"] else ""),
                "score": number(r["score"]),
                "range": f"{number(r['score_min'])} to {number(r['score_max'])}",
                "smallest resolved": resolved.get((r["family"], r["n_items"]), "–"),
            }
        )
    return rows


def sweep_sentences(sweep: object, settings: ViewSettings, task: str, metric: str) -> list[tuple[str, str]]:
    """(family, sentence) per curve: the path of statuses along n', where a jump appears or vanishes, and
    from which n' the smallest model is resolved."""
    summary = _chosen(getattr(sweep, "summary", pl.DataFrame()), task, metric, settings.family)
    return [(r["family"], r["sentence"] or "") for r in summary.iter_rows(named=True)]


def sweep_plot(sweep: object, settings: ViewSettings, task: str, metric: str) -> PlotSpec:
    """The emergence score (median over subsamples, whiskers from its smallest to its largest) against the
    test-set size n', one series per family; a jump called by most subsamples is marked in the label."""
    curves = _chosen(getattr(sweep, "curves", pl.DataFrame()), task, metric, settings.family)
    series = []
    for colour, family in enumerate(
        sorted(curves["family"].unique().to_list()) if not curves.is_empty() else []
    ):
        rows = curves.filter(pl.col("family") == family).sort("n_items")
        jumps = [
            str(n) for n, status in zip(rows["n_items"], rows["status"], strict=True) if status == "jump"
        ]
        label = family + (f" (jump at n' = {', '.join(jumps)})" if jumps else "")
        series.append(
            Series(
                label=label,
                x=tuple(float(n) for n in rows["n_items"]),
                y=tuple(rows["score"].to_list()),
                lo=tuple(rows["score_min"].to_list()),
                hi=tuple(rows["score_max"].to_list()),
                colour=colour,
            )
        )
    finite = any(
        value is not None and value == value and abs(value) != float("inf") for s in series for value in s.y
    )
    message = "" if finite else f"no finite emergence score for {task} / {metric} at any n'"
    return PlotSpec(
        title=f"{task} · {metric} · resolution sweep",
        x_label="test-set size n'",
        y_label="emergence score",
        series=tuple(series),
        log_x=True,
        message=message,
    )
