"""The real app in a real terminal: scripts/tmux_smoke.sh starts it in tmux, presses keys and quits."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "tmux_smoke.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_real_app_in_tmux_paints_answers_keys_and_quits(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SCRIPT), "80x24"],
        cwd=ROOT,
        env={**os.environ, "SMOKE_OUT": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    first = (tmp_path / "first-paint.txt").read_text()
    assert "x=params" in first and "task" in first and "reading files" in first  # progress at once
    assert "keys" in (tmp_path / "help.txt").read_text()
    assert "params" in (tmp_path / "task.txt").read_text()  # the task plot's x label
    assert "Mirage lab" in (tmp_path / "lab.txt").read_text()
    assert "EXITED 0" in (tmp_path / "quit.txt").read_text()
    assert "Traceback" not in result.stdout
