"""Showing strings from data files literally.

Model, task and family names come from the user's files. Rich markup in them (``[red]x[/red]``) must not
restyle the screen and escape sequences (``\\x1b[31m``) or other control characters must not reach the
terminal. Every data string goes through :func:`clean` (plain ``str``) or :func:`literal` (a
``rich.text.Text``, which Textual never parses as markup).
"""

from __future__ import annotations

from rich.text import Text

from analysis.errors import printable


def clean(value: object, *, max_length: int | None = None) -> str:
    """``value`` as one line of printable text (``analysis.errors.printable``), cut to ``max_length``."""
    text = printable("" if value is None else value)
    if max_length is not None and len(text) > max_length:
        text = text[: max(max_length - 1, 0)] + "…"
    return text


def elide(value: object, width: int) -> str:
    """``value`` cleaned and, when longer than ``width``, cut in the middle (``pythia-1…deduped``): names of
    one family differ at their ends (sizes, suffixes), so both ends stay."""
    text = clean(value)
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + (text[-tail:] if tail else "")


def literal(value: object, *, style: str = "", max_length: int | None = None, middle: bool = False) -> Text:
    """A ``Text`` that shows ``value`` exactly (after :func:`clean`), never interpreted as markup; cut at
    ``max_length`` at its end, or in its middle with ``middle``."""
    shown = (
        elide(value, max_length) if middle and max_length is not None else clean(value, max_length=max_length)
    )
    return Text(shown, style=style, no_wrap=True, overflow="ellipsis")


def elided_widths(names: dict[str, list[str]], room: int, least: int = 6) -> dict[str, int]:
    """Widths for the name columns of a table: each at least as wide as it takes for its distinct names to
    stay distinct when cut in the middle (:func:`tui.safe_text.elide`), never wider than its longest name,
    and the ``room`` left over shared out one character at a time to the columns still cut."""
    longest = {c: max((len(v) for v in values), default=0) for c, values in names.items()}
    widths = {}
    for column, values in names.items():
        distinct = len(set(values))
        width = min(least, longest[column])
        while width < longest[column] and len({elide(v, width) for v in values}) < distinct:
            width += 1
        widths[column] = width
    spare = room - sum(widths.values())
    while spare > 0:
        cut = [c for c in names if widths[c] < longest[c]]
        if not cut:
            break
        for column in cut:
            if spare <= 0:
                break
            widths[column] += 1
            spare -= 1
    return widths
