"""Forecasts: what a family's model at a new scale will score, with a prediction interval, and how well such
forecasts did when the largest scales were held out (docs/science.md section 7.5 and 7.6).

* **Direct.** The fit stage's law for the curve (``analysis.fits``) at the new scale. The prediction interval
  is the percentile interval of ``law(x; theta_b) + noise_b`` over the fit bootstrap's replicates theta_b
  (``FitResult.replicates``: parameter uncertainty), where noise_b is one draw of what measuring a new point
  adds: the lack of fit beyond the points' noise (a normal draw in the fitted space whose variance is the
  residual variance, ``RSS / (M - free parameters)``, less the points' mean measurement variance, when that
  is positive), then the point's own noise (a 0/1 metric: ``Binomial(n, value) / n`` with the n of the
  nearest measured model; others: a normal draw with that model's standard error). The interval is widened to
  hold the forecast itself (the law at the point estimate), as a point's bootstrap interval is.
* **Two-step** (discontinuous metrics): scale -> the continuous partner, fitted as a straight line on its
  link scale (the power law of its implied loss ``-log p`` against scale, the mirage model's smooth case:
  section 5.1) -> the discontinuous metric through its link: exact match = ``seq_prob`` (the expected exact
  match if answers were sampled: ``exp(-u)``) or ``token_prob^L`` (``exp(-L u)``); an accuracy from the
  correct choice's probability through the line relating the two on their link scales (logit above chance
  against ``log(-log p)``), fitted on the family's own models. Its noise is the partner's lack of fit, then
  the discontinuous metric's own binomial draw.
* **Extrapolation.** A forecast beyond the fitted range by more than ``ForecastSettings.factor`` (10: a
  decade) on the axis is flagged and says so.
* A forecast from a fit that is refused or does not identify a constant says so in words, with no digits.

``calibrate`` holds out the largest scale (and the largest two) of every curve, fits the rest as the fit stage
does, forecasts the held-out models and reports how often the intervals held them, against the nominal level,
and the errors against the last-value and chance baselines, per metric kind.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from analysis import links
from analysis import schema as S
from analysis.fits import FitResult, FitSet, fit_law, fit_points, held_out_rows, holds_out_largest
from analysis.fits.backtesting import smooth_link
from analysis.fits.laws import get_law, logistic, power, saturating
from analysis.fits.stage import _item_replicates, _task_chances, curve_chance
from analysis.formatting import interval, number
from analysis.metrics import CHOICE_PROB, SEQ_PROB, TOKEN_PROB
from analysis.options import NEXT_SCALE, FitSettings, ForecastSettings
from analysis.resampling.intervals import exact_interval
from analysis.resampling.seeds import stream

DIRECT = "direct"
TWO_STEP = "two-step"
LACK_OF_FIT_LEVEL = 0.05  # the residuals' chi-squared test against the points' noise
_NOISE_WORDS = "~ 0"  # an additive constant at 0: the law is its power term, which the data identify

FORECAST_RULE = (
    "forecasts (--predict): the fitted law at the new scale; the prediction interval is the percentile "
    "interval of the fit bootstrap's curves plus one draw each of the law's lack of fit beyond the points' "
    "noise and of a new point's own noise (binomial from the nearest model's n for 0/1 metrics, else its "
    "standard error); 'next' is the next decade beyond the family's largest scale; a forecast more than "
    "{factor:g}x beyond the fitted range is flagged; two-step forecasts of a discontinuous metric fit its "
    "continuous partner's implied loss -log p with the power law and map it through the link (exact "
    "match = seq_prob, or token_prob^L; an accuracy through the line relating it to choice_prob on their "
    "link scales), and the backtest with the largest scale held out says which route predicted it better"
)
CALIBRATION_RULE = (
    "calibration (--calibrate): every curve's largest scale (then its largest two) held out, the rest fitted "
    "as the fit stage does, the held-out models forecast; coverage is the share of held-out values inside "
    "their prediction interval (with its exact binomial interval), errors are mean absolute errors in the "
    "metric's space (log for losses, linear otherwise) beside the last value and chance"
)

FORECAST_SCHEMA: dict[str, pl.DataType] = {
    S.FAMILY: pl.Utf8(),
    S.TASK: pl.Utf8(),
    S.METRIC: pl.Utf8(),
    "kind": pl.Utf8(),
    "route": pl.Utf8(),
    "partner": pl.Utf8(),
    "law": pl.Utf8(),
    "x": pl.Utf8(),
    "asked": pl.Utf8(),
    "at": pl.Float64(),
    "value": pl.Float64(),
    "lo": pl.Float64(),
    "hi": pl.Float64(),
    "level": pl.Float64(),
    "ok": pl.Boolean(),
    "extrapolation": pl.Float64(),
    "beyond": pl.Boolean(),
    "backtest_error": pl.Float64(),
    "supported": pl.Utf8(),
    "sentence": pl.Utf8(),
}
HELD_SCHEMA: dict[str, pl.DataType] = {
    **{k: v for k, v in FORECAST_SCHEMA.items() if k not in ("asked", "backtest_error", "supported")},
    "holdout": pl.Int64(),
    "model": pl.Utf8(),
    "observed": pl.Float64(),
    "covered": pl.Boolean(),
    "error_space": pl.Utf8(),
    "error": pl.Float64(),
    "last_value": pl.Float64(),
    "error_last_value": pl.Float64(),
    "chance": pl.Float64(),
    "error_chance": pl.Float64(),
}
CALIBRATION_SCHEMA: dict[str, pl.DataType] = {
    "holdout": pl.Int64(),
    "kind": pl.Utf8(),
    "route": pl.Utf8(),
    "error_space": pl.Utf8(),
    "curves": pl.Int64(),
    "forecasts": pl.Int64(),
    "covered": pl.Int64(),
    "coverage": pl.Float64(),
    "coverage_lo": pl.Float64(),
    "coverage_hi": pl.Float64(),
    "nominal": pl.Float64(),
    "mae": pl.Float64(),
    "mae_last_value": pl.Float64(),
    "mae_chance": pl.Float64(),
    "beats_last_value": pl.Float64(),
    "no_forecast": pl.Int64(),
}


@dataclass(frozen=True, eq=False)
class Forecasts:
    """One row per family x task x metric x scale x route (``FORECAST_SCHEMA``); ``supported`` names the route
    the backtest (largest scale held out) supports, on the rows of a discontinuous metric with both."""

    frame: pl.DataFrame
    notes: tuple[str, ...] = ()

    def without_data(self) -> Forecasts:
        return self


@dataclass(frozen=True, eq=False)
class Calibration:
    """``table``: per hold-out x metric kind x route x error space, coverage against nominal and the errors
    against the baselines (``CALIBRATION_SCHEMA``); ``held``: every held-out forecast (``HELD_SCHEMA``)."""

    table: pl.DataFrame
    held: pl.DataFrame
    notes: tuple[str, ...] = ()

    def without_data(self) -> Calibration:
        return self


@dataclass(frozen=True, eq=False)
class _Curve:
    """One family x task x metric's points with an axis value, sorted by it."""

    key: tuple[str, str, str]
    spec: S.MetricSpec | None
    kind: str
    models: list[str]
    x: np.ndarray
    y: np.ndarray
    n: np.ndarray  # NaN where unknown
    stderr: np.ndarray  # NaN where unknown
    chance: float | None
    replicates: np.ndarray | None  # (B, models) the points' own, in this order

    @property
    def binary(self) -> bool:
        return bool(self.spec is not None and self.spec.binary)


