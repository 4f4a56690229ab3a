"""The one exception type the analysis layer raises for bad input.

Every message is a single line that names the file (and the column or row when known) and says what to do,
so the CLI can print it and exit 2 and the app can show it in a notification without a traceback.
"""

from __future__ import annotations

import re

# Terminal escape sequences and control characters from file contents (a model name, a header decoded from
# UTF-16) must not reach the user's terminal: CSI/OSC/other ESC sequences go whole, other C0/C1 controls and
# bidirectional overrides become U+FFFD.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_LINE_BREAK = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")


def printable(text: object) -> str:
    """``text`` safe to print on one terminal line: escape sequences removed, line breaks and tabs become
    spaces, other control characters U+FFFD; runs of spaces are kept (tables stay aligned)."""
    text = _LINE_BREAK.sub(" ", _ESCAPE_SEQUENCE.sub("", str(text)))
    return _CONTROL.sub("\ufffd", text)


def one_line(message: object) -> str:
    """``message`` as one line of plain text: whitespace runs collapsed, terminal controls removed."""
    return printable(" ".join(str(message).split()))


class InputError(ValueError):
    """Bad or unusable input; ``str(err)`` is a one-line message fit to show a person."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        line = one_line(message)
        shown_path = None if path is None else one_line(path)
        if shown_path is not None and shown_path not in line:
            line = f"{shown_path}: {line}"
        super().__init__(line)
        self.path = path


class AnalysisError(ValueError):
    """An analysis that cannot give numbers (too few points, a constant curve); the message says why."""
