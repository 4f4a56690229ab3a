"""Numbers as the tables show them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell: 3 significant digits, ``+inf``/``-inf``, and an en dash for missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
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


def fmt_ci(lo: Any, hi: Any) -> str:
    if lo is None and hi is None:
        return "–"
    return f"[{fmt(lo)}, {fmt(hi)}]"
