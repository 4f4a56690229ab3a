"""A stand-in analysis backend for the app tests: known frames with the columns of DESIGN.md.

The app only reads the pipeline's output, so these tests drive it with small synthetic results whose
intervals depend on B, CI level and seed exactly as a bootstrap would (numpy, seeded). The real pipeline is
exercised by the sample-data tests when ``analysis.pipeline`` is present.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from textual.worker import get_current_worker

from analysis.errors import InputError
from analysis.fits import FitResult
from analysis.options import FitSettings, LoadOptions, MetricOptions, ResampleSettings
from tui.backend.process import TableSummary

SCALES = (1e7, 3e7, 1e8, 3e8, 1e9, 3e9, 1e10)


@dataclass(frozen=True)
class FakeFit(FitResult):
    """The interface's fit view, drawing the unit logistic of its ``k`` and ``x0`` (no floor or ceiling)."""

    def predict(self, x: Any, x2: Any = None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return 1.0 / (1.0 + np.exp(-self.params["k"] * (np.log10(x) - self.params["x0"])))


@dataclass(frozen=True, eq=False)
class FakeAnalysis:
    points: Any
    fits: Any
    emergence: pl.DataFrame
    mirage: pl.DataFrame
    forecasts: Any = None


@dataclass(frozen=True, eq=False)
class FakeSweep:
    """The frames of ``analysis.sweep.ResolutionSweep`` the sweep screen reads."""

    curves: pl.DataFrame
    model_sizes: pl.DataFrame
    summary: pl.DataFrame


@dataclass(frozen=True, eq=False)
class Frame:
    """Points (a frame) or fits (a frame, fits by key, no backtests), as tui.backend.protocol reads them."""

    frame: pl.DataFrame
    results: dict = field(default_factory=dict)
    backtests: dict = field(default_factory=dict)


def _score(y: np.ndarray) -> float:
    steps = np.diff(y)
    denom = np.sqrt(np.median(steps**2))
    spread = (y.max() - y.min()) * np.sign(np.argmax(y) - np.argmin(y))
    return float(spread / denom) if denom > 0 else (float("inf") if spread else 0.0)


@dataclass
class FakePipeline:
    models: tuple[str, ...]
    families: tuple[str, ...] = ("pythia",)
    items: int = 200
    runs: list = field(default_factory=list)
    sweeps: list = field(default_factory=list)
    sweep_gate: threading.Event | None = None  # when given, each sweep run waits for it

    def scored(self, options: MetricOptions) -> None:
        return None

    def points(self, options: MetricOptions, resample: ResampleSettings) -> Frame:
        return self._analysis(resample, FitSettings()).points

    def emergence(
        self, options: MetricOptions, resample: ResampleSettings, x: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        self.runs.append((resample, FitSettings(x=x, seed=resample.seed)))
        analysis = self._analysis(resample, FitSettings(x=x))
        return analysis.emergence, analysis.mirage

    def fits(self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings) -> Frame:
        return self._analysis(resample, fit).fits

    def task_fits(
        self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings, tasks: tuple[str, ...]
    ) -> Frame:
        self.runs.append((resample, fit))
        fits = self._analysis(resample, fit).fits
        results = {key: value for key, value in fits.results.items() if key[1] in tasks}
        return Frame(fits.frame.filter(pl.col("task").is_in(tasks)), results)

    def task_forecasts(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        fit: FitSettings,
        forecasts: Any,
        tasks: tuple[str, ...],
    ) -> Frame:
        frame = self.forecasts(options, resample, fit, forecasts).frame
        return Frame(frame.filter(pl.col("task").is_in(tasks)))

    def forecasts(
        self, options: MetricOptions, resample: ResampleSettings, fit: FitSettings, forecasts: Any
    ) -> Frame:
        """Each fitted curve's law at the next decade (1e11) with a band of +-0.05; refused fits in words."""
        rows = []
        for (family, task, metric), result in self._analysis(resample, fit).fits.results.items():
            value = float(result.predict(np.array([1e11]))[0]) if result.ok else None
            lo, hi = (None, None) if value is None else (value - 0.05, min(value + 0.05, 1.0))
            words = f"{metric} at {fit.x} 1.00e11 (the next decade): " + (
                f"{value:.3g} (95% prediction interval)"
                if result.ok
                else "no forecast: the logistic fit was refused (law not fitted in the fake)"
            )
            rows.append({
                "family": family, "task": task, "metric": metric, "kind": "discontinuous", "route": "direct",
                "partner": None, "law": result.law, "x": fit.x, "asked": "next", "at": 1e11, "value": value,
                "lo": lo, "hi": hi, "ok": result.ok, "supported": None, "sentence": words,
            })  # fmt: skip
        return Frame(pl.DataFrame(rows))

    def resolution_sweep(
        self,
        options: MetricOptions,
        resample: ResampleSettings,
        x: str,
        sweep: Any = None,
        on_run: Any = None,
    ) -> FakeSweep:
        """Three sizes: the jump of exact match appears from n' = 100 on; edit distance stays smooth."""
        self.sweeps.append((resample, x))
        sizes, total = (50, 100, 200), 3
        for done in range(1, total + 1):
            if self.sweep_gate is not None:
                self.sweep_gate.wait(10)
            if on_run is not None:
                on_run(done, total)
        curves, models, summary = [], [], []
        for family in self.families:
            for task in ("arith", "mc"):
                for metric, statuses in (("exact_match", ("unresolved", "jump", "jump")),
                                         ("edit_distance", ("smooth", "smooth", "smooth"))):  # fmt: skip
                    for n, status, score in zip(sizes, statuses, (1.0, 4.0, 5.0), strict=True):
                        curves.append({
                            "family": family, "task": task, "metric": metric, "n_items": n, "kind": "x",
                            "runs": 5, "status": status, "status_share": 0.8, "jump_share": 0.0,
                            "category": "mirage" if metric == "exact_match" else None,
                            "category_share": 0.6 if metric == "exact_match" else None,
                            "score": score, "score_min": score - 0.5, "score_max": score + 0.5,
                        })  # fmt: skip
                        models.append({
                            "family": family, "task": task, "metric": metric, "model": self.models[0],
                            "n_items": n, "scale": SCALES[0], "runs": 5, "value": 0.0, "lo": 0.0, "hi": 0.1,
                            "resolved_share": 0.2 * sizes.index(n),
                        })  # fmt: skip
                    summary.append({
                        "family": family, "task": task, "metric": metric, "smallest": self.models[0],
                        "sentence": f"{metric}: {statuses[0]} at 50, {statuses[-1]} at 100-200",
                    })  # fmt: skip
        return FakeSweep(pl.DataFrame(curves), pl.DataFrame(models), pl.DataFrame(summary))

    def run(
        self, metric_options: MetricOptions, resample: ResampleSettings, fit: FitSettings
    ) -> FakeAnalysis:
        self.runs.append((resample, fit))
        return self._analysis(resample, fit)

    def _analysis(self, resample: ResampleSettings, fit: FitSettings) -> FakeAnalysis:
        data_rng = np.random.default_rng(123)
        rng = np.random.default_rng(resample.seed)
        rows, emergence, mirage, fit_rows, results = [], [], [], [], {}
        q = (1 - resample.ci) / 2
        for family in self.families:
            for task, centre in (("arith", 8.7), ("mc", 9.3)):
                p = 1 / (1 + np.exp(-2.5 * (np.log10(SCALES) - centre)))
                correct = data_rng.random((len(SCALES), self.items)) < p[:, None]
                distance = (~correct) * data_rng.integers(1, 4, correct.shape)
                scores = {}
                for metric, values, kind, direction in (
                    ("exact_match", correct.astype(float), "discontinuous", 1),
                    ("edit_distance", distance.astype(float), "continuous", -1),
                ):
                    mean = values.mean(axis=1)
                    if resample.bootstrap:
                        idx = rng.integers(0, self.items, (resample.bootstrap, self.items))
                        reps = values[:, idx].mean(axis=2).T  # (B, models)
                        lo, hi = np.quantile(reps, q, axis=0), np.quantile(reps, 1 - q, axis=0)
                    else:
                        reps = mean[None, :]
                        lo = hi = mean
                    for j, model in enumerate(self.models):
                        rows.append({
                            "family": family, "model": model, "task": task, "metric": metric,
                            "params": SCALES[j], "tokens": SCALES[j] * 20, "flops": 120 * SCALES[j] ** 2,
                            "loss": None, "value": float(mean[j]), "lo": float(lo[j]), "hi": float(hi[j]),
                            "n": self.items, "chance": 0.25 if task == "mc" else None,
                            "kind": kind, "direction": direction,
                        })  # fmt: skip
                    oriented = reps * direction
                    per_rep = np.array([_score(r) for r in oriented])
                    score = _score(mean * direction)
                    scores[metric] = score
                    emergence.append({
                        "family": family, "task": task, "metric": metric, "kind": kind, "score": score,
                        "lo": float(np.quantile(per_rep, q)), "hi": float(np.quantile(per_rep, 1 - q)),
                        "trend": "rising", "spearman": 1.0, "p_value": 0.01, "p_adjusted": 0.02,
                        "n_models": len(self.models), "status": None, "jump": None, "jump_at": None,
                        "sentence": None,
                    })  # fmt: skip
                    ok = metric == "exact_match" and fit.law in (None, "logistic")
                    params, cis = {"k": 2.5, "x0": centre}, {"k": (2.0, 3.0), "x0": (8.5, 9.5)}
                    message = "" if ok else "law not fitted in the fake"
                    result = FakeFit("logistic", fit.x, params, cis, 0.97, ok=ok, message=message)
                    results[(family, task, metric)] = result
                    fit_rows.append({
                        "family": family, "task": task, "metric": metric, "law": result.law, "x": fit.x,
                        "r2": 0.97 if ok else None, "ok": ok, "message": result.message,
                        "backtest_error": 0.05 if fit.holdout else None,
                    })  # fmt: skip
                smooth = abs(scores["edit_distance"]) < abs(scores["exact_match"]) / 2
                for row, status, miss in zip(
                    emergence[-2:],
                    ("jump", "smooth" if smooth else "jump"),
                    (2.3, 0.1 if smooth else 2.0),
                    strict=True,
                ):  # the statuses the verdict stage would give these curves
                    row |= {"status": status, "jump": miss, "jump_at": self.models[3],
                            "sentence": f"{row['metric']} {status} at {self.models[3]}"}  # fmt: skip
                category = "mirage" if smooth else "survives"
                verdict = (
                    "mirage: exact_match looks like a jump, but edit_distance follows its smaller models"
                    if smooth
                    else "survives: exact_match looks like a jump, and edit_distance jumps too"
                )
                mirage.append({
                    "family": family, "task": task, "metric": "exact_match", "category": category,
                    "verdict": verdict, "partners": "edit_distance", "partner_source": "declared",
                })  # fmt: skip
        points = Frame(pl.DataFrame(rows))
        return FakeAnalysis(
            points, Frame(pl.DataFrame(fit_rows), results), pl.DataFrame(emergence), pl.DataFrame(mirage)
        )


@dataclass
class FakeBackend:
    """Loads nothing: ``bad`` in a path raises InputError; ``gate`` (when given) holds loading until set."""

    models: tuple[str, ...] = tuple(f"m{i}" for i in range(len(SCALES)))
    families: tuple[str, ...] = ("pythia",)
    gate: threading.Event | None = None
    gate_timeout: float = 10.0
    pipelines: list = field(default_factory=list)

    def load(self, paths: Sequence[str], options: LoadOptions) -> Any:
        if self.gate is not None:  # hold loading until the gate opens, the app quits, or the timeout passes
            worker = get_current_worker()
            deadline = time.monotonic() + self.gate_timeout
            while not self.gate.wait(0.05) and not worker.is_cancelled and time.monotonic() < deadline:
                pass
        for path in paths:
            if "bad" in path:
                raise InputError(
                    f"{path}: column 'model' is missing; map your model column with --map", path=path
                )
        return TableSummary()

    def pipeline(self, table: Any) -> FakePipeline:
        pipeline = FakePipeline(self.models, self.families)
        self.pipelines.append(pipeline)
        return pipeline
