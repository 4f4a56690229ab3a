"""The mirage model of Schaeffer et al. (SCIENCE.md section 2) as per-sample rows and closed-form curves.

Per-token cross-entropy ``CE(N) = (N / c) ** alpha`` and per-token accuracy ``p(N) = exp(-CE(N))`` drive two
tasks per model:

* ``<prefix>generation``: L-token targets of single lowercase letters. Token t of item i is right when
  ``u[i, t] < p(N)``, with ``u`` shared by all models (an item's tokens are equally hard for every size, so
  correctness is nested across sizes; each model alone is still i.i.d. Bernoulli(p)). A wrong token is a
  substitution by a digit, a character that never occurs in targets, so the Levenshtein distance over
  characters equals the number of wrong tokens exactly (also under case folding). ``target_logprobs`` are
  ``-CE(N)`` for every token, so the mean token loss is CE(N) exactly; with ``logprob_jitter = s > 0`` item
  i's tokens get ``-CE(N) * exp(s z_i - s^2 / 2)`` (z_i standard normal, shared by all models), so the
  per-item loss varies while its expectation stays CE(N). Correctness is drawn from p(N) either way.
* ``<prefix>choice``: K-way multiple choice, the correct index random per item. The correct choice has
  probability p(N); the rest ``1 - p`` is split over the K - 1 others by a flat Dirichlet drawn per item
  (shared by all models). ``choice_logliks`` are the logs of that distribution, so the softmax recovers it.
  The grade is 1 when ``p > (1 - p) * max(D)``; its expectation is in :func:`mirage_curves`.
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


def token_loss(c: float, alpha: float, params: object) -> np.ndarray:
    """Per-token cross-entropy ``(N / c) ** alpha``."""
    return (np.asarray(params, dtype=np.float64) / c) ** alpha


def size_name(params: float) -> str:
    """A readable model name for a parameter count: 1e7 -> '10M', 3.16e9 -> '3.2B'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if params >= scale:
            return f"{params / scale:.3g}{suffix}"
    return f"{params:.3g}"


def _validate(
    c: float, alpha: float, params: object, length: int, choices: int, items: int, jitter: float = 0.0
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
    if not (np.isfinite(jitter) and jitter >= 0):
        raise InputError(f"log-prob jitter must be a non-negative number, got {jitter}")
    return sizes


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
    logprob_jitter: float = 0.0,
) -> pl.DataFrame:
    """Canonical per-sample rows for every size in ``params``: a generation task and a K-way choice task."""
    sizes = _validate(c, alpha, params, length, choices, items, logprob_jitter)
    rng = np.random.default_rng(seed)
    ce = token_loss(c, alpha, sizes)
    p = np.exp(-ce)
    names = [size_name(s) for s in sizes]

    # generation: shared per-token difficulty u, targets, and the digit each wrong token becomes
    target_codes = rng.integers(0, TARGET_ALPHABET, size=(items, length))
    difficulty = rng.random((items, length))
    wrong_codes = rng.integers(0, WRONG_ALPHABET, size=(items, length))
    targets = _strings(target_codes + ord("a"))
    loss_scale = np.exp(logprob_jitter * rng.standard_normal(items) - logprob_jitter**2 / 2.0)
    generation = []
    for name, size, p_model, ce_model in zip(names, sizes, p, ce, strict=True):
        right = difficulty < p_model
        predicted = np.where(right, target_codes + ord("a"), wrong_codes + ord("0"))
        generation.append(
            pl.DataFrame(
                {
                    MODEL: name,
                    PARAMS: size,
                    ITEM: [f"g{i:05d}" for i in range(items)],
                    TARGET: targets,
                    PREDICTION: _strings(predicted),
                    TARGET_LOGPROBS: np.repeat((-ce_model * loss_scale)[:, None], length, axis=1),
                }
            ).with_columns(pl.lit(f"{task_prefix}generation").alias(TASK))
        )

    # multiple choice: correct index and distractor shares per item, shared by all models
    correct = rng.integers(0, choices, size=items)
    shares = rng.dirichlet(np.ones(choices - 1), size=items)
    choice = []
    for name, size, ce_model in zip(names, sizes, ce, strict=True):
        log_rest = np.log(-np.expm1(-ce_model)) if ce_model > 0 else -np.inf
        with np.errstate(divide="ignore"):
            others = log_rest + np.log(shares)
        logliks = np.empty((items, choices))
        is_correct = np.arange(choices)[None, :] == correct[:, None]
        logliks[is_correct] = -ce_model
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


def mirage_curves(c: float, alpha: float, params: object, length: int, choices: int) -> dict[str, np.ndarray]:
    """Closed-form metric curves of the mirage model at each size (for the app's mirage lab).

    ``brier`` is the paper's binary ``(1 - p)^2``; ``brier_multiclass`` the expected multiclass score of the
    simulator's choice task, ``(1 - p)^2 (1 + 2 / K)`` (flat Dirichlet: E sum D_j^2 = 2 / K).
    ``mc_grade_floored`` is the paper's figure: the grade floored at chance 1/K.
    """
    sizes = _validate(c, alpha, params, length, choices, 1)
    ce = token_loss(c, alpha, sizes)
    p = np.exp(-ce)
    grade = mc_grade_probability(p, choices)
    return {
        "params": sizes,
        "token_loss": ce,
        "p": p,
        "exact_match": p**length,
        "token_edit_distance": length * (1.0 - p),
        "neg_token_edit_distance": -length * (1.0 - p),
        "mc_grade": grade,
        "mc_grade_floored": np.maximum(grade, 1.0 / choices),
        "choice_prob": p,
        "brier": (1.0 - p) ** 2,
        "neg_brier": -((1.0 - p) ** 2),
        "brier_multiclass": (1.0 - p) ** 2 * (1.0 + 2.0 / choices),
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
