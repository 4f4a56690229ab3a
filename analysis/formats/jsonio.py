"""Reading JSON and JSON Lines with one-line errors that name the file and, for JSON Lines, the line.

JSON is parsed with limits, so a file that other tools parse (or choke on) never ends in a traceback:

* Special files (FIFOs, sockets, devices) are refused from ``stat`` before anything opens them
  (``analysis.files``); ``head_text`` gives an empty head for them, so sniffing never blocks.
* Depth: arrays and objects nested deeper than Python's parser can follow (about 1,000 levels, the
  interpreter's recursion limit) give "nested too deeply" naming the file (and the line of a JSON Lines file).
  Result files nest a few levels.
* Number size: an integer literal of more than ``MAX_INT_DIGITS`` digits is read as a float (infinite
  beyond about 1e308) instead of an exact int, so neither Python's 4,300-digit limit nor a later int-to-float
  overflow can raise; the readers then refuse it as a value ("not finite") or as a count
  (``validation.as_count``).
  ``NaN`` and ``Infinity`` tokens are read as floats, as Python does, and checked where they are used.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path

from analysis.errors import InputError
from analysis.files import read_problem, require_regular, special_kind

MAX_INT_DIGITS = 300  # exact ints up to here (any float is below 1.8e308); longer literals are read as floats


def head_text(path: Path, size: int = 8192) -> str:
    """The first ``size`` bytes of a file as text (for cheap sniffing); empty when unreadable or special."""
    if special_kind(path) is not None:
        return ""
    try:
        with path.open("rb") as handle:
            return handle.read(size).decode("utf-8", errors="replace")
    except OSError:
        return ""


# UTF-32 LE opens with the UTF-16 LE mark, so the 32-bit marks are tried first.
_WIDE_MARKS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def check_utf8_text(path: Path) -> None:
    """Refuse UTF-16/32 and binary files before a text reader turns them into garbage column names.

    A UTF-8 byte-order mark is fine (readers skip it), and so is a stray NUL inside UTF-8 text (a model name);
    many NULs, or NULs in bytes that are not UTF-8, mean binary or UTF-16/32 without a byte-order mark. An
    unreadable file is left for the reader to report; a FIFO, socket or device raises (it is never opened).
    """
    require_regular(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError:
        return
    for mark, name in _WIDE_MARKS:
        if head.startswith(mark):
            raise InputError(
                f"the file is {name} text; re-save it as UTF-8 (e.g. iconv -f {name} -t UTF-8)",
                path=str(path),
            )
    nuls = head.count(b"\x00")
    if nuls and (nuls * 10 >= len(head) or not _decodes_as_utf8(head)):
        raise InputError(
            "the file holds NUL bytes, so it is binary (or UTF-16 without a byte-order mark), not UTF-8 "
            "text; give the results as UTF-8 CSV, JSON Lines or Parquet",
            path=str(path),
        )


def _decodes_as_utf8(head: bytes) -> bool:
    """Whether ``head`` is UTF-8, allowing a character cut off at the end of the sample."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: object) -> object:
    """Strings with U+FFFD for the lone surrogates a JSON escape like ``"\\ud800"`` decodes to (not UTF-8)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _parse_int(digits: str) -> int | float:
    """An integer literal: exact up to ``MAX_INT_DIGITS`` digits, else a float (inf beyond ~1e308)."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


class _TooDeep(Exception):
    """Arrays or objects nested beyond what the parser can follow."""


def _loads(text: str) -> object:
    """``json.loads`` with the limits of the module docstring; a text escaping surrogates gets lone ones
    replaced (valid pairs are already joined). Raises ``_TooDeep`` for nesting the parser cannot follow."""
    try:
        value = json.loads(text, parse_int=_parse_int)
        return _without_lone_surrogates(value) if _SURROGATE_ESCAPE.search(text) else value
    except RecursionError:
        raise _TooDeep from None


_TOO_DEEP = (
    "arrays or objects nested too deeply to read (more than about 1,000 levels; result files nest a few): "
    "it is not a result file, or it is corrupt"
)


def read_json(path: Path) -> object:
    """Parse a whole JSON file; a truncated or invalid file raises InputError naming the file and position."""
    check_utf8_text(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise InputError(read_problem(err), path=str(path)) from err
    except UnicodeDecodeError as err:
        raise InputError(
            f"cannot read the file ({err}); check it is a readable UTF-8 file", path=str(path)
        ) from err
    try:
        return _loads(text)
    except _TooDeep:
        raise InputError(_TOO_DEEP, path=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); the file may be "
            "truncated: re-export it or move it out of the folder",
            path=str(path),
        ) from err


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (1-based line number, record) for each non-blank line; a bad line raises InputError naming it."""
    check_utf8_text(path)
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as err:
        raise InputError(read_problem(err), path=str(path)) from err
    with handle:
        yield from _records(path, iter(handle))


def _records(path: Path, handle: Iterator[str]) -> Iterator[tuple[int, dict]]:
    """Parse each non-blank line; a line that is not UTF-8 or not a JSON object raises naming it."""
    number = 0
    while True:
        try:
            line = next(handle)
        except StopIteration:
            return
        except OSError as err:
            raise InputError(f"{path} line {number + 1}: {read_problem(err)}", path=str(path)) from err
        except UnicodeDecodeError as err:
            raise InputError(
                f"{path} line {number + 1}: not UTF-8 text ({err.reason}); re-save the file as UTF-8",
                path=str(path),
            ) from err
        number += 1
        if not line.strip():
            continue
        try:
            record = _loads(line)
        except _TooDeep:
            raise InputError(f"{path} line {number}: {_TOO_DEEP}", path=str(path)) from None
        except json.JSONDecodeError as err:
            raise InputError(
                f"{path} line {number}: not valid JSON ({err.msg}); the file may be truncated: "
                "re-export it or delete that line",
                path=str(path),
            ) from err
        if not isinstance(record, dict):
            raise InputError(
                f"{path} line {number}: expected a JSON object per line, found {type(record).__name__}",
                path=str(path),
            )
        yield number, record


def parse_json_bytes(data: bytes, where: str, path: Path) -> object:
    """Parse JSON held in memory (e.g. a zip member); errors name ``where`` (e.g. "member header.json")."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{where}: not UTF-8 text ({err.reason})", path=str(path)) from err
    try:
        return _loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{where}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); the file may be "
            "truncated or damaged: re-export it",
            path=str(path),
        ) from err
