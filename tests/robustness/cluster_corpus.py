"""A second corpus: what a shared cluster throws at the tool, made at test time (issue 18).

``build_cluster_corpus(root, disks)`` makes every case under ``root`` (FIFOs, sockets, device links, symlink
loops, ``chmod 000`` files and folders, hostile JSON numbers and nesting, Parquet columns of the wrong type,
classic-Mac line ends) and returns one :class:`ClusterCase` per case: the command line, how standard output is
set up (captured, ``/dev/full``, closed, or a pipe its reader closes), whether it must run as an unprivileged
user, and what must happen:

* ``ERROR``: exit 2 and one stderr line, at most ``tui.cli.MESSAGE_CHARS`` characters, naming ``named`` and
  containing ``problem``; nothing on stdout.
* ``OK``: exit 0, empty stderr, and (when ``problem`` is given) a load warning naming ``named`` and containing
  ``problem`` (``once`` asks that exactly one warning names it).
* ``QUIET``: exit 0 and nothing on stderr (a reader closed the pipe).

``run_in_process`` calls ``tui.cli.main`` (in a spawned child that drops to an unprivileged user when the
case needs it) and ``run_as_process`` runs ``python -m tui.cli`` (under ``setpriv`` when needed); both stop a
case that runs past ``TIMEOUT`` seconds and report it as a hang. ``python -m tests.robustness.cluster_corpus``
builds the corpus, runs every case as a process and prints the times.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import queue
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tests.robustness.corpus import (
    STAMP,
    WIDE_ARGS,
    _csv,
    aggregate_rows,
    bigbench_results,
    choice_rows,
    jsonl_text,
    lm_eval_mc_record,
    lm_eval_results,
    old_lm_eval,
    sample_rows,
)

ERROR, OK, QUIET = "error", "ok", "quiet"
REPO_ROOT = Path(__file__).resolve().parents[2]
FAST = ("--bootstrap", "20", "--fit-bootstrap", "0")
TIMEOUT = 120.0  # seconds before a case counts as a hang (the machine is shared; cases take a few seconds)
NOBODY = 65534
KINDS = ("special files", "symlink loops", "JSON limits", "Parquet types", "files and folders", "output")


@dataclass(frozen=True)
class ClusterCase:
    """One case: the command, its environment, and what must happen (see the module docstring)."""

    name: str
    kind: str
    argv: tuple[str, ...]
    expect: str
    named: str = ""
    problem: str = ""
    once: bool = False
    stdout: str = "capture"  # capture, full (/dev/full), closed, broken-pipe
    unprivileged: bool = False  # run as an unprivileged user (chmod 000 means nothing to root)
    inputs: tuple[Path, ...] = ()  # the user's files and folders: unchanged afterwards
    output: Path | None = None  # a file the command may write: absent after a failure, no temp beside it
    skip: str = ""  # why the case cannot run here (no tmpfs), or ""
    not_in_warnings: tuple[str, ...] = ()  # texts no warning may contain (runs/self/self)
    also: tuple[str, ...] = ()  # more lower-case fragments the error line must contain


@dataclass(frozen=True)
class Disks:
    """Small tmpfs mounts for the output cases, or why there are none."""

    full: Path | None = None  # 64 KiB, writable
    read_only: Path | None = None
    reason: str = ""


# ---------------------------------------------------------------- building


@dataclass
class _Builder:
    root: Path
    disks: Disks
    cases: list[ClusterCase] = field(default_factory=list)

    def file(self, relative: str, content: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    def folder(self, relative: str) -> Path:
        path = self.root / relative
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fifo(self, relative: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        return path

    def symlink(self, relative: str, target: str | Path) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        return path

    def report(
        self,
        name: str,
        kind: str,
        paths: Iterable[Path | str],
        expect: str,
        *,
        args: Iterable[str] = (),
        inputs: Iterable[Path] = (),
        **kw: object,
    ) -> None:
        paths = [str(p) for p in paths]
        argv = ("report", *paths, *args, *FAST, "--format", "json")
        given = tuple(inputs) or tuple(Path(p) for p in paths)
        self.cases.append(ClusterCase(name, kind, argv, expect, inputs=given, **kw))  # type: ignore[arg-type]


GOOD_CSV = _csv(aggregate_rows())


def _lm_eval_folder(b: _Builder, folder: str, models: int = 3) -> Path:
    for j in range(models):
        results = lm_eval_results(f"m{j}", params=10.0 ** (7 + j), value=0.2 * j)
        b.file(f"{folder}/m{j}/results_{STAMP}.json", json.dumps(results))
    return b.root / folder


def _special_files(b: _Builder) -> None:
    kind = "special files"
    fifo = b.fifo("special/direct/results.csv")
    b.report("FIFO named directly", kind, [fifo], ERROR, named=str(fifo), problem="fifo")
    folder = b.folder("special/csv_folder")
    b.file("special/csv_folder/good.csv", GOOD_CSV)
    pipe = b.fifo("special/csv_folder/pipe.csv")
    b.report("FIFO as a CSV in a folder", kind, [folder], OK, named=str(pipe), problem="fifo", once=True)
    lm = _lm_eval_folder(b, "special/lm_eval_samples")
    samples = b.fifo(f"special/lm_eval_samples/m0/samples_arith_{STAMP}.jsonl")
    b.report("FIFO as an lm-eval samples file", kind, [lm], OK, named=str(samples), problem="fifo", once=True)
    lm = _lm_eval_folder(b, "special/lm_eval_results")
    results = b.fifo(f"special/lm_eval_results/m9/results_{STAMP}.json")
    b.report("FIFO as an lm-eval results file", kind, [lm], OK, named=str(results), problem="fifo", once=True)
    b.report(
        "FIFO as an lm-eval samples file named directly",
        kind,
        [samples],
        ERROR,
        named=str(samples),
        problem="fifo",
    )
    folder = b.folder("special/bigbench/arithmetic/results")
    for j, size in enumerate(("2m", "16m", "53m")):
        b.file(
            f"special/bigbench/arithmetic/results/scores_{size}.json",
            json.dumps(bigbench_results(size, 10.0 ** (6 + j))),
        )
    pipe = b.fifo("special/bigbench/arithmetic/results/scores_9b.json")
    b.report("FIFO as a BIG-bench file", kind, [folder], OK, named=str(pipe), problem="fifo", once=True)
    folder = b.folder("special/socket")
    b.file("special/socket/good.csv", GOOD_CSV)
    sock = folder / "results.csv"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
    b.report("socket as a CSV in a folder", kind, [folder], OK, named=str(sock), problem="socket", once=True)
    folder = b.folder("special/device")
    b.file("special/device/good.csv", GOOD_CSV)
    device = b.symlink("special/device/zero.csv", "/dev/zero")
    b.report(
        "device link as a CSV in a folder",
        kind,
        [folder],
        OK,
        named=str(device),
        problem="character device",
        once=True,
    )
    b.report(
        "device named directly", kind, ["/dev/zero"], ERROR, named="/dev/zero", problem="device", inputs=()
    )
    good = b.file("special/args/good.csv", GOOD_CSV)
    sizes = b.fifo("special/args/sizes.csv")
    b.report(
        "FIFO as the --sizes file",
        kind,
        [good],
        ERROR,
        args=("--sizes", str(sizes)),
        named=str(sizes),
        problem="fifo",
    )
    mapping = b.fifo("special/args/map.txt")
    b.report(
        "FIFO as the --map-file",
        kind,
        [good],
        ERROR,
        args=("--map-file", str(mapping)),
        named=str(mapping),
        problem="fifo",
    )
    b.file("special/glob/a.csv", GOOD_CSV)
    pipe = b.fifo("special/glob/b.csv")
    b.report(
        "FIFO matched by a glob",
        kind,
        [b.root / "special/glob/*.csv"],
        ERROR,
        named=str(pipe),
        problem="fifo",
        inputs=(b.root / "special/glob",),
    )


def _symlink_loops(b: _Builder) -> None:
    kind = "symlink loops"
    folder = b.folder("loops/one")
    b.file("loops/one/good.csv", GOOD_CSV)
    link = b.symlink("loops/one/self", ".")
    b.report(
        "one symlink loop",
        kind,
        [folder],
        OK,
        named=str(link),
        problem="symlink loop",
        once=True,
        not_in_warnings=("self/self",),
    )
    folder = b.folder("loops/two")
    b.file("loops/two/sub/good.csv", GOOD_CSV)
    b.symlink("loops/two/sub/up", "..")
    link = b.symlink("loops/two/sub/here", ".")
    b.report(
        "two symlink loops",
        kind,
        [folder],
        OK,
        named=str(link),
        problem="symlink loop",
        once=True,
        not_in_warnings=("up/up", "here/here"),
    )
    folder = b.folder("loops/only")
    link = b.symlink("loops/only/self", ".")
    b.report("a folder with only a loop", kind, [folder], ERROR, named=str(link), problem="symlink loop")
    folder = b.folder("loops/files")
    b.file("loops/files/good.csv", GOOD_CSV)
    first = b.symlink("loops/files/a.csv", "b.csv")
    b.symlink("loops/files/b.csv", "a.csv")
    b.report(
        "a loop of file symlinks", kind, [folder], OK, named=str(first), problem="symlink loop", once=True
    )
    b.report("a looping file symlink named directly", kind, [first], ERROR, named=str(first), problem="loop")
    b.report(
        "a ** glob over a looped folder",
        kind,
        [b.root / "loops/one/**/*.csv"],
        OK,
        inputs=(b.root / "loops/one",),
    )
    lm = _lm_eval_folder(b, "loops/lm_eval")
    link = b.symlink("loops/lm_eval/m0/again", "..")
    b.report(
        "a loop inside an lm-eval folder", kind, [lm], OK, named=str(link), problem="symlink loop", once=True
    )
    folder = b.folder("loops/alias")
    b.file("loops/alias/a/good.csv", GOOD_CSV)
    link = b.symlink("loops/alias/b", "a")
    b.report(
        "a second way into a folder", kind, [folder], OK, named=str(link), problem="same folder", once=True
    )
    folder = b.folder("loops/broken")
    b.file("loops/broken/good.csv", GOOD_CSV)
    link = b.symlink("loops/broken/gone.csv", "nowhere.csv")
    b.report("a broken symlink", kind, [folder], OK, named=str(link), problem="broken symlink", once=True)
    folder = b.folder("loops/duplicates")
    for i in range(40):
        b.file(f"loops/duplicates/copy_{i:02d}.csv", GOOD_CSV)
    b.report("duplicate rows over 40 files", kind, [folder], ERROR, named=str(folder), problem="repeat")


def _json_limits(b: _Builder) -> None:
    kind = "JSON limits"
    deep = "[" * 50_000 + "]" * 50_000
    text = json.dumps(lm_eval_results("m0")).replace('"acc,none": 0.5', f'"acc,none": {deep}')
    path = b.file(f"json/deep_results/m0/results_{STAMP}.json", text)
    b.report(
        "deeply nested lm-eval results", kind, [path], ERROR, named=str(path), problem="nested too deeply"
    )
    record = lm_eval_mc_record(1, 0)
    line = json.dumps(record).replace('"doc": {', f'"deep": {deep}, "doc": {{')
    path = b.file(
        f"json/deep_samples/m0/samples_arith_{STAMP}.jsonl",
        jsonl_text([lm_eval_mc_record(0, 0)]) + line + "\n",
    )
    b.report("deeply nested lm-eval samples", kind, [path], ERROR, named=str(path), problem="line 2")
    text = json.dumps(bigbench_results()).replace(
        '"number_of_shots": 0', f'"number_of_shots": 0, "x": {deep}'
    )
    path = b.file("json/deep_bigbench.json", text)
    b.report(
        "deeply nested BIG-bench file", kind, [path], ERROR, named=str(path), problem="nested too deeply"
    )
    path = b.file("json/deep.jsonl", '{"model": "m", "task": "t", "value": 1, "x": ' + deep + "}\n")
    b.report("deeply nested tidy JSON Lines", kind, [path], ERROR, named=str(path), problem="depth")
    numbers = {"NaN": "NaN", "1e309": "1e309", "400 digits": "9" * 400, "5,000 digits": "7" * 5000}
    for label, literal in numbers.items():
        text = json.dumps(lm_eval_results("m0")).replace('"effective": 4', f'"effective": {literal}')
        path = b.file(f"json/n_samples_{len(literal)}_{literal[:3]}/results_{STAMP}.json", text)
        b.report(
            f"n-samples {label}", kind, [path], ERROR, named=str(path), problem="n-samples.arith.effective"
        )
        text = json.dumps(old_lm_eval({"piqa": 0.5})).replace('"num_fewshot": 0', f'"num_fewshot": {literal}')
        path = b.file(f"json/old_shots_{len(literal)}_{literal[:3]}.json", text)
        b.report(
            f"old lm-eval num_fewshot {label}",
            kind,
            [path],
            ERROR,
            args=("--format-in", "lm_eval_old"),
            named=str(path),
            problem="num_fewshot",
        )
        text = json.dumps(bigbench_results()).replace('"number_of_shots": 0', f'"number_of_shots": {literal}')
        path = b.file(f"json/bigbench_shots_{len(literal)}_{literal[:3]}.json", text)
        b.report(f"BIG-bench shots {label}", kind, [path], ERROR, named=str(path), problem="number_of_shots")
    text = json.dumps(lm_eval_results("m0")).replace('"n-shot": {"arith": 0}', '"n-shot": {"arith": 2.5}')
    path = b.file(f"json/n_shot_fraction/results_{STAMP}.json", text)
    b.report("lm-eval n-shot 2.5", kind, [path], ERROR, named=str(path), problem="not a whole number")
    text = json.dumps(lm_eval_results("m0")).replace('"acc,none": 0.5', '"acc,none": ' + "3" * 5000)
    path = b.file(f"json/value_5000_digits/results_{STAMP}.json", text)
    b.report("lm-eval value of 5,000 digits", kind, [path], ERROR, named=str(path), problem="not finite")
    rows = [{**r, "num_fewshot": "5"} for r in aggregate_rows()]
    rows[2]["num_fewshot"] = "1e309"
    path = b.file("json/csv_shots.csv", _csv(rows))
    b.report("tidy CSV num_fewshot 1e309", kind, [path], ERROR, named=str(path), problem="column num_fewshot")
    rows = [{**r, "n": "100"} for r in aggregate_rows()]
    rows[1]["n"] = "NaN"
    path = b.file("json/csv_n.csv", _csv(rows))
    b.report("tidy CSV n NaN", kind, [path], ERROR, named=str(path), problem="column n")


def _parquet(rows: list[dict], **columns: pl.Expr) -> bytes:
    frame = pl.DataFrame(rows).with_columns(**columns)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _parquet_types(b: _Builder) -> None:
    kind = "Parquet types"
    numbers = {"params": pl.col("params").cast(pl.Float64), "value": pl.col("value").cast(pl.Float64)}
    rows = aggregate_rows()
    wrong = {
        "struct value": ("value", pl.struct(a=pl.col("value").cast(pl.Float64)), "a number"),
        "list params": ("params", pl.concat_list(pl.col("params").cast(pl.Float64)), "a number"),
        "binary model": ("model", pl.col("model").cast(pl.Binary), "text"),
        "date value": ("value", pl.date(2020, 1, 1), "a number"),
        "struct task": ("task", pl.struct(a=pl.col("task")), "text"),
        "list n": ("n", pl.concat_list(pl.lit(4)), "a number"),
        "struct num_fewshot": ("num_fewshot", pl.struct(a=pl.lit(1)), "a number"),
    }
    for label, (column, expression, wanted) in wrong.items():
        data = _parquet(rows, **{**numbers, column: expression})
        path = b.file(f"parquet/{label.replace(' ', '_')}.parquet", data)
        b.report(
            f"Parquet {label}",
            kind,
            [path],
            ERROR,
            named=str(path),
            problem=f"column {column} has type",
            also=(f"{wanted}", "is wanted"),
        )
    data = _parquet(rows, **numbers, n=pl.lit(float("nan")))
    path = b.file("parquet/nan_n.parquet", data)
    b.report("Parquet float n NaN", kind, [path], ERROR, named=str(path), problem="column n")
    choices = [
        {**r, "choice_logliks": json.loads(r["choice_logliks"]), "correct_choice": int(r["correct_choice"])}
        for r in choice_rows()
    ]
    data = _parquet(
        choices,
        params=pl.col("params").cast(pl.Float64),
        choice_logliks=pl.col("choice_logliks").list.eval(pl.concat_list(pl.element())),
    )
    path = b.file("parquet/nested_logliks.parquet", data)
    b.report("Parquet list of lists", kind, [path], ERROR, named=str(path), problem="column choice_logliks")
    data = _parquet(rows, **numbers, model=pl.col("model").cast(pl.Categorical))
    b.report("Parquet categorical model", kind, [b.file("parquet/categorical.parquet", data)], OK)
    data = _parquet(
        rows, params=pl.col("params").cast(pl.Float64), value=pl.col("value").cast(pl.Decimal(10, 4))
    )
    b.report("Parquet decimal value", kind, [b.file("parquet/decimal.parquet", data)], OK)


def _files_and_folders(b: _Builder) -> None:
    kind = "files and folders"
    folder = b.folder("files/locked_folder")
    b.file("files/locked_folder/good.csv", GOOD_CSV)
    locked = b.folder("files/locked_folder/private")
    b.file("files/locked_folder/private/other.csv", GOOD_CSV)
    locked.chmod(0)
    b.report(
        "unreadable subfolder",
        kind,
        [folder],
        OK,
        named=str(locked),
        problem="permission denied",
        once=True,
        unprivileged=True,
    )
    folder = b.folder("files/locked_file")
    b.file("files/locked_file/good.csv", GOOD_CSV)
    locked_file = b.file("files/locked_file/secret.json", json.dumps(bigbench_results()))
    locked_file.chmod(0)
    b.report(
        "unreadable file in a folder",
        kind,
        [folder],
        OK,
        named=str(locked_file),
        problem="permission denied",
        once=True,
        unprivileged=True,
    )
    lm = _lm_eval_folder(b, "files/lm_eval_locked")
    (lm / "m2").chmod(0)
    b.report(
        "unreadable lm-eval model folder",
        kind,
        [lm],
        OK,
        named=str(lm / "m2"),
        problem="permission denied",
        once=True,
        unprivileged=True,
    )
    path = b.file("files/locked.csv", GOOD_CSV)
    path.chmod(0)
    b.report(
        "unreadable file named directly",
        kind,
        [path],
        ERROR,
        named=str(path),
        problem="permission denied",
        unprivileged=True,
    )
    folder = b.folder("files/locked_root")
    b.file("files/locked_root/good.csv", GOOD_CSV)
    folder.chmod(0)
    b.report(
        "unreadable folder named directly",
        kind,
        [folder],
        ERROR,
        named=str(folder),
        problem="permission denied",
        unprivileged=True,
    )
    path = b.file("files/mac.csv", GOOD_CSV.replace("\n", "\r"))
    b.report("CR-only line ends (tidy CSV)", kind, [path], OK)
    wide = "Model,Model Size (B),arc\r" + "".join(f"m{j},{0.1 * 3**j},{0.2 + 0.1 * j}\r" for j in range(5))
    path = b.file("files/mac_wide.csv", wide)
    b.report(
        "CR-only line ends (wide CSV)",
        kind,
        [path],
        OK,
        args=WIDE_ARGS,
    )
    lm = _lm_eval_folder(b, "files/more_samples", models=2)
    samples = [lm_eval_mc_record(i, i % 4) for i in range(7)]  # n-samples says 4
    path = b.file(f"files/more_samples/m0/samples_arith_{STAMP}.jsonl", jsonl_text(samples))
    b.file(f"files/more_samples/m1/samples_arith_{STAMP}.jsonl", jsonl_text(samples[:4]))
    b.report(
        "more samples than n-samples",
        kind,
        [lm],
        OK,
        named=path.name,
        problem="7 records but n-samples says 4",
    )
    rows = choice_rows()
    rows[3]["choice_logliks"] = "[" + "-1.0, " * 40_000 + "oops]"
    path = b.file("files/long_cell.csv", _csv(rows))
    b.report("a 240,000-character bad list cell", kind, [path], ERROR, named=str(path), problem="json list")
    header_rows = [{f"col_{'x' * 5000}": "1", "task": "t", "value": "0.5"}]
    path = b.file("files/long_header.csv", _csv(header_rows))
    b.report("a 5,000-character column name", kind, [path], ERROR, named=str(path), problem="model")


def _output(b: _Builder) -> None:
    kind = "output"

    def case(name: str, argv: tuple[str, ...], expect: str = ERROR, **kw: object) -> None:
        b.cases.append(ClusterCase(name, kind, argv, expect, **kw))  # type: ignore[arg-type]

    def simulate(name: str, target: Path, problem: str, items: str = "3", **kw: object) -> None:
        argv = ("simulate", "--items", items, "--params", "1e8,1e9,1e10", "--out", str(target))
        kw.setdefault("output", target)  # absent after the failure (an existing file stays: it is an input)
        case(name, argv, named=str(target), problem=problem, **kw)

    good = b.file("output/good.csv", GOOD_CSV)
    report = ("report", str(good), *FAST)
    case(
        "report > /dev/full",
        report,
        named="standard output",
        problem="no space",
        stdout="full",
        inputs=(good,),
    )
    case("report with stdout closed", report, named="standard output", problem="closed", stdout="closed")
    many = b.file("output/many.csv", _csv(sample_rows([f"model-{i:04d}" for i in range(600)], items=2)))
    json_report = ("report", str(many), *FAST, "--format", "json")  # a few hundred KB: more than a pipe holds
    case("report | head -1 (EPIPE)", json_report, QUIET, stdout="broken-pipe", inputs=(many,))
    simulate("simulate --out into a missing folder", b.root / "output/missing/sim.csv", "does not exist")
    blocker = b.file("output/a_file", "x")
    simulate("simulate --out inside a file", blocker / "sim.csv", "is a file", inputs=(blocker,))
    existing = b.file("output/existing.csv", "precious\n")
    simulate(
        "simulate --out onto an existing file", existing, "already exists", inputs=(existing,), output=None
    )
    locked = b.folder("output/locked")
    locked.chmod(0o555)
    simulate(
        "simulate --out into a read-only folder", locked / "sim.csv", "permission denied", unprivileged=True
    )
    bench = ("bench", "--quick", "--cache-dir", str(locked))
    case(
        "bench with a read-only --cache-dir",
        bench,
        named=str(locked),
        problem="permission denied",
        unprivileged=True,
    )
    skip = "" if b.disks.full else b.disks.reason
    disk = b.disks.full or b.root / "no-tmpfs"
    for suffix in (".parquet", ".csv", ".jsonl"):
        name = f"simulate --out {suffix} onto a full disk"
        simulate(name, disk / f"sim{suffix}", "no space left", items="4000", skip=skip)
    skip = "" if b.disks.read_only else b.disks.reason
    read_only = b.disks.read_only or b.root / "no-tmpfs-ro"
    simulate("simulate --out onto a read-only mount", read_only / "sim.csv", "read-only", skip=skip)
    bench = ("bench", "--quick", "--cache-dir", str(read_only / "bench"))
    case(
        "bench with --cache-dir on a read-only mount",
        bench,
        named=str(read_only),
        problem="read-only",
        skip=skip,
    )


def build_cluster_corpus(root: Path, disks: Disks | None = None) -> list[ClusterCase]:
    """Make every case under ``root`` (which others must be able to read, for the unprivileged runs)."""
    builder = _Builder(Path(root), disks or Disks(reason="no tmpfs mounted for this run"))
    for add in (_special_files, _symlink_loops, _json_limits, _parquet_types, _files_and_folders, _output):
        add(builder)
    names = [case.name for case in builder.cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return builder.cases


# ---------------------------------------------------------------- fixtures' helpers


def make_root() -> Path:
    """A fresh folder under the system temp folder that an unprivileged user can enter and read."""
    root = Path(tempfile.mkdtemp(prefix="emergence-cluster-"))
    root.chmod(0o755)
    return root


def remove_root(root: Path) -> None:
    """Give back every permission taken away by the cases, then delete the tree."""
    for folder, names, files in os.walk(root):
        for name in (*names, *files):
            path = Path(folder) / name
            if not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.chmod(0o755)
    for folder, names, _ in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


def mount_tmpfs(folder: Path, options: str) -> str:
    """Mount a tmpfs at ``folder``; "" when done, else why not (not root, no mount command, refused)."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root here; the full-disk and read-only-mount cases are skipped"
    if shutil.which("mount") is None:
        return "no mount command; the full-disk and read-only-mount cases are skipped"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
    )
    if done.returncode != 0:
        return f"mount -t tmpfs failed ({done.stderr.strip()[:120]}); the full-disk cases are skipped"
    return ""


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def unprivileged_prefix() -> tuple[list[str] | None, str]:
    """The command prefix that runs a program as an unprivileged user, or None and why that cannot be done."""
    if os.geteuid() != 0:
        return [], ""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None, "running as root without setpriv, so chmod 000 cannot be tested here"
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import analysis.loading"], cwd=REPO_ROOT, capture_output=True
    )
    if probe.returncode != 0:
        return None, "the unprivileged user cannot run this checkout's Python, so chmod 000 cannot be tested"
    return prefix, ""


