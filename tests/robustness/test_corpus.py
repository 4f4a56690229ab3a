"""Every hostile input of the corpus through `emergence-tui report`: one clean line or a result, no traceback.

In-process runs of ``tui.cli.main`` check each case; a few cases also go through a real
``uv run emergence-tui`` subprocess, so what a user's terminal receives (stderr included) is checked byte for
byte. The user's files are hashed before and after every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from tests.robustness.corpus import ERROR, FORMATS, Case, build_corpus
from tui.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = ("--bootstrap", "50", "--fit-bootstrap", "0")
# what must never reach a terminal from a report: escape sequences, C0/C1 controls (newline and tab aside)
TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _case_names() -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        return [case.name for case in build_corpus(Path(scratch))]


CASE_NAMES = _case_names()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    return {case.name: case for case in build_corpus(tmp_path_factory.mktemp("corpus"))}


def digests(paths: tuple[Path, ...]) -> dict[str, str]:
    """SHA-256 of every file under ``paths`` (a file or a folder), keyed by path."""
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*")))]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.is_file()}


def run_report(case: Case, *extra: str) -> tuple[int, str, str, list[warnings.WarningMessage]]:
    """``report`` in-process; returns exit code, stdout, stderr and any Python warnings raised."""
    from io import StringIO
    from unittest import mock

    out, err = StringIO(), StringIO()
    with warnings.catch_warnings(record=True) as caught, mock.patch.object(sys, "stdout", out):
        warnings.simplefilter("always")
        with mock.patch.object(sys, "stderr", err):
            code = main(["report", *map(str, case.paths), *case.args, *FAST, *extra])
    return code, out.getvalue(), err.getvalue(), list(caught)


def test_corpus_covers_every_format_and_hostile_kind(corpus: dict[str, Case]) -> None:
    cases = list(corpus.values())
    assert len(cases) >= 40
    for fmt in FORMATS:
        kinds = {c.expect for c in cases if c.fmt == fmt}
        assert ERROR in kinds, f"no failing case for {fmt}"
    names = " ".join(corpus).lower()
    required = (
        "empty", "truncated", "latin-1", "utf-16", "bom", "binary garbage", "ragged", "huge numbers",
        "negative", "zero", "nan", "infinite", "choice index out of range", "duplicate", "one model",
        "one item", "all-zero", "all-one", "10,000 models", "10,000-character", "markup", "ansi",
        "control characters", "newlines", "right-to-left",
    )  # fmt: skip
    assert [kind for kind in required if kind not in names] == []


@pytest.mark.parametrize("name", CASE_NAMES)
def test_report_fails_cleanly_or_succeeds(corpus: dict[str, Case], name: str) -> None:
    case = corpus[name]
    before = digests(case.paths)
    code, out, err, caught = run_report(case, "--format", "json")
    assert digests(case.paths) == before, "the user's files changed"
    assert "Traceback" not in err
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    if case.expect == ERROR:
        assert code == 2, f"expected a clean failure, got exit {code}"
        lines = err.splitlines()
        assert len(lines) == 1 and err.endswith("\n"), f"not one line: {err!r}"
        assert lines[0].startswith("emergence-tui: ")
        assert str(case.named) in lines[0], "the message must name the file"
        assert case.problem in lines[0].lower()
        assert not TERMINAL_CONTROL.search(lines[0]), f"control characters in {lines[0]!r}"
        assert out == ""
        return
    assert code == 0, f"expected success, got exit {code}: {err}"
    assert err == ""
    report = json.loads(out)
    assert report["points"], "a successful report has points"
    if case.warning:
        assert any(case.warning in w for w in report["warnings"]), report["warnings"]
    shown = {str(p["model"]) for p in report["points"]}
    assert set(case.names) <= shown, "JSON keeps names exactly as the file gives them"


OK_WITH_NAMES = [c for c in CASE_NAMES if "names" in c or "10,000" in c]


@pytest.mark.parametrize("name", OK_WITH_NAMES)
def test_table_report_never_sends_terminal_controls(corpus: dict[str, Case], name: str) -> None:
    code, out, err, _ = run_report(corpus[name], "--format", "table")
    assert code == 0 and err == ""
    assert not TERMINAL_CONTROL.search(out), (
        f"control characters in the table: {TERMINAL_CONTROL.findall(out)[:5]}"
    )


SUBPROCESS_CASES = (
    "csv UTF-16",
    "lm-eval results truncated",
    "csv names with ANSI escapes",
)


@pytest.mark.skipif(
    shutil.which("uv") is None, reason="uv is not on PATH, so `uv run emergence-tui` cannot run"
)
@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_report_through_a_real_process(corpus: dict[str, Case], name: str) -> None:
    case = corpus[name]
    before = digests(case.paths)
    command = ["uv", "run", "--quiet", "emergence-tui", "report", *map(str, case.paths), *case.args, *FAST]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "default"}
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, timeout=120, env=env, check=False)
    assert digests(case.paths) == before
    stderr = done.stderr.decode("utf-8")
    assert b"Traceback" not in done.stderr
    if case.expect == ERROR:
        assert done.returncode == 2 and done.stdout == b""
        assert len(stderr.splitlines()) == 1 and str(case.named) in stderr and case.problem in stderr.lower()
    else:
        assert done.returncode == 0 and stderr == ""
        assert not TERMINAL_CONTROL.search(done.stdout.decode("utf-8"))
