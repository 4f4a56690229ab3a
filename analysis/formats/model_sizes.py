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


# words that name a size within a family rather than the family ("gpt2-xl", "t5-small")
_SIZE_WORDS = frozenset({"tiny", "mini", "small", "base", "medium", "large", "xl", "xxl", "huge", "giant"})
# how a checkpoint was stored or packaged ("Llama-2-7b-hf", "pythia-1b-bf16"), not which family it is
_NOISE_WORDS = frozenset({"hf", "bf16", "fp16", "fp32", "int8", "int4"})
_BARE_SIZE = re.compile(r"^[1-9]\d{2,}$")  # "tinygpt-3792": a bare parameter count


def family_from_name(name: str | None, needs_size: bool = False) -> str | None:
    """The family a model name states: its name without the organisation, the size and size words.

    ``EleutherAI/pythia-1.4b-deduped`` -> ``pythia-deduped``, ``meta-llama/Llama-2-7b-hf`` -> ``Llama-2``,
    ``gpt2-xl`` -> ``gpt2``, ``flan-t5-small`` -> ``flan-t5``, ``falcon-40b-instruct`` -> ``falcon-instruct``,
    ``tinygpt-3792`` -> ``tinygpt``; None when nothing is left (a name that is only a size). With
    ``needs_size``, None also for a name that states no size (``gpt2``: nothing tells it from its family).
    """
    if not name:
        return None
    base = name.rsplit("/", 1)[-1]
    parts = re.split(r"([-_])", base)
    kept: list[str] = []
    for part in parts[::2]:
        lowered = part.lower()
        if (
            _SIZE.fullmatch(part)
            or _BARE_SIZE.match(part)
            or lowered in _SIZE_WORDS
            or lowered in _NOISE_WORDS
            or not part
        ):
            continue
        kept.append(part)
    if needs_size and len(kept) == len([p for p in parts[::2] if p and p.lower() not in _NOISE_WORDS]):
        return None
    return "-".join(kept) or None


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
