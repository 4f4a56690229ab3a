"""Fuzz each file reader for a bounded time: mutated result files must load or raise InputError, nothing else.

    uv run python -m tests.robustness.fuzz --seconds 60            # every target, 60 s each
    uv run python -m tests.robustness.fuzz --seconds 10 --target bigbench

Hypothesis drives the mutations of a valid seed file per format (truncation, byte flips, deleted and repeated
spans, and insertions of hostile fragments: NUL and BOM bytes, NaN/inf/huge numbers, quotes, brackets, Rich
markup, ANSI escapes, lone-surrogate escapes, Latin-1 bytes) and shrinks any failure to a small input. Each
target runs in rounds of fresh random examples until its time is up; the counts are printed, and a failure
exits 1 with the reader and the exception (hypothesis prints the seed that reproduces it).

Parquet is fuzzed at the level of values (hostile cells, truncated files), not single bytes: byte edits inside
a Parquet file make polars 1.x panic (now caught by the loader) or abort the whole process on a huge
allocation ("memory allocation of 2305843009213693952 bytes failed"), which no Python code can catch.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from analysis.errors import InputError
from analysis.loading import load
from analysis.options import LoadOptions
from tests.robustness import corpus as c

DEFAULT_OPTIONS = LoadOptions()
FRAGMENTS: tuple[bytes, ...] = (
    b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xe9", b"\x80", b"NaN", b"-inf", b"Infinity", b"1e309", b"-0",
    b"1e-400", b"99999999999999999999999", b'"', b",", b"\n", b"\r\n", b"\t", b"[", b"]", b"{", b"}", b":",
    b"null", b"true", b"[bold]", b"[link=x]", b"\x1b[31m", b"\\ud800", b"\\u0000", b"\xd7\x9e", b"-1",
    b"0", b"999", b'"results"', b'"scores"', b'"model"', b'"doc_id"', b"acc,none",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """One reader under fuzz: the file name it sniffs and a valid seed file to mutate."""

    name: str
    filename: str
    seed: bytes
    options: LoadOptions = DEFAULT_OPTIONS
    inputs: st.SearchStrategy[bytes] | None = None  # default: byte mutations of ``seed``

    def strategy(self) -> st.SearchStrategy[bytes]:
        return self.inputs if self.inputs is not None else mutated(self.seed)


def _targets() -> dict[str, Target]:
    tidy = c._csv(c.aggregate_rows()).encode()
    samples = c._csv(c.choice_rows()).encode()
    wide_options = LoadOptions(format_in="wide", mapping={"Model": "model", "Model Size (B)": "params"})
    lm_samples = c.jsonl_text([c.lm_eval_mc_record(i, i % 4) for i in range(4)]).encode()
    parquet = c.parquet_bytes(c.aggregate_rows())
    return {
        t.name: t
        for t in (
            Target("tidy-csv", "results.csv", tidy),
            Target("tidy-csv-samples", "samples.csv", samples),
            Target("tidy-jsonl", "results.jsonl", c.jsonl_text(c.aggregate_rows()).encode()),
            Target("tidy-parquet", "results.parquet", parquet, inputs=hostile_parquet()),
            Target(
                "lm_eval-results", f"results_{c.STAMP}.json", json.dumps(c.lm_eval_results("m0")).encode()
            ),
            Target("lm_eval-samples", f"samples_arith_{c.STAMP}.jsonl", lm_samples),
            Target(
                "lm_eval_old", "old.json", json.dumps(c.old_lm_eval({"piqa": 0.5, "lambada": 0.4})).encode()
            ),
            Target("bigbench", "scores_BIG-G_T0_1b.json", json.dumps(c.bigbench_results()).encode()),
            Target("wide", "table.csv", c.wide_csv(c._wide_rows()).encode(), wide_options),
            Target(
                "inspect-json",
                "log.json",
                json.dumps({**INSPECT_HEADER, "samples": INSPECT_SAMPLES}).encode(),
            ),
            Target(
                "inspect-eval",
                "log.eval",
                b"",
                inputs=mutated(json.dumps(INSPECT_SAMPLES).encode()).map(_eval_log),
            ),
            Target("eee", "points.jsonl", (json.dumps(EEE_LOG) + "\n").encode()),
        )
    }


INSPECT_HEADER = {
    "version": 2,
    "status": "success",
    "eval": {"model": "m/a-1b", "task": "t", "created": "2025"},
}
INSPECT_SAMPLES = [
    {"id": i, "epoch": 1 + i % 2, "target": "x", "scores": {"match": {"value": "CIPN"[i % 4], "answer": "x"}}}
    for i in range(4)
]
EEE_LOG = {
    "schema_version": "0.3.0",
    "model_info": {"id": "m/a-1b", "additional_details": {"num_parameters": "1000000000"}},
    "evaluation_results": [
        {
            "evaluation_name": "t",
            "metric_config": {"metric_name": "acc", "lower_is_better": False},
            "score_details": {
                "score": 0.5,
                "uncertainty": {"standard_error": {"value": 0.1}, "num_samples": 4},
            },
        }
    ],
}


def _eval_log(summaries: bytes) -> bytes:
    """An Inspect ``.eval`` zip holding a valid header and the (mutated) summaries member."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.json", json.dumps(INSPECT_HEADER))
        archive.writestr("summaries.json", summaries)
    return buffer.getvalue()


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after 1-4 random edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(("truncate", "flip", "insert", "delete", "repeat", "replace")))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(FRAGMENTS))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:
            fragment = draw(st.sampled_from(FRAGMENTS))
            data[at : at + len(fragment)] = fragment
    return bytes(data)


