"""Writing results: files appear whole or not at all, and every failure is one line naming the output.

A shared cluster fills disks, mounts folders read-only and closes pipes. The rules:

* ``write_atomically`` writes into a hidden temporary file beside the target (``.<name>.<random>.tmp``), makes
  sure the bytes reached the disk (``fsync``), then links it into place: without ``overwrite`` a hard link,
  which fails if the target appeared meanwhile (never clobbered), else ``os.replace``. Whatever fails (disk
  full, read-only or missing folder, a file where a folder should be, an interrupt), the temporary file is
  removed and the target is untouched, so no partial or 0-byte file is left for a retry to trip over.
* ``write_stdout`` writes the report to standard output and flushes it: a closed stdout, a full device
  (``> /dev/full``) or another write error is an ``OutputError``; a closed pipe (``| head -1``) is left as
  ``BrokenPipeError`` for the caller to end quietly. After a failure stdout is pointed at ``/dev/null``, so
  Python's own flush at exit cannot print a second error.
* ``require_writable_folder`` checks a folder the program will write into (creating it if missing) by
  writing and removing a probe file, since permission bits do not tell about read-only mounts or root.

Messages name the path and say what to do; ``OutputError`` is kept apart from ``InputError`` (the input was
fine) but is shown the same way: one line, exit status 2.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from analysis.errors import one_line


class OutputError(Exception):
    """A result could not be written; ``str(err)`` is one line naming the output and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def describe_write_error(err: OSError) -> str:
    """Why a write failed, in words, with what to do."""
    if err.errno == errno.ENOSPC:
        return "no space left on the device; free some space or write somewhere else"
    if err.errno == errno.EDQUOT:
        return "over the disk quota; free some space or write somewhere else"
    if err.errno == errno.EROFS:
        return "the file system is read-only; write somewhere else"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; write into a folder you may write to"
    if err.errno == errno.ENOENT:
        return "the folder does not exist; create it first or choose another path"
    if err.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder; choose another path"
    if err.errno == errno.EISDIR:
        return "it is a folder; give a file name"
    return f"{err.strerror or err}"


def _remove_quietly(path: str | None) -> None:
    if path is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync(path: str) -> None:
    """Push the file's bytes to the disk, so a full disk fails here and not after the rename."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_target(target: str | Path, *, overwrite: bool = False) -> Path:
    """``target`` (``~`` expanded) when a file can be written there; OutputError when it is a folder, exists
    (without ``overwrite``), or its folder is missing or a file. Cheap, so a command can call it before the
    work whose result it will write."""
    target = Path(target).expanduser()
    folder = target.parent
    if target.is_dir():
        raise OutputError(f"{target}: it is a folder; give a file name")
    if not overwrite and (target.exists() or target.is_symlink()):
        raise OutputError(f"{target}: already exists; choose a new path (files are never overwritten)")
    if not folder.is_dir():
        missing = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"{target}: the folder {folder} {missing}; create it first or choose another path")
    return target


def write_atomically(target: str | Path, write: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Call ``write(temporary_path)`` and move the complete file to ``target`` (see the module docstring).

    Raises ``OutputError`` (one line) when the target exists and ``overwrite`` is False, when the folder is
    missing, not writable or full, and when ``write`` fails with a system error (an ``OSError``, or a library
    error quoting one); other exceptions from ``write`` propagate, always after the temporary file is
    removed.
    """
    target = check_target(target, overwrite=overwrite)
    folder = target.parent
    temporary = None
    try:
        temporary = _new_temporary(folder, target.name)
        write(Path(temporary))
        _fsync(temporary)
        if overwrite:
            os.replace(temporary, target)
        else:
            _link_new(temporary, target)
            _remove_quietly(temporary)
        temporary = None
    except Exception as err:
        failure = _as_os_error(err)
        if failure is None:
            raise
        raise OutputError(f"cannot write {target}: {describe_write_error(failure)}") from err
    finally:
        _remove_quietly(temporary)
    return target


_OS_ERROR_CODE = re.compile(r"\(os error (\d+)\)")


def _as_os_error(err: BaseException) -> OSError | None:
    """``err`` as an OSError: itself, or one rebuilt from a library error that reports the system's
    ("... (os error 28)", as polars does for a full disk); None for other errors."""
    found = _OS_ERROR_CODE.search(str(err))
    if isinstance(err, OSError) and (err.errno is not None or found is None):
        return err
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code))


def _new_temporary(folder: Path, name: str) -> str:
    """Create an empty ``.<name>.<random>.tmp`` in ``folder`` with the permissions a new file gets (the umask
    applies, unlike ``mkstemp``'s 0600), and return its path."""
    for _ in range(100):
        path = str(folder / f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _link_new(temporary: str, target: Path) -> None:
    """Put ``temporary`` at ``target`` unless something is there (atomically where hard links work)."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise OutputError(
            f"{target}: already exists; choose a new path (files are never overwritten)"
        ) from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if target.exists():  # no hard links on this file system: check, then rename
            raise OutputError(
                f"{target}: already exists; choose a new path (files are never overwritten)"
            ) from None
        os.replace(temporary, target)


def write_text_atomically(target: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """``text`` (UTF-8) written with ``write_atomically``."""
    return write_atomically(target, lambda path: path.write_text(text, encoding="utf-8"), overwrite=overwrite)


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null so the interpreter's last flush of stdout cannot fail again."""
    stream = sys.stdout
    try:
        fd = stream.fileno() if stream is not None else 1
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it (see the module docstring for the failures)."""
    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):
        raise OutputError(
            "cannot write the report: standard output is closed; redirect it to a file (> report.txt)"
        )
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise
    except (OSError, ValueError) as err:
        _silence_stdout()
        reason = describe_write_error(err) if isinstance(err, OSError) else "standard output is closed"
        raise OutputError(f"cannot write the report to standard output: {reason}") from err


def flush_stdout() -> None:
    """Flush standard output at the end of a command (help text, a confirmation line); a pipe closed by the
    reader raises ``BrokenPipeError``, another failure ``OutputError``; a closed stdout is left alone."""
    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):
        return
    try:
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise
    except OSError as err:
        _silence_stdout()
        raise OutputError(f"cannot write to standard output: {describe_write_error(err)}") from err


def require_writable_folder(folder: str | Path, what: str) -> Path:
    """``folder``, created if missing, after a probe file was written into it and removed; OutputError
    naming ``what`` (e.g. ``--cache-dir``) and the reason otherwise."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{what} {folder}: cannot write there: {describe_write_error(err)}") from err
    return folder
