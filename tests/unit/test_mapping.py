"""Column mapping from --map strings and from a mapping file."""

from __future__ import annotations

import polars as pl
import pytest

from analysis.errors import InputError
from analysis.formats.mapping import apply_mapping, build_mapping, parse_map_args, read_mapping_file


def test_map_args_parse_pairs_and_trim_quotes() -> None:
    assert parse_map_args(["operation=task", " params_total = params ", "'shots'=\"item\""]) == {
        "operation": "task",
        "params_total": "params",
        "shots": "item",
    }


@pytest.mark.parametrize("bad", ["operation", "=task", "operation="])
def test_map_args_need_both_names(bad: str) -> None:
    with pytest.raises(InputError, match=r"their_name=canonical_name|both sides"):
        parse_map_args([bad])


def test_unknown_canonical_name_lists_the_valid_ones() -> None:
    with pytest.raises(InputError) as err:
        parse_map_args(["operation=taks"])
    message = str(err.value)
    assert "'taks' is not a canonical column" in message and "task" in message and "params" in message
    assert "\n" not in message


def test_mapping_file_lines_comments_and_toml_style(write_file) -> None:
    path = write_file(
        "map.txt",
        '# their = canonical\n[columns]\noperation = "task"\n\nparams_total=params\n  acc = value\n',
    )
    assert read_mapping_file(path) == {"operation": "task", "params_total": "params", "acc": "value"}


def test_mapping_file_errors_name_the_line(write_file) -> None:
    path = write_file("map.txt", "operation=task\nfoo=bar\n")
    with pytest.raises(InputError, match=r"map.txt line 2: 'bar' is not a canonical column"):
        read_mapping_file(path)
    with pytest.raises(InputError, match="mapping file not found"):
        read_mapping_file(path.with_name("missing.txt"))


def test_command_line_pairs_override_the_file(write_file) -> None:
    path = write_file("map.txt", "operation=task\nacc=value\n")
    assert build_mapping(["acc=n_correct"], path) == {"operation": "task", "acc": "n_correct"}


def test_apply_mapping_renames_lazily_and_refuses_clashes() -> None:
    frame = pl.LazyFrame({"operation": ["add"], "acc": [0.5], "value": [0.1]})
    renamed = apply_mapping(frame, {"operation": "task", "absent": "model"}, "f.csv")
    assert isinstance(renamed, pl.LazyFrame)
    assert renamed.collect_schema().names() == ["task", "acc", "value"]
    with pytest.raises(InputError, match=r"f\.csv: column 'acc' and 'value' would both be named 'value'"):
        apply_mapping(frame, {"acc": "value"}, "f.csv")
    swapped = apply_mapping(frame, {"acc": "value", "value": "stderr"}, "f.csv")  # moving value away is fine
    assert swapped.collect_schema().names() == ["operation", "value", "stderr"]
