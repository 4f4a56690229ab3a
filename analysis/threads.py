"""One thread budget for the whole process: the project's pools, BLAS and polars share the cores it may use.

A cluster login node, where an SSH tool lives, runs other users' work beside it. numpy's BLAS starts a thread
per core in every product and spins while it waits for them; the project's pools ran two products at once, so
a report ran four or more busy threads on two cores and took 6-10x longer when another process was busy
(issue 15). The rule, in one place:

- BLAS runs on one thread (``configure`` sets it before numpy loads, ``pool`` makes sure afterwards). Every
  large product of the analysis (the bootstrap's, the fits') runs inside one of the project's pools, which
  give the parallelism instead, so no product waits for a BLAS thread that another process has taken.
- The project's pools together never run more workers than ``budget()``: a pool opened inside a pool's
  worker runs its work inline.
- ``budget()`` is the cores this process may run on (``os.sched_getaffinity``), or ``--threads N`` /
  ``EMERGENCE_TUI_THREADS``; the app's worker process inherits it through the environment. polars sizes its
  own pool once, when it is imported, from ``POLARS_MAX_THREADS``, which ``configure`` sets when polars is
  not loaded yet.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

_T = TypeVar("_T")

ENV = "EMERGENCE_TUI_THREADS"
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_local = threading.local()
_blas_pinned = False


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def budget() -> int:
    """How many threads the project's own work may run at once: ``EMERGENCE_TUI_THREADS`` or the cores."""
    text = os.environ.get(ENV, "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    return cores()


def configure(threads: int | None = None) -> None:
    """Set the budget (``None``: keep ``EMERGENCE_TUI_THREADS`` or the cores) and, for libraries not loaded
    yet, their thread counts: BLAS one thread, polars the budget. Call before the analysis is imported."""
    if threads is not None:
        if threads < 1:
            raise ValueError("--threads must be at least 1")
        os.environ[ENV] = str(threads)
    if "numpy" not in sys.modules:
        for name in _BLAS_ENV:
            os.environ.setdefault(name, "1")
    if "polars" not in sys.modules:
        os.environ.setdefault("POLARS_MAX_THREADS", str(budget()))


def pin_blas() -> None:
    """BLAS on one thread from now on (once per process; numpy may have loaded before ``configure`` ran)."""
    global _blas_pinned
    if not _blas_pinned and "numpy" in sys.modules:  # numpy loads its BLAS when it is imported
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _blas_pinned = True


class _Inline(Executor):
    """An executor that runs each task at once in the calling thread (a pool inside a pool's worker)."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            future.set_exception(err)
        return future


def _mark_worker() -> None:
    _local.in_pool = True


def workers(wanted: int) -> int:
    """How many workers a pool asking for ``wanted`` gets: the budget's share, 1 inside another pool."""
    if getattr(_local, "in_pool", False):
        return 1
    return max(1, min(wanted, budget()))


@contextmanager
def pool(wanted: int) -> Iterator[Executor]:
    """An executor of ``workers(wanted)`` threads (inline when that is one), with BLAS on one thread."""
    pin_blas()
    count = workers(wanted)
    if count == 1:
        yield _Inline()
        return
    with ThreadPoolExecutor(count, initializer=_mark_worker) as executor:
        yield executor