def _curves(points: S.PointSet, axis: str) -> dict[tuple[str, str, str], _Curve]:
    frame = points.frame
    if frame.is_empty() or axis not in frame.columns:
        return {}
    task_chance = _task_chances(frame, points.specs)
    keys = [S.FAMILY, S.TASK, S.METRIC]
    usable = frame.filter(pl.col(axis).is_not_null() & pl.col(S.VALUE).is_not_null() & (pl.col(axis) > 0))
    out: dict[tuple[str, str, str], _Curve] = {}
    for group in usable.sort([*keys, axis]).partition_by(keys, maintain_order=True):
        key = (group[S.FAMILY][0], group[S.TASK][0], group[S.METRIC][0])
        spec = points.specs.get(key[2])
        chance = curve_chance(group, spec, task_chance, key)
        models = group[S.MODEL].to_list()
        curves = _item_replicates(points, key, models)

        def column(name: str, g: pl.DataFrame = group) -> np.ndarray:
            if name not in g.columns:
                return np.full(g.height, np.nan)
            return g[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

        out[key] = _Curve(
            key,
            spec,
            str(group["kind"][0]) if "kind" in group.columns and group["kind"][0] else "continuous",
            models,
            column(axis),
            column(S.VALUE),
            column(S.N),
            column(S.STDERR),
            chance,
            curves,
        )
    return out


def next_scale(x: np.ndarray, axis: str) -> float:
    """The next decade beyond a family's largest scale (on a loss axis, below its smallest loss)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if holds_out_largest(axis):
        return float(10.0 ** (math.floor(math.log10(x.max()) + 1e-12) + 1))
    return float(10.0 ** (math.ceil(math.log10(x.min()) - 1e-12) - 1))


def extrapolation(at: np.ndarray, low: float, high: float) -> np.ndarray:
    """How far beyond the fitted range [low, high] each scale lies, as a factor (1 inside it)."""
    at = np.asarray(at, dtype=float)
    return np.maximum(1.0, np.maximum(at / high, low / at))


def natural_range(
    spec: S.MetricSpec | None, length: float | None, largest: float | None = None
) -> tuple[float, float]:
    """The values a metric can take, which a forecast and its draws are clipped to: [0, 1] for rates and
    probabilities, [0, L] for the edit distance, [0, 2] for the multiclass Brier score, [0, inf) for
    losses; a score whose values (``largest``) exceed 1 is unbounded (a BLEU on 0-100)."""
    if spec is None:
        return -np.inf, np.inf
    scale = links.scale_for(spec, largest)
    if spec.binary or scale in (links.LOG_LOG, links.LOGIT):
        return 0.0, 1.0
    if scale == links.EDIT:
        return 0.0, float(length) if length else np.inf
    if scale == links.BRIER:
        return 0.0, 2.0
    if scale == links.LOG:
        return 0.0, np.inf
    return -np.inf, np.inf


def _law_curves(law: str, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The law at x (S,) for every parameter row (R, p): (R, S)."""
    names = get_law(law).params
    columns = {name: params[:, i : i + 1] for i, name in enumerate(names)}
    function = {"power": power, "saturating": saturating, "logistic": logistic}[law]
    with np.errstate(all="ignore"):
        return function(np.asarray(x, dtype=float)[None, :], **columns)


def _misfit_sd(fit: FitResult, y: np.ndarray, stderr: np.ndarray) -> float:
    """The lack of fit beyond the points' noise, as a standard deviation in the fitted space: the residual
    variance (RSS over the residual degrees of freedom) less the points' mean measurement variance there,
    when the residuals exceed that noise by the chi-squared test at ``LACK_OF_FIT_LEVEL`` (else 0: the
    residuals are the points' noise, which the bootstrap already carries)."""
    residuals = np.asarray(fit.residuals, dtype=float)
    free = len(get_law(fit.law).params) - len(fit.fixed)
    dof = residuals.size - free
    if dof <= 0 or not np.isfinite(residuals).all():
        return 0.0
    with np.errstate(all="ignore"):
        measured = (stderr / y) ** 2 if fit.r2_space == "log" else stderr**2
    measured = measured[np.isfinite(measured) & (measured > 0)]
    rss = float((residuals**2).sum())
    noise = float(measured.mean()) if measured.size else 0.0
    if noise > 0:
        from scipy.stats import chi2  # on first use: the interface process must not load scipy

        if rss / noise <= float(chi2.ppf(1.0 - LACK_OF_FIT_LEVEL, dof)):
            return 0.0
    excess = rss / dof - noise
    return math.sqrt(excess) if excess > 0 else 0.0


def _nearest(curve: _Curve, at: np.ndarray) -> np.ndarray:
    """Index of the measured model nearest each scale (in log scale)."""
    return np.abs(np.log(curve.x)[None, :] - np.log(at)[:, None]).argmin(axis=1)


def _point_noise(
    rng: np.random.Generator, draws: np.ndarray, curve: _Curve, at: np.ndarray, relative: bool = False
) -> np.ndarray:
    """What measuring a new point adds to each drawn curve value (R, S): a 0/1 metric is read on the nearest
    model's n items (binomial), any other metric gets a normal draw with that model's standard error, scaled
    to the drawn value when ``relative`` (a law fitted in log space: the noise is a constant share)."""
    near = _nearest(curve, at)
    n = curve.n[near]
    if curve.binary and np.isfinite(n).all() and (n >= 1).all():
        p = np.clip(np.nan_to_num(draws, nan=0.0), 0.0, 1.0)
        return rng.binomial(n.astype(np.int64)[None, :], p) / n[None, :]
    sd = curve.stderr[near]
    fallback = curve.stderr[np.isfinite(curve.stderr)]
    sd = np.where(np.isfinite(sd), sd, float(np.median(fallback)) if fallback.size else 0.0)[None, :]
    if relative:
        with np.errstate(all="ignore"):
            sd = np.abs(sd * draws / curve.y[near][None, :])
    return draws + rng.normal(size=draws.shape) * sd


def _interval(samples: np.ndarray, value: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column, widened to hold the forecast itself."""
    tail = 100.0 * (1.0 - level) / 2.0
    good = np.isfinite(samples)
    lo = np.full(samples.shape[1], np.nan)
    hi = np.full(samples.shape[1], np.nan)
    for j in range(samples.shape[1]):
        column = samples[good[:, j], j]
        if column.size >= 2:
            lo[j], hi[j] = np.percentile(column, [tail, 100.0 - tail])
    return np.fmin(lo, value), np.fmax(hi, value)


def _unusable(fit: FitResult) -> str | None:
    """Why a fit gives no forecast, in words (the fit's own message says the rest), or None."""
    if not fit.ok:
        return f"no forecast: the {fit.law} fit was refused ({fit.message})"
    if fit.law == "joint":
        return "no forecast: the joint law needs a token count as well as a model size for each forecast"
    unknown = [name for name, words in fit.unidentified.items() if not words.startswith(_NOISE_WORDS)]
    if unknown:
        names = " and ".join(unknown)
        return (
            f"no forecast: the {fit.law} fit does not identify {names}, so its value beyond the measured "
            "models is not known"
        )
    return None


@dataclass(frozen=True, eq=False)
class _Draws:
    """A route's forecast at some scales: the value, its prediction interval, and why there is none."""

    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    law: str
    partner: str | None
    why: str | None  # no forecast, in words
    range: tuple[float, float]
    no_interval: str | None = None


def _direct(
    curve: _Curve,
    fit: FitResult | None,
    at: np.ndarray,
    level: float,
    seed: int,
    bounds: tuple[float, float] = (-np.inf, np.inf),
) -> _Draws:
    nan = np.full(at.shape, np.nan)
    span = (float(curve.x.min()), float(curve.x.max()))
    if fit is None:
        return _Draws(nan, nan, nan, "", None, "no forecast: this curve was not fitted", span)
    why = _unusable(fit)
    if fit.x_range is not None:
        span = fit.x_range
    if why is not None:
        return _Draws(nan, nan, nan, fit.law, None, why, span)
    value = np.clip(fit.predict(at), *bounds)
    replicates = np.asarray(fit.replicates, dtype=float)
    if replicates.ndim != 2 or replicates.shape[0] < 2:
        return _Draws(value, nan, nan, fit.law, None, None, span, "no interval: the fit bootstrap is off")
    rng = stream(seed, "forecast", *curve.key)
    draws = _law_curves(fit.law, replicates, at)
    sd = _misfit_sd(fit, curve.y, curve.stderr)
    if sd > 0:
        shift = rng.normal(size=draws.shape) * sd
        draws = draws * np.exp(shift) if fit.r2_space == "log" else draws + shift
    noisy = _point_noise(rng, draws, curve, at, relative=fit.r2_space == "log")
    lo, hi = _interval(np.clip(noisy, *bounds), value, level)
    return _Draws(value, lo, hi, fit.law, None, None, span)


@dataclass(frozen=True, eq=False)
class _Link:
    """How a partner's implied loss u (fitted) maps to the discontinuous metric."""

    partner: str
    words: str
    power: float | None = None  # exact match = exp(-power * u)
    line: tuple[float, float] | None = None  # accuracy: logit above chance = a + b * (-log u)
    chance: float = 0.0

    def apply(self, u: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            if self.power is not None:
                return np.exp(-self.power * u)
            assert self.line is not None
            z = self.line[0] + self.line[1] * -np.log(u)
            return links.from_link(links.LOGIT, z, self.chance, 1.0)


def _two_step_link(
    curve: _Curve, curves: Mapping[tuple[str, str, str], _Curve], lengths: Mapping[tuple[str, str], float]
) -> _Link | str | None:
    """The partner and link of a discontinuous metric's two-step forecast; a reason when it has partners but
    no usable link; None when it is not such a metric."""
    spec = curve.spec
    if spec is None or not spec.binary or spec.direction < 0 or curve.kind != "discontinuous":
        return None
    family, task, _ = curve.key
    scale = links.scale_for(spec)
    if scale == links.LOG_LOG:
        if (family, task, SEQ_PROB) in curves:
            return _Link(SEQ_PROB, "exact match = seq_prob", power=1.0)
        length = lengths.get((family, task))
        if (family, task, TOKEN_PROB) in curves and length:
            return _Link(TOKEN_PROB, f"exact match = token_prob^L, L = {number(length)}", power=float(length))
        return None
    if scale == links.LOGIT and (family, task, CHOICE_PROB) in curves:
        partner = curves[(family, task, CHOICE_PROB)]
        chance = curve.chance or 0.0
        shared = {m: i for i, m in enumerate(partner.models)}
        pairs = [(partner.y[shared[m]], curve.y[i]) for i, m in enumerate(curve.models) if m in shared]
        if not pairs:
            return "no two-step forecast: no model has both the accuracy and choice_prob"
        p, acc = np.array(pairs).T
        zp = links.to_link(links.LOG_LOG, p, 0.0, 1.0)
        za = links.to_link(links.LOGIT, acc, chance, 1.0)
        keep = np.isfinite(zp) & np.isfinite(za)
        if keep.sum() < 2 or np.ptp(zp[keep]) == 0:
            return (
                "no two-step forecast: fewer than two models are inside both link scales (accuracy above "
                "chance and below 1), so the link from choice_prob is not known"
            )
        slope, intercept = np.polyfit(zp[keep], za[keep], 1)
        return _Link(
            CHOICE_PROB,
            "accuracy from choice_prob through the line between their link scales",
            line=(float(intercept), float(slope)),
            chance=chance,
        )
    return None


def _two_step(
    curve: _Curve,
    partner: _Curve,
    link: _Link,
    at: np.ndarray,
    bootstrap: int,
    level: float,
    seed: int,
    axis: str,
) -> _Draws:
    """Scale -> the partner's implied loss u = -log p (the power law, with its bootstrap on the partner's own
    replicates) -> the discontinuous metric through ``link``, with the metric's own binomial noise."""
    nan = np.full(at.shape, np.nan)
    inside = (partner.y > 0) & (partner.y < 1)
    span = (float(partner.x[inside].min()), float(partner.x[inside].max())) if inside.any() else (1.0, 1.0)
    with np.errstate(all="ignore"):
        u = -np.log(partner.y[inside])
        reps = None if partner.replicates is None else -np.log(partner.replicates[:, inside])
    fit = fit_law(partner.x[inside], u, "power", bootstrap=bootstrap, ci=level, seed=seed, x_name=axis,
                  y_replicates=reps)  # fmt: skip
    why = _unusable(fit)
    if why is not None:
        why = why.replace("no forecast:", f"no two-step forecast: {link.partner}'s implied loss:", 1)
        return _Draws(nan, nan, nan, "power", link.partner, why, span)
    value = link.apply(fit.predict(at))
    replicates = np.asarray(fit.replicates, dtype=float)
    if replicates.ndim != 2 or replicates.shape[0] < 2:
        return _Draws(
            value, nan, nan, "power", link.partner, None, span, "no interval: the fit bootstrap is off"
        )
    rng = stream(seed, "two-step forecast", *curve.key)
    draws = _law_curves("power", replicates, at)
    with np.errstate(all="ignore"):
        sd = _misfit_sd(fit, u, partner.stderr[inside] / (partner.y[inside]))
    if sd > 0:
        draws = draws * np.exp(rng.normal(size=draws.shape) * sd)
    lo, hi = _interval(_point_noise(rng, link.apply(draws), curve, at), value, level)
    return _Draws(value, lo, hi, "power", link.partner, None, span)


def _sentence(metric: str, axis: str, at: float, draws: _Draws, j: int, level: float, factor: float,
              settings: ForecastSettings, route: str, asked: str) -> str:  # fmt: skip
    said = ["the next decade"] if asked == NEXT_SCALE else []
    if route == TWO_STEP:
        said.append(f"two-step via {draws.partner}")
    where = f"{metric} at {axis} {number(at)}" + (f" ({'; '.join(said)})" if said else "")
    if draws.why is not None:
        return f"{where}: {draws.why}"
    text = f"{where}: {number(draws.value[j])}"
    if draws.no_interval is not None:
        text += f" ({draws.no_interval})"
    else:
        text += f" {interval(draws.lo[j], draws.hi[j])} ({level:.0%} prediction interval)"
    if factor > settings.factor:
        text += (
            f"; {number(factor)}x beyond the fitted range (more than {settings.factor:g}x): the law is "
            "assumed to hold where no model was measured"
        )
    return text


def _rows(
    curve: _Curve,
    route: str,
    draws: _Draws,
    at: np.ndarray,
    asked: Sequence[str],
    level: float,
    axis: str,
    settings: ForecastSettings,
) -> list[dict]:
    factors = extrapolation(at, *draws.range)
    rows = []
    for j, x in enumerate(at):
        ok = draws.why is None and bool(np.isfinite(draws.value[j]))
        rows.append(
            {
                S.FAMILY: curve.key[0],
                S.TASK: curve.key[1],
                S.METRIC: curve.key[2],
                "kind": curve.kind,
                "route": route,
                "partner": draws.partner,
                "law": draws.law or None,
                "x": axis,
                "asked": asked[j],
                "at": float(x),
                "value": float(draws.value[j]) if ok else None,
                "lo": float(draws.lo[j]) if ok and np.isfinite(draws.lo[j]) else None,
                "hi": float(draws.hi[j]) if ok and np.isfinite(draws.hi[j]) else None,
                "level": level,
                "ok": ok,
                "extrapolation": float(factors[j]),
                "beyond": bool(factors[j] > settings.factor),
                "sentence": _sentence(
                    curve.key[2],
                    axis,
                    float(x),
                    draws,
                    j,
                    level,
                    float(factors[j]),
                    settings,
                    route,
                    asked[j],
                ),
            }
        )
    return rows


def _routes(
    curve: _Curve,
    curves: Mapping[tuple[str, str, str], _Curve],
    fits: FitSet,
    at: np.ndarray,
    lengths: Mapping[tuple[str, str], float],
    fit_settings: FitSettings,
) -> list[tuple[str, _Draws]]:
    """The direct forecast and, for a discontinuous metric with a partner, the two-step one."""
    level, seed = fit_settings.ci, fit_settings.seed
    largest = float(np.nanmax(curve.y)) if curve.y.size else None
    bounds = natural_range(curve.spec, lengths.get(curve.key[:2]), largest)
    out = [(DIRECT, _direct(curve, fits.results.get(curve.key), at, level, seed, bounds))]
    link = _two_step_link(curve, curves, lengths)
    if isinstance(link, str):
        span = (float(curve.x.min()), float(curve.x.max()))
        nan = np.full(at.shape, np.nan)
        out.append((TWO_STEP, _Draws(nan, nan, nan, "power", CHOICE_PROB, link, span)))
    elif link is not None:
        partner = curves[(*curve.key[:2], link.partner)]
        out.append(
            (
                TWO_STEP,
                _two_step(curve, partner, link, at, fit_settings.bootstrap, level, seed, fit_settings.x),
            )
        )
    return out


def _asked(scale: float | str) -> str:
    return NEXT_SCALE if scale == NEXT_SCALE else number(float(scale))


def _family_scales(points: S.PointSet, axis: str) -> dict[str, np.ndarray]:
    """Each family's values of ``axis`` over every task (the rows a curve can use): the next decade is the
    family's, the same for each of its tasks, whichever tasks are forecast."""
    frame = points.frame
    if frame.is_empty() or axis not in frame.columns:
        return {}
    usable = frame.filter(pl.col(axis).is_not_null() & pl.col(S.VALUE).is_not_null() & (pl.col(axis) > 0))
    return {
        str(family): group[axis].cast(pl.Float64).to_numpy()
        for (family,), group in usable.partition_by(S.FAMILY, as_dict=True).items()
    }


def forecast(
    points: S.PointSet,
    fits: FitSet,
    settings: ForecastSettings,
    fit_settings: FitSettings,
    lengths: Mapping[tuple[str, str], float] | None = None,
    tasks: Collection[str] | None = None,
) -> Forecasts:
    """Forecasts of every family x task x metric at ``settings.scales`` on ``fit_settings.x`` (``"next"``:
    the next decade beyond each family's largest scale), direct and, for discontinuous metrics with a
    partner, two-step; with the route the backtest (largest scale held out) supports. ``tasks``: only
    these tasks' curves (each the same as in the forecasts of every task); ``fits`` must hold their fits."""
    lengths = lengths or {}
    axis = fit_settings.x
    family_x = _family_scales(points, axis)
    if tasks is not None:
        points = points.of_tasks(tasks)
    curves = _curves(points, axis)
    rows: list[dict] = []
    for curve in curves.values():
        if curve.x.size == 0 or not settings.scales:
            continue
        at = np.array(
            [next_scale(family_x[curve.key[0]], axis) if s == NEXT_SCALE else float(s)
             for s in settings.scales]
        )  # fmt: skip
        asked = [_asked(s) for s in settings.scales]
        for route, draws in _routes(curve, curves, fits, at, lengths, fit_settings):
            rows.extend(_rows(curve, route, draws, at, asked, fit_settings.ci, axis, settings))
    frame = pl.DataFrame(
        rows, schema={k: v for k, v in FORECAST_SCHEMA.items() if k not in ("backtest_error", "supported")}
    )
    frame = _with_support(frame, points, fit_settings, settings, lengths)
    frame = frame.sort([S.FAMILY, S.TASK, S.METRIC, "route", "at"], maintain_order=True)
    return Forecasts(frame.select(list(FORECAST_SCHEMA)), (FORECAST_RULE.format(factor=settings.factor),))


def _with_support(
    frame: pl.DataFrame,
    points: S.PointSet,
    fit_settings: FitSettings,
    settings: ForecastSettings,
    lengths: Mapping[tuple[str, str], float],
) -> pl.DataFrame:
    """Each route's backtest error (largest scale held out: the forecast's value against the held-out value)
    and, per metric with both routes, the one with the smaller error."""
    keys = [S.FAMILY, S.TASK, S.METRIC]
    two = frame.filter(pl.col("route") == TWO_STEP).select(keys).unique()
    empty = frame.with_columns(
        pl.lit(None, pl.Float64).alias("backtest_error"), pl.lit(None, pl.Utf8).alias("supported")
    )
    if two.is_empty():
        return empty
    tasks = two.select(S.FAMILY, S.TASK).unique()
    subset = replace(points, frame=points.frame.join(tasks, on=[S.FAMILY, S.TASK], how="semi"))
    # only the values are compared: no bootstrap, and only the metrics forecast both ways are refitted
    held = held_forecasts(subset, replace(fit_settings, bootstrap=0), settings, 1, lengths, only=two)
    errors = (
        held.join(two, on=keys, how="semi")
        .group_by([*keys, "route"])
        .agg(pl.col("error").mean().alias("backtest_error"))
    )
    best = (
        errors.pivot(on="route", index=keys, values="backtest_error")
        if not errors.is_empty()
        else pl.DataFrame(schema={**dict.fromkeys(keys, pl.Utf8())})
    )
    for route in (DIRECT, TWO_STEP):
        if route not in best.columns:
            best = best.with_columns(pl.lit(None, pl.Float64).alias(route))
    best = best.with_columns(
        pl.when(pl.col(DIRECT).is_null() | pl.col(TWO_STEP).is_null())
        .then(pl.lit(None, pl.Utf8))
        .when(pl.col(TWO_STEP) < pl.col(DIRECT))
        .then(pl.lit(TWO_STEP))
        .when(pl.col(DIRECT) < pl.col(TWO_STEP))
        .then(pl.lit(DIRECT))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias("supported")
    ).select(*keys, "supported")
    return frame.join(errors, on=[*keys, "route"], how="left").join(best, on=keys, how="left")


def without_largest(points: S.PointSet, axis: str, holdout: int) -> tuple[S.PointSet, pl.DataFrame]:
    """The points without each curve's ``holdout`` largest scales (the smallest losses on a loss axis), and
    the held-out rows (the fit stage's hold-out rule, ``analysis.fits.held_out_rows``)."""
    mask = held_out_rows(points.frame, axis, holdout)
    return replace(points, frame=points.frame.filter(~mask)), points.frame.filter(mask)


def held_forecasts(
    points: S.PointSet,
    fit_settings: FitSettings,
    settings: ForecastSettings,
    holdout: int,
    lengths: Mapping[tuple[str, str], float] | None = None,
    only: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every curve's ``holdout`` largest scales held out, the rest fitted as the fit stage does (the same law,
    bootstrap and settings), each held-out model forecast by each route and judged (``HELD_SCHEMA``).
    ``only`` (family, task, metric rows) restricts the curves forecast, and fitted, to those; every curve of
    the points can still be a two-step partner."""
    lengths = lengths or {}
    axis = fit_settings.x
    training, held = without_largest(points, axis, holdout)
    keys = [S.FAMILY, S.TASK, S.METRIC]
    fitted = (
        training if only is None else replace(training, frame=training.frame.join(only, on=keys, how="semi"))
    )
    if only is not None:
        held = held.join(only, on=keys, how="semi")
    fits = fit_points(fitted, replace(fit_settings, holdout=0), lengths=lengths)
    curves = _curves(training, axis)
    truth = _curves(replace(points, frame=held), axis)
    rows: list[dict] = []
    for key, out in truth.items():
        curve = curves.get(key)
        if curve is None or curve.x.size == 0:
            continue
        space = smooth_link(curve.spec, curve.chance, lengths.get(key[:2]), curve.y).error_space
        edge = curve.x.max() if holds_out_largest(axis) else curve.x.min()
        last_value = float(curve.y[curve.x == edge].mean())
        for route, draws in _routes(curve, curves, fits, out.x, lengths, fit_settings):
            base = _rows(
                curve, route, draws, out.x, [number(v) for v in out.x], fit_settings.ci, axis, settings
            )
            for j, row in enumerate(base):
                observed = float(out.y[j])
                row.pop("asked")
                covered = None
                if row["lo"] is not None and row["hi"] is not None:
                    covered = bool(row["lo"] <= observed <= row["hi"])
                rows.append(
                    {
                        **row,
                        "holdout": holdout,
                        "model": out.models[j],
                        "observed": observed,
                        "covered": covered,
                        "error_space": space,
                        "error": _error(row["value"], observed, space),
                        "last_value": last_value,
                        "error_last_value": _error(last_value, observed, space),
                        "chance": curve.chance,
                        "error_chance": None
                        if curve.chance is None
                        else _error(curve.chance, observed, space),
                    }
                )
    return pl.DataFrame(rows, schema=HELD_SCHEMA)


def _error(predicted: float | None, observed: float, space: str) -> float | None:
    """|predicted - observed| in the metric's space (log: a factor, undefined at or below 0)."""
    if predicted is None or not math.isfinite(predicted) or not math.isfinite(observed):
        return None
    if space == "log":
        if predicted <= 0 or observed <= 0:
            return None
        return abs(math.log(predicted) - math.log(observed))
    return abs(predicted - observed)


def calibrate(
    points: S.PointSet,
    fit_settings: FitSettings,
    settings: ForecastSettings | None = None,
    lengths: Mapping[tuple[str, str], float] | None = None,
) -> Calibration:
    """Forecast calibration over every curve of the points: for each hold-out of ``settings.holdouts``, the
    coverage of the prediction intervals against the nominal level (with its exact binomial interval) and the
    mean absolute errors against the last-value and chance baselines, per metric kind x route x error
    space."""
    settings = settings or ForecastSettings()
    held = pl.concat(
        [held_forecasts(points, fit_settings, settings, k, lengths) for k in settings.holdouts],
        how="vertical",
    )
    return Calibration(calibration_table(held, fit_settings.ci), held, (CALIBRATION_RULE,))


def calibration_table(held: pl.DataFrame, level: float) -> pl.DataFrame:
    """The calibration's one table from its held-out forecasts (``HELD_SCHEMA``): per hold-out x metric kind
    x route x error space, coverage with its exact interval at ``level``, and the mean errors."""
    by = ["holdout", "kind", "route", "error_space"]
    if held.is_empty():
        return pl.DataFrame(schema=CALIBRATION_SCHEMA)
    table = (
        held.group_by(by, maintain_order=True)
        .agg(
            pl.struct(S.FAMILY, S.TASK, S.METRIC).n_unique().alias("curves"),
            pl.col("covered").is_not_null().sum().cast(pl.Int64).alias("forecasts"),
            pl.col("covered").sum().cast(pl.Int64).alias("covered"),
            pl.col("error").filter(pl.col("covered").is_not_null()).mean().alias("mae"),
            pl.col("error_last_value").filter(pl.col("covered").is_not_null()).mean().alias("mae_last_value"),
            pl.col("error_chance").filter(pl.col("covered").is_not_null()).mean().alias("mae_chance"),
            (pl.col("error") < pl.col("error_last_value"))
            .filter(pl.col("covered").is_not_null() & pl.col("error_last_value").is_not_null())
            .mean()
            .alias("beats_last_value"),
            pl.col("ok").not_().sum().cast(pl.Int64).alias("no_forecast"),
        )
        .sort(by)
    )
    k = table["covered"].to_numpy().astype(float)
    n = table["forecasts"].to_numpy().astype(float)
    safe = np.maximum(n, 1.0)
    lo, hi = exact_interval(k, safe, level)
    table = table.with_columns(
        pl.Series("coverage", np.where(n > 0, k / safe, np.nan)).fill_nan(None),
        pl.Series("coverage_lo", np.where(n > 0, lo, np.nan)).fill_nan(None),
        pl.Series("coverage_hi", np.where(n > 0, hi, np.nan)).fill_nan(None),
        pl.lit(level).alias("nominal"),
    )
    return table.select(list(CALIBRATION_SCHEMA)).cast(CALIBRATION_SCHEMA)