# ---------------------------------------------------------------- digests of the user's files


def digests(paths: Iterable[Path]) -> dict[str, str]:
    """A fingerprint of every entry under ``paths``: SHA-256 of regular files (size and time when the test
    may not read them), the kind of special files, the target of symlinks, the mode of everything."""
    found: dict[str, str] = {}
    for top in paths:
        entries = [top]
        if top.is_dir() and not top.is_symlink() and os.access(top, os.R_OK | os.X_OK):
            entries += [Path(f) / n for f, dirs, files in os.walk(top) for n in (*dirs, *files)]
        for entry in entries:
            try:
                info = entry.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                found[str(entry)] = f"link {os.readlink(entry)}"
            elif stat.S_ISREG(info.st_mode) and os.access(entry, os.R_OK):
                found[str(entry)] = hashlib.sha256(entry.read_bytes()).hexdigest() + f" {info.st_mode:o}"
            else:
                found[str(entry)] = f"{info.st_mode:o} {info.st_size} {info.st_mtime_ns}"
    return found


# ---------------------------------------------------------------- running a case


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: stopped after TIMEOUT seconds (a hang)
    stdout: str
    stderr: str
    seconds: float


class _BrokenPipe(io.StringIO):
    """A stdout whose reader has gone: the first write raises BrokenPipeError, as ``| head -1`` does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def _main_with_streams(argv: list[str], stdout_mode: str) -> tuple[int, str, str]:
    """``tui.cli.main(argv)`` with stdout set up as ``stdout_mode`` and stderr captured."""
    from unittest import mock

    from tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    streams = {"capture": out, "closed": None, "broken-pipe": _BrokenPipe()}
    full = open("/dev/full", "w") if stdout_mode == "full" else None  # noqa: SIM115
    stdout = full if full is not None else streams[stdout_mode]
    try:
        with mock.patch.object(sys, "stdout", stdout), mock.patch.object(sys, "stderr", err):
            code = main(argv)
    finally:
        if full is not None:
            with contextlib.suppress(OSError):
                full.close()
    return code, out.getvalue(), err.getvalue()


def _child(argv: list[str], stdout_mode: str, warm_up: str, results: multiprocessing.Queue) -> None:
    """In a spawned child: import what the commands use (the unprivileged user may not read the
    interpreter's own library), drop to the unprivileged user, run ``main`` and send back what happened."""
    import encodings.utf_8_sig  # noqa: F401
    import traceback

    import analysis.simulate  # noqa: F401
    import benchmarks.__main__  # noqa: F401

    _main_with_streams(["report", warm_up, *FAST], "capture")
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    try:
        results.put(_main_with_streams(argv, stdout_mode))
    except BaseException:  # a failure of the test's own set-up: report it instead of hanging the test
        results.put((-1, "", traceback.format_exc()))


def run_in_process(case: ClusterCase) -> Outcome:
    """``tui.cli.main`` in this interpreter (a daemon thread, so a hang is caught), or, for a case that must
    run unprivileged while the tests run as root, in a spawned child that drops to ``nobody`` first."""
    started = time.perf_counter()
    if case.unprivileged and os.geteuid() == 0:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        warm_up = str(REPO_ROOT / "sample_data")
        child = context.Process(
            target=_child, args=(list(case.argv), case.stdout, warm_up, results), daemon=True
        )
        child.start()
        try:
            code, out, err = results.get(timeout=TIMEOUT)
        except queue.Empty:  # the child hung, or died without an answer
            child.kill()
            return Outcome(None, "", "", time.perf_counter() - started)
        child.join(10)
        return Outcome(code, out, err, time.perf_counter() - started)
    box: list[tuple[int, str, str]] = []
    thread = threading.Thread(target=lambda: box.append(_main_with_streams(list(case.argv), case.stdout)))
    thread.daemon = True
    thread.start()
    thread.join(TIMEOUT)
    if not box:
        return Outcome(None, "", "", time.perf_counter() - started)
    code, out, err = box[0]
    return Outcome(code, out, err, time.perf_counter() - started)


def run_as_process(case: ClusterCase, prefix: list[str] | None = None) -> Outcome:
    """``python -m tui.cli`` in a new process with stdout set up as the case says; ``prefix`` (e.g.
    ``setpriv ...``) runs it as another user."""
    command = [*(prefix or []), sys.executable, "-m", "tui.cli", *case.argv]
    if case.stdout == "full":
        command = ["sh", "-c", 'exec "$@" > /dev/full', "sh", *command]
    elif case.stdout == "closed":
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONWARNINGS": "default", "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        if case.stdout == "broken-pipe":
            process.stdout.readline()
            process.stdout.close()  # the reader goes away, like `| head -1`
            try:
                err = process.stderr.read()  # ends when the process closes stderr (it exits)
                process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                return Outcome(None, "", "", time.perf_counter() - started)
            return Outcome(process.returncode, "", err, time.perf_counter() - started)
        try:
            out, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return Outcome(None, "", "", time.perf_counter() - started)
    return Outcome(process.returncode, out, err, time.perf_counter() - started)


def main() -> int:
    """Build the corpus, run every case as a process and print its time (for docs/robustness.md)."""
    root = make_root()
    full, read_only = root / "mnt-full", root / "mnt-ro"
    reason = mount_tmpfs(full, "size=64k") or mount_tmpfs(read_only, "ro,size=64k")
    disks = Disks(full if not reason else None, read_only if not reason else None, reason)
    prefix, why = unprivileged_prefix()
    try:
        cases = build_cluster_corpus(root, disks)
        print(f"{len(cases)} cases; unprivileged runs: {'yes' if prefix is not None else why}")
        good = root / "baseline.csv"
        good.write_text(GOOD_CSV, encoding="utf-8")
        baseline = run_as_process(ClusterCase("baseline", "", ("report", str(good), *FAST), OK))
        print(f"  {baseline.seconds:6.2f} s  exit {baseline.code}  (baseline: report on a good 6-row CSV)")
        for case in cases:
            if case.skip or (case.unprivileged and prefix is None):
                print(f"  skipped  {case.name}")
                continue
            outcome = run_as_process(case, prefix if case.unprivileged else None)
            code = "HANG" if outcome.code is None else outcome.code
            print(f"  {outcome.seconds:6.2f} s  exit {code}  {case.kind:18} {case.name}")
    finally:
        for mount in (full, read_only):
            unmount(mount)
        remove_root(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
