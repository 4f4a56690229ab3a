"""The mirage model of Schaeffer et al. (docs/science.md section 2) as per-sample rows and closed-form curves.

Per-token cross-entropy ``CE(N) = (N / c) ** alpha`` drives two tasks per model. Items differ in difficulty:
item i's cross-entropy is ``CE_i(N) = CE(N) * s_i`` with ``s_i = exp(spread * z_i - spread^2 / 2)`` (z_i
standard normal, shared by every model, so an item hard for one size is hard for all and the mean over items
of ``CE_i`` is ``CE(N)``); ``spread = 0`` gives the paper's identical items. Item i's per-token accuracy is
``p_i(N) = exp(-CE_i(N))``.

* ``<prefix>generation``: L-token targets of single lowercase letters. Token t of item i is right when
  ``u[i, t] < p_i(N)``, with ``u`` shared by all models (correctness is nested across sizes; each model alone
  draws i.i.d. Bernoulli(p_i) tokens). A wrong token is a substitution by a digit, a character that never
  occurs in targets, so the Levenshtein distance over characters equals the number of wrong tokens exactly
  (also under case folding). ``target_logprobs`` are ``-CE_i(N)`` for every token of item i, so the item's
  token loss is ``CE_i(N)`` and the product of its token probabilities is ``p_i^L``, the probability that the
  item is exactly right.
* ``<prefix>choice``: K-way multiple choice, the correct index random per item. The correct choice has
  probability ``p_i(N)``; the rest ``1 - p_i`` is split over the K - 1 others by a flat Dirichlet drawn per
  item (shared by all models). ``choice_logliks`` are the logs of that distribution, so the softmax recovers
  it. The grade is 1 when ``p_i > (1 - p_i) * max(D_i)``; its expectation is in :func:`mirage_curves`.

"True emergence" (``jump_at``, ``jump_factor``): every model at or above ``jump_at`` parameters has its
cross-entropy divided by ``jump_factor``, so the per-token loss itself drops in one step and every metric,
continuous ones included, jumps there. Closed forms with spread are expectations over the item distribution,
computed by Gauss-Hermite quadrature.
"""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import numpy as np
import polars as pl

from analysis.errors import InputError
from analysis.output import write_atomically
from analysis.schema import (
    CHOICE_LOGLIKS,
    CORRECT_CHOICE,
    DTYPES,
    FAMILY,
    ITEM,
    MODEL,
    PARAMS,
    PREDICTION,
    TARGET,
    TARGET_LOGPROBS,
    TASK,
)

TARGET_ALPHABET = 26  # targets use 'a'..'z'
WRONG_ALPHABET = 10  # wrong tokens use '0'..'9', never equal to a target token
DEFAULT_SPREAD = 0.5  # log-sd of item difficulty: the hardest of 1000 items ~ 5x the mean cross-entropy
_QUADRATURE_NODES = 64
COLUMNS: tuple[str, ...] = (
    FAMILY,
    MODEL,
    TASK,
    PARAMS,
    ITEM,
    TARGET,
    PREDICTION,
    TARGET_LOGPROBS,
    CHOICE_LOGLIKS,
    CORRECT_CHOICE,
)


def token_loss(
    c: float, alpha: float, params: object, jump_at: float | None = None, jump_factor: float = 1.0
) -> np.ndarray:
    """Per-token cross-entropy ``(N / c) ** alpha``, divided by ``jump_factor`` from ``jump_at`` on."""
    sizes = np.asarray(params, dtype=np.float64)
    ce = (sizes / c) ** alpha
    if jump_at is not None:
        ce = np.where(sizes >= jump_at, ce / jump_factor, ce)
    return ce


