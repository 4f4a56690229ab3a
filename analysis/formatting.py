"""How numbers and fits read as text, in the report and the app alike: one number format, one fit line.

Numbers (``number``): 3 significant digits, never a padded exponent (1234.5 -> 1230); a compact exponent at a
size of 1e5 or more or below 1e-3 (1.00e8, 3.20e-4); ``+inf``/``-inf``; an en dash for a missing value (None
or NaN); integers as they are and booleans as yes/no.

A fit (``fit_line``): ``logistic vs params  k=3.41 [3.1, 8.26]  x0=9.1 [8.9, 9.3]  R² 0.97 (linear), 0.95
(log)`` then the backtest (``backtest (top 2 held out): law on the rest: k=3 x0=9.2; MAE(linear) 0.0162 vs
smooth line 0.02, last value 0.0437, chance 0.728``) and the fit's notes, two spaces apart; a parameter the
data do not identify reads in words (``E ~ 0 (not identified)``); a refused fit reads ``logistic: no fit —
<why>``.

Free of polars and numpy, so the app may use it before its first paint.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from numbers import Integral
from typing import Any


def number(value: Any, digits: int = 3) -> str:
    """A number for a table cell: 3 significant digits, ``+inf``/``-inf``, and an en dash for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"  # 1.00e8, 3.20e-4: no "+0" padding
    if x == 0:
        return "0"
    rounded = round(x, digits - 1 - math.floor(math.log10(abs(x))))  # 1234.5 -> 1230, never 1.23e+03
    return f"{rounded:.12g}"


NO_SPREAD = 1e-6  # a CI narrower than this share of its ends: the replicates agree to the fits' own precision


def interval(lo: Any, hi: Any) -> str:
    if lo is None and hi is None:
        return "–"
    digits = 3
    while (
        lo is not None
        and hi is not None
        and lo != hi
        and digits < 7
        and number(lo, digits) == number(hi, digits)
    ):
        digits += 1  # a narrow interval keeps the digits that tell its ends apart
    return f"[{number(lo, digits)}, {number(hi, digits)}]"


BACKTEST_WORDS: dict[str, str] = {
    "backtest_mae": "MAE",
    "backtest_mae_smooth": "smooth line",
    "backtest_mae_last_value": "last value",
    "backtest_mae_chance": "chance",
    "backtest_mean_rel_error": "mean rel. error",
}
_BASELINES = ("smooth line", "last value", "chance")


def backtest_text(
    values: dict[str, Any],
    holdout: int,
    *,
    space: str | None = None,
    fitted: str | None = None,
    miss: float | None = None,
) -> str:
    """``backtest (top 2 held out): MAE 0.0162 vs last value 0.0437, chance 0.728; mean rel. error 0.83``.

    ``space`` names where the errors are measured (``MAE(log)``); ``fitted`` is the parameter text of the law
    refitted on the training points, the curve a backtest plot draws (``law on the rest: k=3 x0=9.2``);
    ``miss`` the largest miss of the smooth line on the link scale (natural-log units): from log 2 on, the
    held-out models were not predictable from the smaller ones.
    """
    named = {BACKTEST_WORDS.get(k, k.removeprefix("backtest_")): number(v) for k, v in values.items()}
    text = f"backtest (top {holdout} held out):"
    if fitted:
        text += f" law on the rest: {fitted};"
    baselines = [f"{name} {named.pop(name)}" for name in _BASELINES if name in named]
    if "MAE" in named or baselines:
        text += f" MAE{f'({space})' if space else ''} {named.pop('MAE', '–')}"
        if baselines:
            text += " vs " + ", ".join(baselines)
    rest = [f"{name} {value}" for name, value in named.items()]
    if miss is not None and math.isfinite(miss):
        factor = f"{math.exp(miss):.3g}x" if miss < 40 else ">1e17x"
        verdict = "not predictable from the smaller models" if miss >= math.log(2) else "predictable"
        rest.append(f"held out vs smooth line: up to {factor} ({verdict})")
    if rest:
        text += ("; " if " MAE" in text else " ") + "; ".join(rest)
    return text


def parameter_text(
    params: Mapping[str, Any],
    ci: Mapping[str, Any] | Any,
    fixed: Collection[str] = (),
    unidentified: Mapping[str, str] | None = None,
) -> list[str]:
    """``k=3.41 [3.1, 8.26]`` per parameter; ``floor=0.25 (fixed)``; ``E ~ 0 (not identified)``: words, not
    digits, for a parameter the data do not identify, and for a CI of no width (every replicate at the same
    value, such as a falling curve's floor at its bound 0)."""
    parts = []
    for name, value in params.items():
        if unidentified and name in unidentified:
            parts.append(f"{name} {unidentified[name]}")
            continue
        bounds = ci.get(name) if isinstance(ci, Mapping) else None
        ci_text = f" {interval(*bounds)}" if isinstance(bounds, list | tuple) and len(bounds) == 2 else ""
        if name in fixed:
            ci_text = " (fixed)"
        elif ci_text and abs(bounds[1] - bounds[0]) <= NO_SPREAD * max(abs(bounds[0]), abs(bounds[1])):
            ci_text = " (no spread: every replicate gives this value)"
        parts.append(f"{name}={number(value)}{ci_text}")
    return parts


def fit_line(
    law: str | None,
    x: str,
    params: Mapping[str, Any] | Any,
    ci: Mapping[str, Any] | Any,
    r2: Any,
    *,
    ok: bool = True,
    message: str | None = "",
    backtest: Mapping[str, Any] | None = None,
    holdout: int = 0,
    fixed: Collection[str] = (),
    r2_space: str | None = None,
    unidentified: Mapping[str, str] | None = None,
    r2_spaces: Mapping[str, Any] | None = None,
    backtest_space: str | None = None,
    backtest_fit: str | None = None,
    backtest_miss: float | None = None,
) -> str:
    """One fit as one line (the module docstring's format); ``backtest`` has the ``BACKTEST_WORDS`` keys.

    A parameter named in ``fixed`` without a CI reads ``floor=0.25 (fixed)``, one in ``unidentified`` reads
    ``E ~ 0 (not identified)``; with ``r2_spaces`` ({"linear": .., "log": ..}) R² reads
    ``R² 0.97 (linear), 0.95 (log)``, else with ``r2_space`` ``R²(log)=0.97``.
    """
    if not ok:
        return f"{law or 'fit'}: no fit — {message or 'unknown reason'}"
    parts = [f"{law or '?'} vs {x}"]
    if isinstance(params, Mapping):
        parts += parameter_text(params, ci, fixed, unidentified)
    else:
        parts.append(str(params))
    if r2_spaces is not None:
        shown = [f"{number(v)} ({space})" for space, v in r2_spaces.items() if v is not None]
        parts.append(f"R² {', '.join(shown) or '–'}")
    else:
        parts.append(f"R²{f'({r2_space})' if r2_space else ''}={number(r2)}")
    if backtest:
        parts.append(
            backtest_text(
                dict(backtest), holdout, space=backtest_space, fitted=backtest_fit, miss=backtest_miss
            )
        )
    if message:
        parts.append(str(message))
    return "  ".join(parts)
