"""Parameter counts read from model names (``pythia-1.4b``, ``opt-125m``, ``bloom-1b1``), marked nominal.

Names round their sizes ("pythia-1.4b" has 1.41e9 parameters), so a count parsed here is *nominal*: good
enough to place a model on a log axis, and flagged so the user knows it was not measured.
"""

from __future__ import annotations

import re

_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}

# A number with a unit letter between separators: "1.4b", "125m", "7B", "1b1" (= 1.1b), "3.8k".
# The look-behind rejects digits glued to letters ("qwen2.5", "8x7b"); the look-ahead rejects words ("7bit").
_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([kmbt])(\d+)?(?![a-z0-9])", re.IGNORECASE)


def params_from_name(name: str | None) -> float | None:
    """The parameter count a model name states, or None when it states none.

    The first size-like token wins: ``llama-7b-32k`` gives 7e9. A digit after the unit is a decimal
    (``bloom-1b7`` is 1.7e9), following the BLOOM and Pythia naming.
    """
    if not name:
        return None
    match = _SIZE.search(name)
    if match is None:
        return None
    number, unit, decimals = match.groups()
    if decimals is not None:
        if "." in number:
            return None
        number = f"{number}.{decimals}"
    return float(number) * _UNITS[unit.lower()]