def size_name(params: float) -> str:
    """A readable model name for a parameter count: 1e7 -> '10M', 3.16e9 -> '3.2B'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if params >= scale:
            return f"{params / scale:.3g}{suffix}"
    return f"{params:.3g}"


def _validate(
    c: float,
    alpha: float,
    params: object,
    length: int,
    choices: int,
    items: int,
    spread: float = 0.0,
    jump_at: float | None = None,
    jump_factor: float = 1.0,
) -> np.ndarray:
    sizes = np.asarray(params, dtype=np.float64).ravel()
    if not (np.isfinite(c) and c > 0):
        raise InputError(f"--c must be a positive number, got {c}")
    if not np.isfinite(alpha):
        raise InputError(f"--alpha must be a finite number (negative: loss falls with size), got {alpha}")
    if sizes.size == 0 or not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise InputError("--params must be a comma-separated list of positive sizes such as 1e7,1e8,1e9")
    if len({size_name(s) for s in sizes}) != sizes.size:
        raise InputError("--params has repeated sizes; give each model size once")
    if length < 1:
        raise InputError(f"--length must be at least 1 token, got {length}")
    if choices < 2:
        raise InputError(f"--choices must be at least 2, got {choices}")
    if items < 1:
        raise InputError(f"--items must be at least 1, got {items}")
    if not (np.isfinite(spread) and 0 <= spread <= 5):
        raise InputError(f"--spread (item difficulty, log-sd) must be between 0 and 5, got {spread}")
    if jump_at is not None and not (np.isfinite(jump_at) and jump_at > 0):
        raise InputError(f"--jump-at must be a positive model size, got {jump_at}")
    if not (np.isfinite(jump_factor) and jump_factor > 0):
        raise InputError(f"--jump-factor must be a positive number, got {jump_factor}")
    return sizes


def item_scales(rng: np.random.Generator, items: int, spread: float) -> np.ndarray:
    """Per-item cross-entropy multipliers ``exp(spread z - spread^2 / 2)``: log-normal with mean 1."""
    return np.exp(spread * rng.standard_normal(items) - spread**2 / 2.0)


def simulate(
    c: float,
    alpha: float,
    params: object,
    length: int,
    choices: int,
    items: int,
    seed: int,
    family: str = "simulated",
    task_prefix: str = "",
    spread: float = 0.0,
    jump_at: float | None = None,
    jump_factor: float = 1.0,
) -> pl.DataFrame:
    """Canonical per-sample rows for every size in ``params``: a generation task and a K-way choice task."""
    sizes = _validate(c, alpha, params, length, choices, items, spread, jump_at, jump_factor)
    rng = np.random.default_rng(seed)
    ce = token_loss(c, alpha, sizes, jump_at, jump_factor)
    names = [size_name(s) for s in sizes]

    # generation: shared per-token difficulty u, targets, the digit each wrong token becomes, item difficulty
    target_codes = rng.integers(0, TARGET_ALPHABET, size=(items, length))
    difficulty = rng.random((items, length))
    wrong_codes = rng.integers(0, WRONG_ALPHABET, size=(items, length))
    scale = item_scales(rng, items, spread)
    targets = _strings(target_codes + ord("a"))
    generation = []
    for name, size, ce_model in zip(names, sizes, ce, strict=True):
        ce_items = ce_model * scale
        right = difficulty < np.exp(-ce_items)[:, None]
        predicted = np.where(right, target_codes + ord("a"), wrong_codes + ord("0"))
        generation.append(
            pl.DataFrame(
                {
                    MODEL: name,
                    PARAMS: size,
                    ITEM: [f"g{i:05d}" for i in range(items)],
                    TARGET: targets,
                    PREDICTION: _strings(predicted),
                    TARGET_LOGPROBS: np.repeat(-ce_items[:, None], length, axis=1),
                }
            ).with_columns(pl.lit(f"{task_prefix}generation").alias(TASK))
        )

    # multiple choice: correct index, distractor shares and difficulty per item, shared by all models
    correct = rng.integers(0, choices, size=items)
    shares = rng.dirichlet(np.ones(choices - 1), size=items)
    choice_scale = item_scales(rng, items, spread)
    is_correct = np.arange(choices)[None, :] == correct[:, None]
    choice = []
    for name, size, ce_model in zip(names, sizes, ce, strict=True):
        ce_items = ce_model * choice_scale
        with np.errstate(divide="ignore"):
            log_rest = np.log(-np.expm1(-ce_items))  # log(1 - p_i); -inf when p_i = 1
            others = log_rest[:, None] + np.log(shares)
        logliks = np.empty((items, choices))
        logliks[is_correct] = -ce_items
        logliks[~is_correct] = others.ravel()
        choice.append(
            pl.DataFrame(
                {
                    MODEL: name,
                    PARAMS: size,
                    ITEM: [f"c{i:05d}" for i in range(items)],
                    CHOICE_LOGLIKS: logliks,
                    CORRECT_CHOICE: correct,
                }
            ).with_columns(pl.lit(f"{task_prefix}choice").alias(TASK))
        )

    frame = pl.concat([*generation, *choice], how="diagonal_relaxed").with_columns(
        pl.lit(family).alias(FAMILY)
    )
    return frame.select(pl.col(column).cast(DTYPES[column]) for column in COLUMNS)


def _strings(codes: np.ndarray) -> list[str]:
    """Rows of character codes -> one string per row."""
    width = codes.shape[1]
    return np.ascontiguousarray(codes, dtype=np.uint8).view(f"S{width}").ravel().astype(str).tolist()


def mc_grade_probability(p: object, choices: int) -> np.ndarray:
    """P(correct choice has the most mass) when 1 - p is split over K - 1 others by a flat Dirichlet.

    The max of m = K - 1 flat Dirichlet shares has ``P(max <= x) = sum_j (-1)^j C(m, j) (1 - j x)_+^(m - 1)``;
    the grade is 1 when ``max < p / (1 - p)``.
    """
    p_arr = np.asarray(p, dtype=np.float64)
    m = choices - 1
    with np.errstate(divide="ignore"):
        x = np.where(p_arr < 1.0, p_arr / (1.0 - p_arr), np.inf)
    if m == 1:
        return (x > 1.0).astype(np.float64)
    total = np.zeros_like(x)
    for j in range(m + 1):
        total += (-1) ** j * comb(m, j) * np.clip(1.0 - j * np.minimum(x, 1.0), 0.0, None) ** (m - 1)
    return np.where(x >= 1.0, 1.0, np.clip(total, 0.0, 1.0))


def _over_items(function: object, ce: np.ndarray, spread: float) -> np.ndarray:
    """E over items of ``function(CE * s)`` at each CE, s log-normal(-spread^2/2, spread): Gauss-Hermite."""
    if spread == 0:
        return function(ce)  # type: ignore[operator]
    nodes, weights = np.polynomial.hermite_e.hermegauss(_QUADRATURE_NODES)
    scales = np.exp(spread * nodes - spread**2 / 2.0)
    values = function(ce[:, None] * scales[None, :])  # type: ignore[operator]
    return values @ (weights / weights.sum())


def mirage_curves(
    c: float,
    alpha: float,
    params: object,
    length: int,
    choices: int,
    spread: float = 0.0,
    jump_at: float | None = None,
    jump_factor: float = 1.0,
) -> dict[str, np.ndarray]:
    """Closed-form (expected) metric curves of the simulator at each size, averaged over item difficulty.

    ``p`` is the per-token accuracy of an item of average difficulty (``exp(-CE)``); ``token_prob`` and
    ``choice_prob`` the mean over items of ``p_i``; ``exact_match`` the mean of ``p_i^L``. ``brier`` is the
    paper's binary ``(1 - p)^2`` at average difficulty; ``brier_multiclass`` the expected multiclass score of
    the simulator's choice task, ``E (1 - p_i)^2 (1 + 2 / K)`` (flat Dirichlet: E sum D_j^2 = 2 / K).
    ``mc_grade_floored`` is the paper's figure: the grade floored at chance 1/K.
    """
    sizes = _validate(c, alpha, params, length, choices, 1, spread, jump_at, jump_factor)
    ce = token_loss(c, alpha, sizes, jump_at, jump_factor)
    p = np.exp(-ce)
    mean_p = _over_items(lambda x: np.exp(-x), ce, spread)
    grade = _over_items(lambda x: mc_grade_probability(np.exp(-x), choices), ce, spread)
    miss_squared = _over_items(lambda x: (-np.expm1(-x)) ** 2, ce, spread)
    return {
        "params": sizes,
        "token_loss": ce,
        "p": p,
        "token_prob": mean_p,
        "exact_match": _over_items(lambda x: np.exp(-length * x), ce, spread),
        "token_edit_distance": length * (1.0 - mean_p),
        "neg_token_edit_distance": -length * (1.0 - mean_p),
        "mc_grade": grade,
        "mc_grade_floored": np.maximum(grade, 1.0 / choices),
        "choice_prob": mean_p,
        "brier": (1.0 - p) ** 2,
        "neg_brier": -((1.0 - p) ** 2),
        "brier_multiclass": miss_squared * (1.0 + 2.0 / choices),
    }


def measured_accuracy(accuracy: object, items: int, seed: int) -> np.ndarray:
    """What an n-item test set reads for each true accuracy: Binomial(n, acc) / n, seeded (the 1/n floor)."""
    rng = np.random.default_rng(seed)
    return rng.binomial(items, np.clip(np.asarray(accuracy, dtype=float), 0.0, 1.0)) / items


def write_samples(frame: pl.DataFrame, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write rows as Parquet, CSV (list cells as JSON arrays) or JSON Lines, chosen by the file extension.

    The file appears whole or not at all (``analysis.output.write_atomically``); with ``overwrite=False`` an
    existing file is never replaced. A failed write (disk full, missing or read-only folder) is an
    ``OutputError`` line and leaves nothing behind.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix in (".parquet", ".pq"):
        write = frame.write_parquet
    elif suffix == ".csv":
        write = frame.with_columns(
            ("[" + pl.col(name).list.eval(pl.element().cast(pl.Utf8)).list.join(", ") + "]").alias(name)
            if dtype == pl.List(pl.Float64)
            else pl.col(name).map_elements(_json_list, return_dtype=pl.Utf8).alias(name)
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.List)
        ).write_csv
    elif suffix in (".jsonl", ".ndjson"):
        write = frame.write_ndjson
    else:
        raise InputError(
            f"{out}: unknown output format {suffix!r}; use .parquet, .csv or .jsonl", path=str(out)
        )
    return write_atomically(out, write, overwrite=overwrite)


def _json_list(values: pl.Series) -> str:
    return json.dumps(values.to_list())
