"""Issue 18's cluster corpus: every case through the CLI in-process and as a real process, with a timeout.

Each case must end as its ``expect`` says (see ``cluster_corpus``): one short stderr line naming the file or
the output, exit 2; or exit 0 with the warning naming the file; never a traceback or a hang; the user's files
unchanged (fingerprinted before and after); no partial or temporary file left beside an output. Cases that
need an unprivileged user run under ``setpriv`` (or a child that calls ``os.setuid``) when the tests run as
root, and are skipped with the reason when that is impossible; the full-disk and read-only-mount cases need a
tmpfs the tests can mount (root), else they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.robustness.cluster_corpus import (
    ERROR,
    KINDS,
    OK,
    QUIET,
    TIMEOUT,
    ClusterCase,
    Disks,
    Outcome,
    build_cluster_corpus,
    digests,
    make_root,
    mount_tmpfs,
    remove_root,
    run_as_process,
    run_in_process,
    unmount,
    unprivileged_prefix,
)
from tests.robustness.cluster_corpus import (
    FAST as FAST_ARGS,
)
from tui.cli import MESSAGE_CHARS

TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _names() -> list[str]:
    root = make_root()
    try:
        return [case.name for case in build_cluster_corpus(root)]
    finally:
        remove_root(root)


CASE_NAMES = _names()


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, ClusterCase]]:
    root = make_root()
    full, read_only = root / "mnt-full", root / "mnt-ro"
    reason = mount_tmpfs(full, "size=64k")
    reason = reason or mount_tmpfs(read_only, "ro,size=64k")
    disks = Disks(None, None, reason) if reason else Disks(full, read_only)
    try:
        yield {case.name: case for case in build_cluster_corpus(root, disks)}
    finally:
        if not reason:
            unmount(full)
            unmount(read_only)
        remove_root(root)


@pytest.fixture(scope="module")
def as_nobody() -> tuple[list[str] | None, str]:
    return unprivileged_prefix()


def _skip_unless_runnable(case: ClusterCase, as_nobody: tuple[list[str] | None, str]) -> None:
    if case.skip:
        pytest.skip(case.skip)
    prefix, why = as_nobody
    if case.unprivileged and prefix is None:
        pytest.skip(why)


def _leftovers(case: ClusterCase) -> list[str]:
    if case.output is None or not case.output.parent.is_dir():
        return []
    try:
        return [p.name for p in case.output.parent.iterdir() if p.name.endswith(".tmp")]
    except OSError:
        return []


def check(case: ClusterCase, outcome: Outcome, before: dict[str, str]) -> None:
    """What every case must satisfy (see the module docstrings)."""
    assert outcome.code is not None, f"no answer within {TIMEOUT:.0f} s: a hang"
    assert digests(case.inputs) == before, "the user's files changed"
    assert "Traceback" not in outcome.stderr, outcome.stderr[-2000:]
    if case.output is not None and case.expect == ERROR:
        assert not case.output.exists(), "a failed write left its target behind"
    assert _leftovers(case) == [], "a temporary file was left behind"
    if case.expect == QUIET:
        assert outcome.code == 0 and outcome.stderr == "", (outcome.code, outcome.stderr)
        return
    if case.expect == ERROR:
        assert outcome.code == 2, f"expected exit 2, got {outcome.code}: {outcome.stderr[:500]}"
        lines = outcome.stderr.splitlines()
        assert len(lines) == 1 and outcome.stderr.endswith("\n"), f"not one line: {outcome.stderr[:600]!r}"
        line = lines[0]
        assert line.startswith("emergence-tui: ") and len(line) <= MESSAGE_CHARS, (len(line), line)
        assert case.named in line, f"the line must name {case.named}: {line}"
        assert case.problem in line.lower(), line
        assert all(fragment in line.lower() for fragment in case.also), line
        assert not TERMINAL_CONTROL.search(line)
        assert outcome.stdout == ""
        return
    assert outcome.code == 0 and outcome.stderr == "", (outcome.code, outcome.stderr[:600])
    report = json.loads(outcome.stdout)
    assert report["points"], "a successful report has points"
    warnings = report["warnings"]
    if case.problem:
        naming = [w for w in warnings if case.named in w]
        assert any(case.problem in w.lower() for w in naming), warnings
        if case.once:
            assert len(naming) == 1, f"named {len(naming)} times: {naming}"
    for text in case.not_in_warnings:
        assert not any(text in w for w in warnings), warnings


def test_the_quick_process_cases_exist() -> None:
    assert set(PROCESS_QUICK) <= set(CASE_NAMES)


def test_the_corpus_covers_every_kind_of_issue_18() -> None:
    root = make_root()
    try:
        cases = build_cluster_corpus(root)
    finally:
        remove_root(root)
    assert {case.kind for case in cases} == set(KINDS)
    for kind in KINDS:
        assert {c.expect for c in cases if c.kind == kind} & {ERROR, QUIET}, f"no failing case of {kind}"
    names = " ".join(c.name for c in cases).lower()
    required = (
        "fifo", "socket", "device", "symlink loop", "two symlink loops", "nested", "nan", "1e309",
        "400 digits", "5,000 digits", "struct value", "list params", "binary model", "unreadable subfolder",
        "unreadable lm-eval model folder", "cr-only", "more samples than n-samples", "/dev/full",
        "stdout closed", "epipe", "missing folder", "full disk", "read-only", "240,000-character",
        "duplicate rows over 40 files",
    )  # fmt: skip
    assert [kind for kind in required if kind not in names] == []


@pytest.mark.parametrize("name", CASE_NAMES)
def test_in_process(cluster: dict[str, ClusterCase], as_nobody, name: str) -> None:
    case = cluster[name]
    _skip_unless_runnable(case, as_nobody)
    before = digests(case.inputs)
    check(case, run_in_process(case), before)


# A process costs 2-5 s (a fresh interpreter importing polars on a shared machine), so the default run takes
# the cases where the process itself matters (its real stdout, its user, a hang in a real read) and one of
# each kind; every case runs as a process under `-m slow`.
PROCESS_QUICK = (
    "FIFO named directly",
    "FIFO as an lm-eval samples file",
    "two symlink loops",
    "deeply nested lm-eval results",
    "n-samples 5,000 digits",
    "Parquet struct value",
    "unreadable subfolder",
    "unreadable lm-eval model folder",
    "a 240,000-character bad list cell",
    "report > /dev/full",
    "report with stdout closed",
    "report | head -1 (EPIPE)",
    "simulate --out into a missing folder",
    "simulate --out .csv onto a full disk",
    "bench with a read-only --cache-dir",
)
PROCESS_CASES = [n if n in PROCESS_QUICK else pytest.param(n, marks=pytest.mark.slow) for n in CASE_NAMES]


@pytest.mark.parametrize("name", PROCESS_CASES)
def test_as_a_process(cluster: dict[str, ClusterCase], as_nobody, name: str) -> None:
    case = cluster[name]
    _skip_unless_runnable(case, as_nobody)
    before = digests(case.inputs)
    prefix = as_nobody[0] if case.unprivileged else None
    check(case, run_as_process(case, prefix), before)


def test_a_long_message_is_cut_and_verbose_prints_it_whole(cluster: dict[str, ClusterCase]) -> None:
    case = cluster["a 5,000-character column name"]
    short = run_in_process(case)
    whole = run_in_process(ClusterCase(case.name, case.kind, (*case.argv, "--verbose"), ERROR))
    assert short.code == whole.code == 2
    cut, full = short.stderr.strip(), whole.stderr.strip()
    assert len(cut) <= MESSAGE_CHARS < len(full) and "\n" not in full
    assert f"--verbose shows all {len(full):,} characters" in cut
    assert full.startswith(cut.split("... [cut")[0]) and "x" * 5000 in full


def test_a_retry_after_a_full_disk_writes_the_file(cluster: dict[str, ClusterCase]) -> None:
    """A failed write leaves no 0-byte target, so the retry (smaller) succeeds instead of 'already exists'."""
    case = cluster["simulate --out .csv onto a full disk"]
    if case.skip:
        pytest.skip(case.skip)
    assert run_in_process(case).code == 2 and case.output is not None and not case.output.exists()
    small = [*case.argv]
    small[small.index("--items") + 1] = "2"
    outcome = run_in_process(ClusterCase("retry", case.kind, tuple(small), OK))
    assert outcome.code == 0 and outcome.stderr == "" and case.output.stat().st_size > 0
    assert "wrote" in outcome.stdout
    os.unlink(case.output)


def test_the_loaders_never_give_polars_a_path_to_map(
    cluster: dict[str, ClusterCase], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every polars reader gets bytes: a memory-mapped user file rewritten meanwhile would raise SIGBUS."""
    import polars as pl

    given: list[str] = []
    for name in ("scan_csv", "read_csv", "scan_parquet", "read_parquet", "scan_ndjson", "read_ndjson"):
        real = getattr(pl, name)

        def spy(source: object, *args: object, _real=real, _name=name, **kwargs: object) -> object:
            if isinstance(source, str | Path | os.PathLike):
                given.append(f"{_name}({source})")
            return _real(source, *args, **kwargs)

        monkeypatch.setattr(pl, name, spy)
    loading = [c for c in cluster.values() if c.argv[0] == "report" and c.stdout == "capture"]
    for case in loading:
        if not case.unprivileged:
            run_in_process(case)
    assert given == []


