"""Run one benchmark part, and its baseline when it has one, in this process; print one JSON line.

``python -m benchmarks.worker PART [--baseline BASE] [--quick] [--repeat R] [--cache-dir DIR]``. The part and
its baseline alternate run by run (baseline first on even runs, the part first on odd ones), so drift of the
machine and the state the other leaves behind (warm caches, the allocator's free pages) affect both alike.
Peak memory is per part: the largest resident set size sampled every few milliseconds while it ran, or the
largest of the child processes it started (the app jobs), whichever is larger; it includes the interpreter,
imports and the part's input.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from benchmarks.jobs import PARTS, Context, Measured, run_part

_PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """The largest resident set size of this process while each labelled stretch ran (sampled)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.label: str | None = None
        self.peaks: dict[str, int] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        with open("/proc/self/statm") as statm:
            while not self._stop.wait(self._interval):
                statm.seek(0)
                resident = int(statm.read().split()[1]) * _PAGE
                label = self.label
                if label is not None and resident > self.peaks.get(label, 0):
                    self.peaks[label] = resident

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(part: str, baseline: str | None, ctx: Context) -> dict[str, dict]:
    """``ctx.repeat`` alternating runs of the part and its baseline (one run per call, same process)."""
    names = [part] if baseline is None else [baseline, part]
    seconds: dict[str, list[float]] = {name: [] for name in names}
    last: dict[str, Measured] = {}
    memory = PeakMemory()
    single = Context(ctx.quick, ctx.folder, 1)
    for run in range(ctx.repeat):
        for name in names if run % 2 == 0 else names[::-1]:
            memory.label = name
            last[name] = run_part(name, single)
            memory.label = None
            seconds[name] += last[name].seconds
    memory.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        name: {
            **asdict(last[name]),
            "seconds": seconds[name],
            "peak_bytes": max(memory.peaks.get(name, 0), children if name == part else 0),
        }
        for name in names
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--baseline", choices=sorted(PARTS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", required=True)
    args = parser.parse_args(argv)
    ctx = Context(args.quick, Path(args.cache_dir), args.repeat)
    print(json.dumps(measure(args.part, args.baseline, ctx)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
