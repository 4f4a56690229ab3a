"""How numbers and fits read as text, in the report and the app alike: one number format, one fit line.

Numbers (``number``): 3 significant digits, never a padded exponent (1234.5 -> 1230); a compact exponent at a
size of 1e5 or more or below 1e-3 (1.00e8, 3.20e-4); ``+inf``/``-inf``; an en dash for a missing value (None
or NaN); integers as they are and booleans as yes/no.

A fit (``fit_line``): ``logistic vs params  k=3.41 [3.1, 8.26]  x0=9.1 [8.9, 9.3]  R²=0.97`` then the backtest
(``backtest (top 2 held out): MAE 0.0162 vs last value 0.0437, chance 0.728``) and the fit's notes, two spaces
apart; a refused fit reads ``logistic: no fit — <why>``.

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


def interval(lo: Any, hi: Any) -> str:
    if lo is None and hi is None:
        return "–"
    return f"[{number(lo)}, {number(hi)}]"


BACKTEST_WORDS: dict[str, str] = {
    "backtest_mae": "MAE",
    "backtest_mae_last_value": "last value",
    "backtest_mae_chance": "chance",
    "backtest_mean_rel_error": "mean rel. error",
}


def backtest_text(values: dict[str, Any], holdout: int) -> str:
    """``backtest (top 2 held out): MAE 0.0162 vs last value 0.0437, chance 0.728; mean rel. error 0.83``."""
    named = {BACKTEST_WORDS.get(k, k.removeprefix("backtest_")): number(v) for k, v in values.items()}
    text = f"backtest (top {holdout} held out):"
    if "MAE" in named:
        text += f" MAE {named.pop('MAE')}"
        baselines = [f"{name} {named.pop(name)}" for name in ("last value", "chance") if name in named]
        if baselines:
            text += " vs " + ", ".join(baselines)
    rest = [f"{name} {value}" for name, value in named.items()]
    if rest:
        text += ("; " if "MAE" in text else " ") + "; ".join(rest)
    return text


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
) -> str:
    """One fit as one line (the module docstring's format); ``backtest`` has the ``BACKTEST_WORDS`` keys.

    A parameter named in ``fixed`` without a CI reads ``floor=0.25 (fixed)``; with ``r2_space`` R² reads
    ``R²(log)=0.97``.
    """
    if not ok:
        return f"{law or 'fit'}: no fit — {message or 'unknown reason'}"
    parts = [f"{law or '?'} vs {x}"]
    if isinstance(params, Mapping):
        for name, value in params.items():
            bounds = ci.get(name) if isinstance(ci, Mapping) else None
            ci_text = f" {interval(*bounds)}" if isinstance(bounds, list | tuple) and len(bounds) == 2 else ""
            if not ci_text and name in fixed:
                ci_text = " (fixed)"
            parts.append(f"{name}={number(value)}{ci_text}")
    else:
        parts.append(str(params))
    parts.append(f"R²{f'({r2_space})' if r2_space else ''}={number(r2)}")
    if backtest:
        parts.append(backtest_text(backtest, holdout))
    if message:
        parts.append(str(message))
    return "  ".join(parts)
