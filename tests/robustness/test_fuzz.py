"""A short fuzz run of every reader (the command `python -m tests.robustness.fuzz` runs the long one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.fuzz import TARGETS, fuzz_target, main

SECONDS = 0.4  # per target: a few hundred mutated files each, about four seconds in all


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_reader_survives_mutated_files(name: str, tmp_path: Path) -> None:
    outcome = fuzz_target(TARGETS[name], SECONDS, tmp_path, round_size=20)
    assert outcome.failure == ""
    assert outcome.examples >= 20
    assert outcome.examples == outcome.loaded + outcome.refused


def test_fuzz_command_reports_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seconds", "0.2", "--target", "bigbench"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("bigbench") and line.endswith("ok") and "examples" in line
