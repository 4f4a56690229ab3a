"""analysis.files (special files, walking, reading bytes), analysis.output (atomic writes), counts, types."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.files import read_bytes, special_kind, walk, with_lf_line_ends
from analysis.formats.validation import MAX_COUNT, as_count, cast_count, check_column_types
from analysis.output import OutputError, write_atomically, write_text_atomically


def test_special_kind_names_fifos_and_devices_without_opening_them(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it for reading would block: special_kind must only stat it
    (tmp_path / "plain").write_text("x")
    assert special_kind(fifo) == "a FIFO (named pipe)"
    assert special_kind("/dev/null") == "a character device"
    assert special_kind(tmp_path / "plain") is None and special_kind(tmp_path) is None
    assert special_kind(tmp_path / "missing") is None
    with pytest.raises(InputError, match="FIFO"):
        read_bytes(fifo)


def test_walk_lists_in_order_enters_each_folder_once_and_names_what_it_skips(tmp_path: Path) -> None:
    for name in ("b/2.csv", "a/1.csv", "a/deep/3.csv", "c.csv", ".hidden/4.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "a" / "loop").symlink_to("..")
    (tmp_path / "z").symlink_to("b")
    (tmp_path / "dangling.csv").symlink_to("nowhere")
    os.mkfifo(tmp_path / "pipe.csv")
    tree = walk(tmp_path)
    relative = [str(p.relative_to(tmp_path)) for p in tree.entries]
    assert relative == ["a", "a/1.csv", "a/deep", "a/deep/3.csv", "b", "b/2.csv", "c.csv"]
    assert tree.folders == {tmp_path, tmp_path / "a", tmp_path / "a/deep", tmp_path / "b"}
    reasons = {line.split(": ")[1].removeprefix(str(tmp_path) + "/"): line for line in tree.skipped}
    assert set(reasons) == {"a/loop", "z", "dangling.csv", "pipe.csv"}
    assert f"leads back to {tmp_path}" in reasons["a/loop"]
    assert f"the same folder as {tmp_path / 'b'}" in reasons["z"]
    assert "broken symlink" in reasons["dangling.csv"] and "FIFO" in reasons["pipe.csv"]


def test_read_bytes_and_classic_mac_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\r1,2\r")
    assert read_bytes(path) == b"a,b\r1,2\r"
    assert with_lf_line_ends(b"a,b\r1,2\r") == b"a,b\n1,2\n"
    assert with_lf_line_ends(b"a,b\r\n1,2\r\n") == b"a,b\r\n1,2\r\n"  # Windows line ends are left alone


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4, 4), (4.0, 4), ("12", 12), (1000.0000004, 1000), (0, 0), (MAX_COUNT, MAX_COUNT), (None, None),
     ("N/A", None), ([1], None)],
)  # fmt: skip
def test_as_count_accepts_whole_numbers(value: object, expected: int | None) -> None:
    assert as_count(value, "n-samples.t.effective", "r.json") == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [(math.nan, "NaN"), (math.inf, "infinite"), (float("1" * 400), "infinite"), (10**400, "infinite"),
     (-1, "negative"), (2.5, "whole number"), (MAX_COUNT + 2, "larger"), (True, "boolean"), ("NaN", "NaN")],
)  # fmt: skip
def test_as_count_refuses_what_cannot_be_a_count_naming_the_field(value: object, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        as_count(value, "n-samples.t.effective", "r.json")
    message = str(caught.value)
    assert message.startswith("r.json: n-samples.t.effective: ") and problem in message


def test_cast_count_names_the_row_and_keeps_empty_cells() -> None:
    frame = pl.DataFrame({"n": ["4", "", None, "7.0"], "_row": [1, 2, 3, 4]})
    assert cast_count(frame, "n", "f.csv")["n"].to_list() == [4, None, None, 7]
    for bad, problem in (("1e309", "infinite"), ("-3", "negative"), ("2.5", "whole"), ("lots", "'lots'")):
        frame = pl.DataFrame({"n": ["4", bad], "_row": [1, 2]})
        with pytest.raises(InputError, match=f"column n, row 2: .*{problem}"):
            cast_count(frame, "n", "f.csv")


@pytest.mark.parametrize(
    ("column", "values", "found", "wanted"),
    [
        ("value", pl.Series([{"a": 1.0}]), "Struct", "a number"),
        ("params", pl.Series([[1.0]]), "List(Float64)", "a number"),
        ("model", pl.Series([b"m"]), "Binary", "text"),
        ("value", pl.Series([0]).cast(pl.Date), "Date", "a number"),
        ("choice_logliks", pl.Series([[[1.0]]]), "List(List(Float64))", "a list of numbers"),
    ],
)  # fmt: skip
def test_column_types_name_the_type_found_and_wanted(
    column: str, values: pl.Series, found: str, wanted: str
) -> None:
    with pytest.raises(InputError) as caught:
        check_column_types(pl.DataFrame({column: values}), "f.parquet")
    message = str(caught.value)
    assert (
        f"column {column} has type {found}" in message and f"{wanted}" in message and "is wanted" in message
    )


def test_column_types_accept_what_can_be_read() -> None:
    frame = pl.DataFrame(
        {
            "model": pl.Series(["a"]).cast(pl.Categorical),
            "item": [3],
            "value": pl.Series(["0.5"]),
            "params": pl.Series([1]).cast(pl.Decimal(10, 2)),
            "n": [None],
            "choice_logliks": [[-1, -2]],
            "target_tokens": ['["a"]'],
        }
    )
    check_column_types(frame, "f.parquet")  # no error


def test_write_atomically_never_clobbers_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_text_atomically(target, "first\n")
    assert target.read_text() == "first\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()  # like any new file, not mkstemp's 0600
    with pytest.raises(OutputError, match="already exists"):
        write_text_atomically(target, "second\n")

    def appears_meanwhile(path: Path) -> None:  # another process creates the target during the write
        path.write_text("mine\n")
        (tmp_path / "late.csv").write_text("theirs\n")

    with pytest.raises(OutputError, match="already exists"):
        write_atomically(tmp_path / "late.csv", appears_meanwhile)
    assert (tmp_path / "late.csv").read_text() == "theirs\n"

    def fails(path: Path) -> None:
        path.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="no space left on the device"):
        write_atomically(tmp_path / "full.csv", fails)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.csv", "out.csv"]
    write_text_atomically(target, "second\n", overwrite=True)
    assert target.read_text() == "second\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
