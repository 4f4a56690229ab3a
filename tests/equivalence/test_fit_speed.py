"""The fit stage's fast paths give the results of the plain procedure.

* Round 1 before the bootstrap: a fit refused on its point estimate draws no replicates, and says what it says
  without them.
* Stragglers refined in a batch (``_fit_many(batch_stragglers=True)``) instead of one scipy polish each. The
  rule held here: every fit keeps its verdict and message apart from the count of failed replicates (the batch
  converges a few that scipy's polish gave up on), and each CI endpoint moves by at most 10% of the CI's width
  (measured on Pythia's tree, 270 fits with CIs: 203 identical, 99% within 1.4% of the width, the largest
  9.6%, where replicates run along a flat objective toward k's bound and scipy stops earlier); on the curves
  here, 2%.
* Least-squares grid scores of per-replicate targets by expanding the square (three matrix products): the same
  scores to rounding, the same best starts.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.fits import bootstrap, optimizer, problems, procedure
from analysis.fits.procedure import _fit_many, _FitRequest
from tests.conftest import SHARED_DATA

PYTHIA = SHARED_DATA / "pythia" / "tidy.csv"


def _curves(rng: np.random.Generator, n_curves: int) -> list[_FitRequest]:
    """Accuracies of 8 sizes that barely leave chance within the data (a rise of 0.1 centred beyond the
    largest size, noise 0.01), each with 200 replicate curves (normal draws of n = 500): the curves whose
    replicates the batch leaves moving (the logistic's k and x0 trade off along a flat objective)."""
    x = np.geomspace(7e7, 1.2e10, 8)
    requests = []
    for _ in range(n_curves):
        middle, k = rng.uniform(10.0, 12.0), rng.uniform(0.5, 3.0)
        truth = 0.25 + 0.1 / (1.0 + np.exp(-k * (np.log10(x) - middle)))
        y = np.clip(truth + rng.normal(0, 0.01, len(x)), 0.01, 0.99)
        stderr = np.sqrt(y * (1 - y) / 500)
        reps = np.clip(y + stderr * rng.standard_normal((200, len(x))), 1e-3, 1 - 1e-3)
        requests.append(_FitRequest(x, y, "logistic", None, None, 200, 0.95, 0, "params", None, reps))
    return requests


def _pythia_curves() -> list[_FitRequest]:
    """Pythia's real accuracy curves: each task's final checkpoints over the sizes (zero-shot, standard and
    deduplicated), and each model's checkpoints over tokens, with normal replicate curves from the stderr."""
    frame = pl.read_csv(PYTHIA).filter((pl.col("metric") == "acc") & (pl.col("shots") == 0))
    rng = np.random.default_rng(11)
    requests = []

    def add(part: pl.DataFrame, x_col: str) -> None:
        part = part.filter(pl.col(x_col) > 0).sort(x_col)
        if part.height < 5:
            return
        x, y = part[x_col].to_numpy().astype(float), part["value"].to_numpy()
        stderr = part["stderr"].fill_null(0.01).to_numpy()
        reps = np.clip(y + stderr * rng.standard_normal((200, len(y))), 1e-3, 1 - 1e-3)
        requests.append(_FitRequest(x, y, "logistic", None, None, 200, 0.95, 0, x_col, None, reps))

    final = frame.filter(pl.col("step") == pl.col("step").max().over("model"))
    for (_, _), part in final.group_by("task", "dedup", maintain_order=True):
        add(part, "params_total")
    for (_, _), part in frame.group_by("task", "model", maintain_order=True):
        if part["model"][0] in ("pythia-1.4b", "pythia-12b"):
            add(part, "tokens_seen")
    return requests


def _same_fits(plain: list, fast: list, width_share: float) -> None:
    for a, b in zip(plain, fast, strict=True):
        assert a.ok == b.ok
        if not a.ok:
            assert a.message == b.message
            continue
        assert a.params == b.params  # the point estimate is not touched
        assert a.n_bootstrap + a.n_bootstrap_failed == b.n_bootstrap + b.n_bootstrap_failed
        assert b.n_bootstrap >= a.n_bootstrap  # the batch converges at least the replicates scipy does
        assert a.ci.keys() == b.ci.keys()
        for name, (lo, hi) in a.ci.items():
            width = max(hi - lo, 1e-12)
            assert abs(b.ci[name][0] - lo) <= width_share * width, (name, a.ci[name], b.ci[name])
            assert abs(b.ci[name][1] - hi) <= width_share * width, (name, a.ci[name], b.ci[name])


def _both_paths(requests: list[_FitRequest], monkeypatch: pytest.MonkeyPatch) -> tuple[list, list, int, int]:
    """Plain and fast results, and how many replicates each polished by scipy."""
    calls = {"n": 0}
    polish = bootstrap._polish_replicate

    def counted(*args: object) -> object:
        calls["n"] += 1
        return polish(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bootstrap, "_polish_replicate", counted)
    plain = _fit_many(requests, batch_stragglers=False)
    n_plain, calls["n"] = calls["n"], 0
    fast = _fit_many(requests, batch_stragglers=True)
    return plain, fast, n_plain, calls["n"]


def test_stragglers_refined_in_a_batch_give_the_scipy_polish_results_on_simulated_curves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, fast, n_plain, n_fast = _both_paths(_curves(np.random.default_rng(5), 24), monkeypatch)
    assert sum(fit.ok and bool(fit.ci) for fit in plain) >= 10  # enough fits stand to compare CIs
    assert n_plain >= 100 and n_fast < n_plain / 10  # there were stragglers, and the batch took most
    _same_fits(plain, fast, 0.02)


def test_stragglers_refined_in_a_batch_give_the_scipy_polish_results_on_saturating_losses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Losses E + A x^-alpha with 1% noise on 9 sizes, CIs from resampled points (the log-space Huber fit,
    with its E = 0 rows)."""
    rng = np.random.default_rng(3)
    x = np.geomspace(1e7, 1e10, 9)
    requests = []
    for _ in range(30):
        e, a, alpha = rng.uniform(1.5, 2.5), rng.uniform(50, 500), rng.uniform(0.15, 0.4)
        y = (e + a * x**-alpha) * np.exp(rng.normal(0, 0.01, len(x)))
        requests.append(_FitRequest(x, y, "saturating", None, None, 200, 0.95, 0, "params"))
    plain, fast, n_plain, n_fast = _both_paths(requests, monkeypatch)
    assert sum(fit.ok and bool(fit.ci) for fit in plain) >= 20
    assert n_plain >= 40 and n_fast < n_plain / 5
    _same_fits(plain, fast, 0.02)


@pytest.mark.skipif(not PYTHIA.exists(), reason=f"{PYTHIA} is absent (shared data not checked out)")
def test_stragglers_refined_in_a_batch_give_the_scipy_polish_results_on_pythia(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requests = _pythia_curves()
    assert len(requests) >= 20
    plain, fast, n_plain, n_fast = _both_paths(requests, monkeypatch)
    assert sum(fit.ok and bool(fit.ci) for fit in plain) >= 5
    assert n_plain >= 20 and n_fast < n_plain / 2
    _same_fits(plain, fast, 0.02)


def test_a_fit_refused_on_its_point_estimate_draws_no_replicates(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ObsScaling curve whose x0 runs to its bound: refused on the point estimate, with or without a
    bootstrap, and no replicate is drawn for it (they could not change the result)."""
    x, y = np.array([5.6e8, 1.1e9, 3.0e9, 7.1e9]), np.array([0.019, 0.022, 0.0255, 0.0475])
    drawn = []
    replicates = procedure._replicates
    monkeypatch.setattr(procedure, "_replicates", lambda *a, **k: drawn.append(1) or replicates(*a, **k))
    with_boot = procedure.fit_law(x, y, "logistic", floor=0.0, bootstrap=200)
    without = procedure.fit_law(x, y, "logistic", floor=0.0, bootstrap=0)
    assert not with_boot.ok and "x0 at its bound two decades above the data" in with_boot.message
    assert with_boot.message == without.message and drawn == []
    standing = procedure.fit_law(np.geomspace(1e8, 1e10, 6), [0.1, 0.15, 0.3, 0.6, 0.8, 0.85], "logistic",
                                 floor=0.0, bootstrap=50)  # fmt: skip
    assert standing.ok and standing.ci and drawn == [1]


def _grid_scores_agree(requests: list[_FitRequest]) -> int:
    """The expanded square scores every replicate's grid as the per-residual sum does (to 1e-13 of the
    target's sum of squares) and picks the same best starts; returns the rows compared."""
    rows = 0
    for request in requests:
        for floor in (None, 0.25):
            problem = problems._logistic_problem(request.x, request.y, floor)
            targets = problem.to_target(request.y_replicates)
            weights = np.ones_like(targets)
            plain = optimizer._grid_losses(problem, weights, targets, expand=False)
            fast = optimizer._grid_losses(problem, weights, targets)
            finite = np.isfinite(plain)
            np.testing.assert_array_equal(finite, np.isfinite(fast))
            scale = 0.5 * (targets * targets).sum(axis=1, keepdims=True) * np.ones_like(plain)
            assert (np.abs(plain - fast)[finite] <= 1e-13 * scale[finite]).all()
            np.testing.assert_array_equal(
                bootstrap._smallest_per_row(plain, 3), bootstrap._smallest_per_row(fast, 3)
            )
            rows += len(plain)
    return rows


def test_expanded_grid_scores_equal_the_residual_sums_on_simulated_curves() -> None:
    assert _grid_scores_agree(_curves(np.random.default_rng(1), 10)) == 10 * 2 * 200


@pytest.mark.skipif(not PYTHIA.exists(), reason=f"{PYTHIA} is absent (shared data not checked out)")
def test_expanded_grid_scores_equal_the_residual_sums_on_pythia() -> None:
    requests = _pythia_curves()
    assert _grid_scores_agree(requests) == len(requests) * 2 * 200
