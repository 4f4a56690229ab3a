"""Showing strings from data files literally.

Model, task and family names come from the user's files. Rich markup in them (``[red]x[/red]``) must not
restyle the screen and escape sequences (``\\x1b[31m``) or other control characters must not reach the
terminal. Every data string goes through :func:`clean` (plain ``str``) or :func:`literal` (a
``rich.text.Text``, which Textual never parses as markup).
"""

from __future__ import annotations

import re

from rich.text import Text

# ESC sequences first, so their parameters vanish with them; then any remaining C0/C1 control character.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")
REPLACEMENT = "\ufffd"


def clean(value: object, *, max_length: int | None = None) -> str:
    """``value`` as one line of printable text: escape sequences removed, other controls shown as U+FFFD."""
    text = "" if value is None else str(value)
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAKS.sub(" ", text)
    text = _CONTROL.sub(REPLACEMENT, text)
    if max_length is not None and len(text) > max_length:
        text = text[: max(max_length - 1, 0)] + "…"
    return text


def literal(value: object, *, style: str = "", max_length: int | None = None) -> Text:
    """A ``Text`` that shows ``value`` exactly (after :func:`clean`), never interpreted as markup."""
    return Text(clean(value, max_length=max_length), style=style, no_wrap=True, overflow="ellipsis")
