"""The process's thread budget (analysis/threads.py): pools never exceed it, nested pools run inline, BLAS
runs on one thread once a pool has opened, and ``--threads`` sets it before the libraries load."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from analysis import threads


def test_budget_comes_from_the_environment_else_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(threads.ENV, "3")
    assert threads.budget() == 3
    assert threads.workers(8) == 3
    assert threads.workers(2) == 2
    for bad in ("0", "-1", "many", ""):
        monkeypatch.setenv(threads.ENV, bad)
        assert threads.budget() == threads.cores()


def test_a_pool_inside_a_pool_runs_inline_and_pools_respect_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(threads.ENV, "2")
    seen: list[tuple[str, int]] = []

    def inner(_: int) -> str:
        with threads.pool(4) as nested:
            names = list(nested.map(lambda _: threading.current_thread().name, range(3)))
        seen.append((threading.current_thread().name, threads.workers(4)))
        return names[0]

    with threads.pool(5) as outer:
        inner_names = list(outer.map(inner, range(4)))
    outer_names = {name for name, _ in seen}
    assert 1 <= len(outer_names) <= 2  # the budget, not the 5 asked for
    assert set(inner_names) <= outer_names  # nested work ran in the outer worker's own thread
    assert {count for _, count in seen} == {1}
    monkeypatch.setenv(threads.ENV, "1")
    with threads.pool(4) as alone:
        assert alone.submit(threading.current_thread).result() is threading.current_thread()


def test_inline_pool_hands_errors_back_through_the_future(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(threads.ENV, "1")
    with threads.pool(2) as alone:
        future = alone.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result()


def test_blas_runs_on_one_thread_once_a_pool_opened() -> None:
    import numpy  # noqa: F401 - loads its BLAS
    from threadpoolctl import threadpool_info

    with threads.pool(2):
        pass
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_threads_option_sets_budget_blas_and_polars_before_they_load() -> None:
    code = (
        "import os, sys; from tui.cli import threads, _threads_in;"
        "threads.configure(_threads_in(sys.argv[1:]));"
        "import polars, numpy; from threadpoolctl import threadpool_info;"
        "print(os.environ['EMERGENCE_TUI_THREADS'], polars.thread_pool_size(),"
        " max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "report", "--threads", "1"], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1", "1", "1"]
