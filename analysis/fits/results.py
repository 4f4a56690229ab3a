"""What the fits return: a fitted law (``FitResult``), a backtest (``Backtest``) and a stage's ``FitSet``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from analysis import schema as S
from analysis.fits.laws import Law, evaluate
from analysis.formatting import fit_line, parameter_text


@dataclass(frozen=True, eq=False)
class FitResult:
    """One fitted law. When ``ok`` is False, ``params``/``ci`` are empty and ``message`` says why.

    ``r2`` and ``residuals`` are in the fitted space named by ``r2_space``: ``"log"`` (log y - log y_hat) for
    power/saturating/joint, ``"linear"`` (y - y_hat) for logistic; ``r2_linear`` and ``r2_log`` give R^2 in
    both spaces for every law, so fits of different laws compare. ``fixed`` names parameters that were held
    fixed (the logistic floor at chance); ``unidentified`` the constants the data do not identify, with the
    words shown instead of their digits (``analysis.fits.checks``); ``ci_from`` what the CIs resampled.
    ``x_range``/``x2_range`` are the fitted ranges, used to flag extrapolation.
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
    unidentified: dict[str, str] = field(default_factory=dict)  # parameter -> words printed instead of digits
    ci_from: str = ""  # "item replicates" or "resampled points" (analysis.fits.bootstrap); "" without CIs
    r2_linear: float | None = None  # R^2 of y itself
    r2_log: float | None = None  # R^2 of log y (None when a value or prediction is <= 0)
    # (B, len(law params)) the good bootstrap replicates' parameters, in the law's order: the forecasts'
    # parameter uncertainty (analysis.forecasts); empty without a bootstrap
    replicates: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))

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
        """The fit without its per-point residuals and replicates: what a display reads (law, parameters, CIs,
        R^2)."""
        return replace(self, residuals=np.empty(0), replicates=np.empty((0, 0)))

    @property
    def r2_spaces(self) -> dict[str, float | None]:
        """R^2 by space, linear first: what a fit line shows."""
        return {"linear": self.r2_linear, "log": self.r2_log}

    def summary(self, backtest: Backtest | None = None) -> str:
        """The fit as one line of ``analysis.formatting.fit_line``, or why there is none; with its backtest
        (errors in the backtest's space, the refitted curve's parameters) when given."""
        shown = {}
        if backtest is not None:
            shown = {
                "backtest": {k: v for k, v in backtest.errors().items() if v is not None},
                "holdout": backtest.holdout,
                "backtest_space": backtest.error_space,
                "backtest_fit": backtest.fitted_text(),
                "backtest_miss": backtest.smooth_miss,
            }
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
            unidentified=self.unidentified,
            r2_spaces=self.r2_spaces,
            **shown,
        )

    def parameters(self) -> str:
        """The parameters alone, as the fit line shows them (``k=3 [2.5, 3.4]  E ~ 0 (not identified)``)."""
        return "  ".join(parameter_text(self.params, self.ci, self.fixed, self.unidentified))


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

    Errors are in ``error_space``, the metric's own: ``"log"`` for losses (``|log predicted - log y|``, a
    factor) and ``"linear"`` otherwise (``|predicted - y|``); ``rel_error = |predicted - y| / |y|``.
    Baselines, each predicting every held-out point (``analysis.fits.backtesting``):

    * the smooth line: the straight line on the metric's link scale (``smooth_scale``: log-log for losses,
      logit above chance for accuracies, log(-log p) for exact match; ``analysis.links``) through the last
      training points resolved there, extrapolated: what a smooth scaling curve predicts;
    * the last value (mean y at the largest training scale) and chance (when known).

    ``smooth_miss`` is the largest amount by which a held-out model misses the smooth line, either way, on the
    link scale (natural-log units); ``predictable`` is False when that is at least log 2, the verdicts' jump
    effect.
    ``fit`` is the law refitted on the training points: the curve a backtest plot draws, with its parameters.
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
    error_space: str = "linear"
    smooth_scale: str | None = None
    smooth_predicted: np.ndarray | None = None
    mae_smooth: float | None = None
    smooth_miss: float | None = None
    predictable: bool | None = None  # the held-out models follow the smooth line within log 2 (None: no line)

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

    def fitted_text(self) -> str:
        """The refitted curve's parameters as the backtest line shows them, or why there is none."""
        return self.fit.parameters() if self.fit.ok else f"no fit ({self.fit.message})"

    def errors(self) -> dict[str, float | None]:
        """Mean absolute errors by predictor, in ``error_space`` (the fit line's backtest keys)."""
        return {
            "backtest_mae": _finite_or_none(self.mae),
            "backtest_mae_smooth": None if self.mae_smooth is None else _finite_or_none(self.mae_smooth),
            "backtest_mae_last_value": _finite_or_none(self.mae_last_value),
            "backtest_mae_chance": self.mae_chance,
        }


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
                "r2_linear": fit.r2_linear,
                "r2_log": fit.r2_log,
                "unidentified": dict(fit.unidentified),
                "fixed": list(fit.fixed),
                "ci_from": fit.ci_from,
                "n_points": fit.n_points,
                "ok": fit.ok,
                "message": fit.message,
            }
            if fit.x2 is not None:
                record["x2"] = fit.x2
            bt = self.backtests.get((family, task, metric))
            if bt is not None:
                record["backtest"] = _backtest_record(bt)
            records.append(record)
        return json.loads(json.dumps(records, default=float))


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _backtest_record(bt: Backtest) -> dict:
    """A backtest as JSON-ready data: errors by predictor (in ``error_space``), the training fit (the curve
    drawn) and each held-out point."""
    smooth = bt.smooth_predicted if bt.smooth_predicted is not None else np.full(bt.x.shape, np.nan)
    return {
        "holdout": bt.holdout,
        "error_space": bt.error_space,
        "mae": _finite_or_none(bt.mae),
        "mae_smooth": None if bt.mae_smooth is None else _finite_or_none(bt.mae_smooth),
        "mae_last_value": _finite_or_none(bt.mae_last_value),
        "mae_chance": bt.mae_chance,
        "smooth_scale": bt.smooth_scale,
        "smooth_miss": None if bt.smooth_miss is None else _finite_or_none(bt.smooth_miss),
        "predictable": bt.predictable,
        "fit": {
            "law": bt.fit.law,
            "ok": bt.fit.ok,
            "params": dict(bt.fit.params),
            "unidentified": dict(bt.fit.unidentified),
            "summary": bt.fitted_text(),
        },
        "points": [
            {
                "x": float(a),
                "y": float(b),
                "predicted": _finite_or_none(c),
                "smooth": _finite_or_none(d),
                "extrapolated": bool(e),
            }
            for a, b, c, d, e in zip(bt.x, bt.y, bt.predicted, smooth, bt.extrapolated, strict=True)
        ],
    }


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
    "r2_linear": pl.Float64(),
    "r2_log": pl.Float64(),
    "unidentified": pl.List(pl.Struct({"name": pl.Utf8(), "words": pl.Utf8()})),
    "ci_from": pl.Utf8(),
    "ok": pl.Boolean(),
    "message": pl.Utf8(),
    "summary": pl.Utf8(),
    "holdout": pl.Int64(),
    "backtest_mae": pl.Float64(),
    "backtest_mae_smooth": pl.Float64(),
    "backtest_mae_last_value": pl.Float64(),
    "backtest_mae_chance": pl.Float64(),
    "backtest_mean_rel_error": pl.Float64(),
    "backtest_error_space": pl.Utf8(),
    "backtest_predictable": pl.Boolean(),
    "backtest_fit": pl.Utf8(),
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
        "r2_linear": fit.r2_linear,
        "r2_log": fit.r2_log,
        "unidentified": [{"name": k, "words": v} for k, v in fit.unidentified.items()],
        "ci_from": fit.ci_from or None,
        "ok": fit.ok,
        "message": fit.message,
        "summary": fit.summary(bt),
        "holdout": None if bt is None else bt.holdout,
        **(dict.fromkeys(_BACKTEST_COLUMNS) if bt is None else _backtest_columns(bt)),
    }


_BACKTEST_COLUMNS = (
    "backtest_mae",
    "backtest_mae_smooth",
    "backtest_mae_last_value",
    "backtest_mae_chance",
    "backtest_mean_rel_error",
    "backtest_error_space",
    "backtest_predictable",
    "backtest_fit",
)


def _backtest_columns(bt: Backtest) -> dict:
    return {
        **bt.errors(),
        "backtest_mean_rel_error": _finite_or_none(bt.mean_rel_error),
        "backtest_error_space": bt.error_space,
        "backtest_predictable": bt.predictable,
        "backtest_fit": bt.fitted_text(),
    }
