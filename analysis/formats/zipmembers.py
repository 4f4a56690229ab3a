"""Reading members of zip archives (Inspect's ``.eval`` logs), deflate or zstd, with one-line errors.

Inspect 0.3.206 and later compress ``.eval`` members with zstd (zip method 93), which the standard library
reads only from Python 3.14. Such a member's compressed bytes are taken through ``zipfile`` (which parses the
local header) as if stored, then decompressed with ``zstandard`` across frames (Inspect writes several frames
per member), capped at the size the archive's directory states and checked against its CRC-32. The
archive is only ever read.
"""

from __future__ import annotations

import copy
import io
import zipfile
import zlib
from pathlib import Path

import zstandard

from analysis.errors import InputError
from analysis.formats.jsonio import parse_json_bytes

ZIP_ZSTANDARD = 93
ZIP_MAGIC = b"PK\x03\x04"


def is_zip(path: Path) -> bool:
    """Whether the file starts with a zip local-file header (cheap: reads four bytes)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ZIP_MAGIC
    except OSError:
        return False


def open_zip(path: Path) -> zipfile.ZipFile:
    """The archive, or InputError naming the file when it is not a readable zip (e.g. truncated)."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise InputError(
            f"not a readable zip archive ({err}); the file may be truncated: re-export it", path=str(path)
        ) from err


def _zstd_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    raw = copy.copy(info)
    raw.compress_type = zipfile.ZIP_STORED
    raw.file_size = info.compress_size
    raw.CRC = None  # the CRC is of the decompressed bytes, checked below
    with archive.open(raw) as handle:
        compressed = handle.read()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(compressed), read_across_frames=True)
    data = reader.read(info.file_size + 1)
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile("zstd member does not match its size or CRC-32")
    return data


def member_bytes(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """The decompressed bytes of member ``name``; InputError naming the file and member when it is missing
    or damaged."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise InputError(f"member {name} is missing from the archive", path=str(path)) from None
    try:
        if info.compress_type == ZIP_ZSTANDARD:
            return _zstd_member(archive, info)
        return archive.read(info)
    except (
        zipfile.BadZipFile,
        zstandard.ZstdError,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
        ValueError,
    ) as err:
        raise InputError(
            f"member {name} cannot be decompressed ({err}); the file may be truncated: re-export it",
            path=str(path),
        ) from err


def member_json(archive: zipfile.ZipFile, name: str, path: Path) -> object:
    """Member ``name`` parsed as JSON; errors name the file and the member."""
    return parse_json_bytes(member_bytes(archive, name, path), f"member {name}", path)