@st.composite
def hostile_parquet(draw: st.DrawFn) -> bytes:
    """A valid Parquet table with hostile cells (byte edits of Parquet can abort polars itself, see below)."""
    rows = c.aggregate_rows()
    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324])
    )
    names = st.one_of(st.text(max_size=12), st.sampled_from([*c.MARKUP_NAMES, *c.ANSI_NAMES, *c.RTL_NAMES]))
    for row in rows:
        for column in draw(
            st.lists(st.sampled_from(("model", "task", "metric", "params", "value")), max_size=3)
        ):
            row[column] = draw(names if column in ("model", "task", "metric") else numbers.map(repr))
    frame_bytes = c.parquet_bytes(rows, {"params": pl.Float64, "value": pl.Float64})
    cut = draw(st.one_of(st.none(), st.integers(0, len(frame_bytes))))
    return frame_bytes if cut is None else frame_bytes[:cut]


@dataclass
class Outcome:
    """What one target's fuzzing did."""

    examples: int = 0
    loaded: int = 0
    refused: int = 0
    failure: str = ""


def fuzz_target(target: Target, seconds: float, folder: Path, round_size: int = 50) -> Outcome:
    """Fuzz ``target`` for about ``seconds``; only ``InputError`` may escape the loader."""
    outcome = Outcome()
    path = folder / target.filename

    def check(data: bytes) -> None:
        path.write_bytes(data)
        outcome.examples += 1
        try:
            load([path], target.options)
        except InputError as err:
            outcome.refused += 1
            text = str(err)
            assert "\n" not in text and "\x1b" not in text, f"message is not one clean line: {text!r}"
        else:
            outcome.loaded += 1

    run: Callable[[], None] = settings(
        max_examples=round_size,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(given(target.strategy())(check))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            run()
        except Unsatisfiable:
            continue
        except (KeyboardInterrupt, SystemExit):
            raise
        except (
            BaseException
        ) as err:  # hypothesis re-raises the shrunk failure; a polars panic is a BaseException
            outcome.failure = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
            break
    return outcome


TARGETS = _targets()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.robustness.fuzz", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="time per target (default 60)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="only these targets")
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.target or list(TARGETS):
            outcome = fuzz_target(TARGETS[name], args.seconds, Path(scratch))
            status = f"FAILED {outcome.failure}" if outcome.failure else "ok"
            print(
                f"{name:18} {outcome.examples:7d} examples  {outcome.loaded:6d} loaded  "
                f"{outcome.refused:6d} refused with one line  {status}"
            )
            failed = failed or bool(outcome.failure)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
