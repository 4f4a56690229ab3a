"""Exports: a temp file renamed into place, no silent overwrite, an unwritable path is a message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.export import ExportError, write_text_atomically


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_goes_through_a_temporary_file_and_a_rename(tmp_path: Path, monkeypatch) -> None:
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str | Path) -> None:
        assert Path(src).read_text(encoding="utf-8") == "a,b\n1,2\n"  # complete before it is renamed
        assert not Path(dst).exists()
        renames.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = write_text_atomically(tmp_path / "out.csv", "a,b\n1,2\n")
    assert target.read_text(encoding="utf-8") == "a,b\n1,2\n"
    assert len(renames) == 1 and renames[0][0].startswith(".out.csv.") and renames[0][1] == "out.csv"
    assert leftovers(tmp_path) == []


def test_existing_file_is_kept_unless_overwrite_is_confirmed(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_text_atomically(target, "new")
    assert target.read_bytes() == b"precious"
    write_text_atomically(target, "new", overwrite=True)
    assert target.read_text(encoding="utf-8") == "new"


def test_failed_rename_keeps_the_old_file_and_cleans_up(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"precious")

    def disk_full(src: str, dst: str | Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(ExportError, match="No space left on device") as caught:
        write_text_atomically(target, "new", overwrite=True)
    assert "\n" not in str(caught.value)
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["missing folder", "inside a file", "a folder", "read-only folder"])
def test_unwritable_paths_are_one_line_messages(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    paths = {
        "missing folder": tmp_path / "no" / "such" / "out.csv",
        "inside a file": blocker / "out.csv",
        "a folder": locked,
        "read-only folder": locked / "out.csv",
    }
    if where == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders, so this case cannot be made here")
        locked.chmod(0o500)
    try:
        with pytest.raises(ExportError) as caught:
            write_text_atomically(paths[where], "data")
    finally:
        locked.chmod(0o700)
    message = str(caught.value)
    assert "\n" not in message and str(paths[where]) in message
    assert blocker.read_text() == "x" and list(locked.iterdir()) == []
    assert leftovers(tmp_path) == []
