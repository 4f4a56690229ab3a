"""Run one benchmark part in this (fresh) process and print its measurements as one JSON line.

``python -m benchmarks.worker PART [--quick] [--repeat R] [--cache-dir DIR]``. Peak memory is this process's
maximum resident set size (``ru_maxrss`` of RUSAGE_SELF, or of RUSAGE_CHILDREN when the part ran the app in a
child process, whichever is larger): it includes the interpreter, imports and the part's input.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from dataclasses import asdict
from pathlib import Path

from benchmarks.jobs import PARTS, Context, run_part


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", required=True)
    args = parser.parse_args(argv)
    measured = run_part(args.part, Context(args.quick, Path(args.cache_dir), args.repeat))
    peak_kib = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({**asdict(measured), "peak_bytes": peak_kib * 1024}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