def test_a_file_changing_while_it_is_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.errors import InputError
    from analysis.files import read_bytes

    path = tmp_path / "growing.csv"
    path.write_text("model,task,value\nm,t,0.5\n", encoding="utf-8")
    real_open = Path.open

    def open_then_append(self: Path, *args: object, **kwargs: object) -> object:
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read

        def read(*a: object) -> bytes:
            data = real_read(*a)
            with real_open(self, "ab") as writer:  # another process appends while we read
                writer.write(b"m2,t,0.7\n")
            return data

        handle.read = read  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(Path, "open", open_then_append)
    with pytest.raises(InputError, match="changed while it was being read"):
        read_bytes(path)


def test_a_csv_rewritten_while_report_reads_it_never_kills_the_process(tmp_path: Path) -> None:
    """The issue's SIGBUS: a writer truncates and rewrites a large CSV over and over while a real `report`
    process reads it. Whatever moment the read meets, the process ends with 0 (it read one whole version) or
    2 (one line: the file changed, or a truncated version is bad), never with a signal. With the earlier
    memory-mapped read this ended with SIGBUS (exit -7) in the first runs."""
    import threading

    from tests.robustness.corpus import _csv, sample_rows

    path = tmp_path / "growing.csv"
    text = _csv(sample_rows([f"m{i}" for i in range(6)], items=60_000)).encode()  # about 25 MB
    path.write_bytes(text)
    stop = threading.Event()

    def rewrite() -> None:
        while not stop.is_set():
            with path.open("r+b") as handle:
                handle.truncate(1000)
            stop.wait(0.05)
            path.write_bytes(text)
            stop.wait(0.05)

    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    try:
        codes = []
        for _ in range(2):
            case = ClusterCase("rewritten", "files and folders", ("report", str(path), *FAST_ARGS), OK)
            outcome = run_as_process(case)
            codes.append(outcome.code)
            assert outcome.code in (0, 2), f"exit {outcome.code}: killed by a signal? {outcome.stderr[-500:]}"
            assert "Traceback" not in outcome.stderr
            if outcome.code == 2:
                assert len(outcome.stderr.splitlines()) == 1 and str(path) in outcome.stderr
    finally:
        stop.set()
        writer.join(5)
