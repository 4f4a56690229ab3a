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


def literal(value: object, *, style: str = "", max_length: int | None = None) -> Text:
    """A ``Text`` that shows ``value`` exactly (after :func:`clean`), never interpreted as markup."""
    return Text(clean(value, max_length=max_length), style=style, no_wrap=True, overflow="ellipsis")
