"""What the fits return: a fitted law (``FitResult``), a backtest (``Backtest``) and a stage's ``FitSet``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.fits.laws import Law, evaluate
from analysis.formatting import fit_line


@dataclass(frozen=True, eq=False)
class FitResult:
    """One fitted law. When ``ok`` is False, ``params``/``ci`` are empty and ``message`` says why.

    ``r2`` and ``residuals`` are in the fitted space named by ``r2_space``: ``"log"`` (log y - log y_hat) for
    power/saturating/joint, ``"linear"`` (y - y_hat) for logistic. ``fixed`` names parameters that were held
    fixed (the logistic floor at chance). ``x_range``/``x2_range`` are the fitted ranges, used to flag
    extrapolation.
    """

    law: str
    x: str
    params: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    r2: float | None = None
    r2_space: str = "log"
    residuals: np.ndarray = field(default_factory=lambda: np.empty(0))
    n_points: int = 0
    ok: bool = False
    message: str = ""
    x2: str | None = None
    fixed: tuple[str, ...] = ()
    x_range: tuple[float, float] | None = None
    x2_range: tuple[float, float] | None = None
    objective: float | None = None
    n_bootstrap: int = 0  # replicates that gave a fit
    n_bootstrap_failed: int = 0  # replicates dropped

    def predict(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        """The fitted law at x (and x2 for the joint law); all NaN when the fit is not ok."""
        x = np.asarray(x, dtype=float)
        if not self.ok:
            return np.full(np.broadcast(x, x if x2 is None else np.asarray(x2)).shape, np.nan)
        return evaluate(self.law, self.params, x, None if x2 is None else np.asarray(x2, dtype=float))

    def extrapolates(self, x: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        """True where a prediction at x (x2) lies outside the range the law was fitted on."""
        x = np.asarray(x, dtype=float)
        if self.x_range is None:
            return np.ones(x.shape, dtype=bool)
        outside = (x < self.x_range[0]) | (x > self.x_range[1])
        if x2 is not None and self.x2_range is not None:
            x2 = np.asarray(x2, dtype=float)
            outside = outside | (x2 < self.x2_range[0]) | (x2 > self.x2_range[1])
        return outside

    def without_data(self) -> FitResult:
        """The fit without its per-point residuals: what a display reads (law, parameters, CIs, R^2)."""
        return replace(self, residuals=np.empty(0))

    def summary(self) -> str:
        """The fit as one line of ``analysis.formatting.fit_line``, or why there is none."""
        return fit_line(
            self.law,
            self.x,
            self.params,
            self.ci,
            self.r2,
            ok=self.ok,
            message=self.message,
            fixed=self.fixed,
            r2_space=self.r2_space,
        )


def _failed(law: Law, x_name: str, n: int, message: str, x2_name: str | None = None) -> FitResult:
    return FitResult(
        law=law.name,
        x=x_name,
        x2=x2_name,
        r2_space=law.fitted_space,
        n_points=n,
        ok=False,
        message=message,
    )


@dataclass(frozen=True, eq=False)
class Backtest:
    """A law fitted on all but the ``holdout`` largest scales, judged on the held-out points.

    Errors are in the metric's units: ``abs_error = |predicted - y|``, ``rel_error = abs_error / |y|``.
    Baselines: the last value (mean y at the largest training scale) and chance (when known), each predicting
    every held-out point. Every held-out prediction is marked in ``extrapolated`` when it lies beyond the
    fitted range.
    """

    fit: FitResult
    holdout: int
    x: np.ndarray
    y: np.ndarray
    predicted: np.ndarray
    abs_error: np.ndarray
    rel_error: np.ndarray
    extrapolated: np.ndarray
    mae: float
    last_value: float
    mae_last_value: float
    chance: float | None = None
    mae_chance: float | None = None
    x2: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.fit.ok

    def without_data(self) -> Backtest:
        """The backtest with its training fit ``without_data`` (the held-out points are few and kept)."""
        return replace(self, fit=self.fit.without_data())

    @property
    def mean_rel_error(self) -> float:
        finite = self.rel_error[np.isfinite(self.rel_error)]
        return float(finite.mean()) if finite.size else float("nan")


@dataclass(frozen=True, eq=False)
class FitSet:
    """The fits of a PointSet: a display frame plus FitResults (and Backtests) by (family, task, metric).

    Frame columns: family, task, metric, law, x, x2, n_points, params (list of {name, value}), ci (list of
    {name, lo, hi}), r2, r2_space, ok, message, summary, holdout, backtest_mae, backtest_mae_last_value,
    backtest_mae_chance, backtest_mean_rel_error. Params come from the fit on all points; backtest fields from
    a separate fit on the training points (``backtests[key].fit``).
    """

    frame: pl.DataFrame
    results: dict[tuple[str, str, str], FitResult] = field(default_factory=dict)
    backtests: dict[tuple[str, str, str], Backtest] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def without_data(self) -> FitSet:
        """The fits and backtests ``without_data``: what the app receives from the analysis process."""
        return FitSet(
            self.frame,
            {key: fit.without_data() for key, fit in self.results.items()},
            {key: bt.without_data() for key, bt in self.backtests.items()},
            self.notes,
        )

    def to_records(self) -> list[dict]:
        """JSON-ready dicts: family, task, metric, law, x, params {name: value}, ci {name: [lo, hi]}, r2..."""
        records = []
        for (family, task, metric), fit in self.results.items():
            record = {
                "family": family,
                "task": task,
                "metric": metric,
                "law": fit.law,
                "x": fit.x,
                "params": dict(fit.params),
                "ci": {name: [lo, hi] for name, (lo, hi) in fit.ci.items()},
                "r2": fit.r2,
                "r2_space": fit.r2_space,
                "n_points": fit.n_points,
                "ok": fit.ok,
                "message": fit.message,
            }
            if fit.x2 is not None:
                record["x2"] = fit.x2
            bt = self.backtests.get((family, task, metric))
            if bt is not None:
                record["backtest"] = {
                    "holdout": bt.holdout,
                    "mae": _finite_or_none(bt.mae),
                    "mae_last_value": _finite_or_none(bt.mae_last_value),
                    "mae_chance": bt.mae_chance,
                    "points": [
                        {
                            "x": float(a),
                            "y": float(b),
                            "predicted": _finite_or_none(c),
                            "extrapolated": bool(d),
                        }
                        for a, b, c, d in zip(bt.x, bt.y, bt.predicted, bt.extrapolated, strict=True)
                    ],
                }
            records.append(record)
        return json.loads(json.dumps(records, default=float))


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


_FRAME_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "law": pl.Utf8(),
    "x": pl.Utf8(),
    "x2": pl.Utf8(),
    "n_points": pl.Int64(),
    "params": pl.List(pl.Struct({"name": pl.Utf8(), "value": pl.Float64()})),
    "ci": pl.List(pl.Struct({"name": pl.Utf8(), "lo": pl.Float64(), "hi": pl.Float64()})),
    "r2": pl.Float64(),
    "r2_space": pl.Utf8(),
    "ok": pl.Boolean(),
    "message": pl.Utf8(),
    "summary": pl.Utf8(),
    "holdout": pl.Int64(),
    "backtest_mae": pl.Float64(),
    "backtest_mae_last_value": pl.Float64(),
    "backtest_mae_chance": pl.Float64(),
    "backtest_mean_rel_error": pl.Float64(),
}


def _frame_row(key: tuple[str, str, str], fit: FitResult, bt: Backtest | None) -> dict:
    return {
        S.FAMILY: key[0],
        S.TASK: key[1],
        S.METRIC: key[2],
        "law": fit.law,
        "x": fit.x,
        "x2": fit.x2,
        "n_points": fit.n_points,
        "params": [{"name": k, "value": v} for k, v in fit.params.items()],
        "ci": [{"name": k, "lo": lo, "hi": hi} for k, (lo, hi) in fit.ci.items()],
        "r2": fit.r2,
        "r2_space": fit.r2_space,
        "ok": fit.ok,
        "message": fit.message,
        "summary": fit.summary(),
        "holdout": None if bt is None else bt.holdout,
        "backtest_mae": None if bt is None else _finite_or_none(bt.mae),
        "backtest_mae_last_value": None if bt is None else _finite_or_none(bt.mae_last_value),
        "backtest_mae_chance": None if bt is None else bt.mae_chance,
        "backtest_mean_rel_error": None if bt is None else _finite_or_none(bt.mean_rel_error),
    }
