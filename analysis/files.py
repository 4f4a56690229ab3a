"""Opening the user's files and folders safely: never block on a special file, never loop, never memory-map.

On a shared cluster a path where results are expected can be a FIFO (reading it waits forever for a
writer), a socket or a device; a folder can hold symlinks back to itself or subfolders the user may not read;
and a file can be rewritten while it is read (a memory-mapped read then dies of SIGBUS with no message). The
rules here:

* ``special_kind`` names a path that is neither a regular file nor a folder, from ``os.stat`` alone (which
  never blocks); ``require_regular`` refuses such a path before anything opens it.
* ``read_bytes`` reads a whole file with ordinary reads (polars then parses the bytes, so no user file is
  ever memory-mapped) and refuses the bytes when the file's size or modification time changed during the read.
* ``walk`` lists a folder tree, following symlinks to folders but entering each real folder once (by device
  and inode): a symlink back to a folder above it is a loop, named once in one line; a second way into a
  folder already listed is named once and not read twice. Unreadable folders and files, broken links and
  special files are listed as skipped with the reason; hidden names (a leading ``.``) are passed over
  silently.

Every problem is an ``InputError`` line (or, in ``walk``, a ``skipped: ...`` warning with the same text), so a
file refused when named directly and one skipped inside a folder read the same.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis.errors import InputError

_SPECIAL_KINDS: tuple[tuple[object, str], ...] = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind_of_mode(mode: int) -> str | None:
    for test, name in _SPECIAL_KINDS:
        if test(mode):  # type: ignore[operator]
            return name
    return None


def special_kind(path: str | Path) -> str | None:
    """``"a FIFO (named pipe)"``, ``"a socket"``, ... when ``path`` (after symlinks) is one; else None.

    Only ``os.stat`` is used, which never opens the file; a path that cannot be stat'ed gives None (the
    caller's own open reports it).
    """
    try:
        return _kind_of_mode(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def special_file_problem(kind: str) -> str:
    """The message for a special file where a result file was expected (the same for every reader)."""
    return f"{kind}, not a regular file: not opened, since reading it could wait forever; give a regular file"


def require_regular(path: str | Path) -> None:
    """Raise InputError when ``path`` is a FIFO, socket or device (checked with ``stat``, never opened)."""
    kind = special_kind(path)
    if kind is not None:
        raise InputError(special_file_problem(kind), path=str(path))


def read_problem(err: OSError) -> str:
    """Why a file could not be read, in words and the same for every reader (so duplicate warnings merge)."""
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: you may not read it (ask its owner, or copy it somewhere you can)"
    if err.errno == errno.ELOOP:
        return "a symlink loop (too many levels of symbolic links)"
    if err.errno == errno.ENOENT:
        return "not found (a broken symlink, or it was removed while being read)"
    if err.errno == errno.EISDIR:
        return "a folder, not a file"
    return f"cannot read it ({err.strerror or err})"


def read_bytes(path: str | Path) -> bytes:
    """The whole file, read with ordinary reads (never memory-mapped); InputError when it cannot be read,
    is a special file, or changed (size or modification time) while it was being read."""
    path = Path(path)
    require_regular(path)
    try:
        with path.open("rb") as handle:
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode):  # swapped for a special file after the check above
                kind = _kind_of_mode(before.st_mode) or "not a regular file"
                raise InputError(special_file_problem(kind), path=str(path))
            data = handle.read()
            after = os.fstat(handle.fileno())
    except OSError as err:
        raise InputError(read_problem(err), path=str(path)) from err
    try:
        now = os.stat(path)
    except OSError as err:
        raise InputError(read_problem(err), path=str(path)) from err
    changed = (
        len(data) != before.st_size
        or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns)
        or (now.st_ino, now.st_dev) != (before.st_ino, before.st_dev)
    )
    if changed:
        raise InputError(
            f"the file changed while it was being read ({before.st_size:,} bytes before, {len(data):,} "
            "read); read it again once whatever writes it has finished",
            path=str(path),
        )
    return data


def cr_line_ends(data: bytes) -> bool:
    """Whether text uses classic-Mac line ends: carriage returns and no line feed at all."""
    return b"\r" in data and b"\n" not in data


def with_lf_line_ends(data: bytes) -> bytes:
    """Text with classic-Mac (CR-only) line ends given LF line ends; other text unchanged."""
    return data.replace(b"\r", b"\n") if cr_line_ends(data) else data


# ---------------------------------------------------------------- walking a folder tree


@dataclass(frozen=True)
class Tree:
    """A folder tree as ``walk`` found it.

    ``entries`` lists the folders and regular files in reading order (sorted names, each folder before its
    contents); ``folders`` is the set of those entries that are folders; ``skipped`` holds one
    ``skipped: <path>: <reason>`` line per entry left out.
    """

    root: Path
    entries: tuple[Path, ...]
    folders: frozenset[Path]
    skipped: tuple[str, ...]


def _skipped(path: Path, reason: str) -> str:
    return f"skipped: {InputError(reason, path=str(path))}"


def _scan(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def walk(root: str | Path) -> Tree:
    """Every folder and regular file under ``root`` (see the module docstring for what is skipped and why).

    Iterative (no recursion limit), and each real folder is entered once, so the time is bounded by the
    number of distinct folders and files whatever the symlinks.
    """
    root = Path(root)
    entries: list[Path] = []
    folders: set[Path] = set()
    skipped: list[str] = []
    try:
        root_id = _identity(os.stat(root))
    except OSError as err:
        raise InputError(read_problem(err), path=str(root)) from err
    first_seen: dict[tuple[int, int], Path] = {root_id: root}
    seen_files: dict[tuple[int, int], Path] = {}
    # each stack item: an iterator over a folder's entries, that folder's path and the ids of its ancestors
    stack: list[tuple[Iterator[os.DirEntry], Path, dict[tuple[int, int], Path]]] = []

    def enter(folder: Path, ancestors: dict[tuple[int, int], Path]) -> None:
        try:
            listing = _scan(folder)
        except OSError as err:
            if folder == root:
                raise InputError(_folder_problem(err), path=str(folder)) from err
            skipped.append(_skipped(folder, _folder_problem(err)))
            return
        stack.append((iter(listing), folder, ancestors))

    folders.add(root)
    enter(root, {root_id: root})
    while stack:
        listing, folder, ancestors = stack[-1]
        entry = next(listing, None)
        if entry is None:
            stack.pop()
            continue
        path = folder / entry.name
        try:
            info = os.stat(path)  # follows symlinks; never opens the file
        except OSError as err:
            skipped.append(_skipped(path, _link_problem(err, entry)))
            continue
        identity = _identity(info)
        if stat.S_ISDIR(info.st_mode):
            if identity in ancestors:
                target = ancestors[identity]
                skipped.append(
                    _skipped(path, f"a symlink loop: it leads back to {target}, so it is not followed")
                )
                continue
            if identity in first_seen:
                skipped.append(
                    _skipped(path, f"the same folder as {first_seen[identity]}, which is read once")
                )
                continue
            first_seen[identity] = path
            entries.append(path)
            folders.add(path)
            enter(path, {**ancestors, identity: path})
            continue
        kind = _kind_of_mode(info.st_mode)
        if kind is not None:
            skipped.append(_skipped(path, special_file_problem(kind)))
            continue
        if identity in seen_files:
            skipped.append(_skipped(path, f"the same file as {seen_files[identity]}, which is read once"))
            continue
        if not os.access(path, os.R_OK):
            skipped.append(_skipped(path, read_problem(PermissionError(errno.EACCES, "Permission denied"))))
            continue
        seen_files[identity] = path
        entries.append(path)
    return Tree(root=root, entries=tuple(entries), folders=frozenset(folders), skipped=tuple(skipped))


def _identity(info: os.stat_result) -> tuple[int, int]:
    return (info.st_dev, info.st_ino)


def _folder_problem(err: OSError) -> str:
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: you may not list this folder (ask its owner, or copy it somewhere you can)"
    return f"cannot list this folder ({err.strerror or err})"


def _link_problem(err: OSError, entry: os.DirEntry) -> str:
    if entry.is_symlink() and err.errno == errno.ENOENT:
        return "a broken symlink (its target does not exist)"
    return read_problem(err)
