"""Metrics from per-sample outputs: a registry of ``MetricSpec`` and ``score_samples``.

Several metrics come from the same rows (SCIENCE.md section 3), so a jump under a discontinuous metric can be
checked against a continuous one on the same outputs. Conventions stated once here:

* text is compared after ``strip()`` and, with ``MetricOptions.case_fold``, ``lower()``;
* ``token_edit_distance`` tokenises by characters by default, by whitespace with ``tokenizer="whitespace"``,
  and uses the given ``target_tokens``/``prediction_tokens`` lists when a row has both;
* ``mc_grade`` takes the first maximum (numpy ``argmax``): a tie counts as right only when the correct choice
  is the first of the tied choices;
* ``brier`` is the multiclass sum over the K choices, NOT divided by K: range [0, 2], and the uninformed
  uniform guess scores 1 - 1/K.
A per-sample column in the file with the same name as a computed metric (e.g. lm-eval's own ``exact_match``)
wins, and the computed one is listed in ``skipped``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

from analysis import schema
from analysis.levenshtein import TextBytes, byte_distances, may_strip, text_bytes
from analysis.options import MetricOptions
from analysis.row_hashes import column_hashes, mixed_hash
from analysis.schema import MetricSpec, ResultTable, ScoredSamples

EXACT_MATCH = "exact_match"
TOKEN_EDIT_DISTANCE = "token_edit_distance"
TOKEN_LOSS = "token_loss"
TOKEN_PROB = "token_prob"
MC_GRADE = "mc_grade"
CHOICE_PROB = "choice_prob"
BRIER = "brier"

METRICS: dict[str, MetricSpec] = {
    EXACT_MATCH: MetricSpec(
        EXACT_MATCH,
        +1,
        "discontinuous",
        binary=True,
        description="1 when prediction equals target after strip() (and lower() with case folding), else 0",
    ),
    TOKEN_EDIT_DISTANCE: MetricSpec(
        TOKEN_EDIT_DISTANCE,
        -1,
        "continuous",
        description="Levenshtein distance between target and prediction tokens (characters by default, "
        "whitespace tokens, or the given token lists), after the exact-match normalisation",
    ),
    TOKEN_LOSS: MetricSpec(
        TOKEN_LOSS,
        -1,
        "continuous",
        description="per-token cross-entropy of the target: minus the mean of its token log-probabilities",
    ),
    TOKEN_PROB: MetricSpec(
        TOKEN_PROB,
        +1,
        "continuous",
        description="exp(-token_loss): the geometric-mean probability of a target token",
    ),
    MC_GRADE: MetricSpec(
        MC_GRADE,
        +1,
        "discontinuous",
        binary=True,
        description="1 when the correct choice has the highest log-likelihood (first maximum wins ties), "
        "else 0; chance 1/K",
    ),
    CHOICE_PROB: MetricSpec(
        CHOICE_PROB,
        +1,
        "continuous",
        description="softmax probability of the correct choice over the choices' log-likelihoods; chance 1/K",
    ),
    BRIER: MetricSpec(
        BRIER,
        -1,
        "continuous",
        description="sum over the K choices of (q_k - 1[k = correct])^2 for the softmax q, not divided by K: "
        "range [0, 2]; a uniform guess scores 1 - 1/K",
    ),
}

_PARTNERS: dict[str, tuple[str, ...]] = {
    EXACT_MATCH: (TOKEN_EDIT_DISTANCE, TOKEN_LOSS, TOKEN_PROB),
    MC_GRADE: (BRIER, CHOICE_PROB),
    "acc": (BRIER, CHOICE_PROB),
    "acc_norm": (BRIER, CHOICE_PROB),
}

_REQUIRES: dict[str, tuple[str, ...]] = {
    EXACT_MATCH: (schema.TARGET, schema.PREDICTION),
    TOKEN_EDIT_DISTANCE: (schema.TARGET, schema.PREDICTION),
    TOKEN_LOSS: (schema.TARGET_LOGPROBS,),
    TOKEN_PROB: (schema.TARGET_LOGPROBS,),
    MC_GRADE: (schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE),
    CHOICE_PROB: (schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE),
    BRIER: (schema.CHOICE_LOGLIKS, schema.CORRECT_CHOICE),
}

DEFAULT_OPTIONS = MetricOptions()


def _computable(metric: str, columns: set[str]) -> bool:
    if metric == TOKEN_EDIT_DISTANCE and {schema.TARGET_TOKENS, schema.PREDICTION_TOKENS} <= columns:
        return True
    return columns.issuperset(_REQUIRES[metric])


_LOWER_IS_BETTER = ("loss", "distance", "ppl", "perplexity", "brier", "error", "bpb", "bits_per", "ter")


def partners(metric: str) -> tuple[str, ...]:
    """Every continuous metric from the same outputs as ``metric``, best first (empty when it has none)."""
    return _PARTNERS.get(metric, ())


def partner(metric: str, available: Iterable[str] | None = None) -> str | None:
    """The continuous metric from the same outputs that the mirage check compares ``metric`` with.

    ``exact_match -> token_edit_distance``, ``mc_grade -> brier`` (then ``choice_prob``); with ``available``,
    the first partner that was actually computed. None when ``metric`` has no known partner.
    """
    candidates = partners(metric)
    if available is None:
        return candidates[0] if candidates else None
    have = set(available)
    return next((c for c in candidates if c in have), None)


def direction_from_name(name: str) -> int:
    """-1 (lower is better) for names that say loss, distance, perplexity, brier or error; else +1."""
    lowered = name.lower()
    return -1 if any(word in lowered for word in _LOWER_IS_BETTER) else +1


# Aggregate means never show their 0/1 nature: these names are taken as 0/1 metrics when no values are given.
_BINARY_NAMES = frozenset(
    {"acc", "acc_norm", "exact_match", "em", "mc_grade", "accuracy", "multiple_choice_grade"}
)


def spec_for(name: str, values: pl.Series | None = None) -> MetricSpec:
    """The spec of a metric id: the registry's for known ids, else one inferred from the name and values.

    An unknown metric is discontinuous and binary when all its (non-null) ``values`` are 0 or 1 (pre-scored
    per-sample columns) or, without values, when its name is a known 0/1 metric (aggregate rows); else
    continuous. Lower is better when its name says so (see ``direction_from_name``).
    """
    if name in METRICS:
        return METRICS[name]
    if values is None:
        binary = name.lower() in _BINARY_NAMES
        description = "guessed from name"
    else:
        present = values.drop_nulls().cast(pl.Float64)
        binary = len(present) > 0 and bool(present.is_in([0.0, 1.0]).all())
        description = f"pre-scored column from the file ({'0/1 values' if binary else 'numeric values'})"
    kind = "discontinuous" if binary else "continuous"
    return MetricSpec(name, direction_from_name(name), kind, binary=binary, description=description)


def sample_metric_ids(columns: Sequence[str], prescored: Sequence[str] = ()) -> list[str]:
    """Metric ids that per-sample rows with these columns give: computable ones, then pre-scored columns."""
    have = set(columns)
    computed = [m for m in _REQUIRES if _computable(m, have) and m not in prescored]
    return [*computed, *prescored]


# ---------------------------------------------------------------- computations


def _normalised(column: str, options: MetricOptions) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return text.str.to_lowercase() if options.case_fold else text


def _as_code_strings(left: pl.Series, right: pl.Series) -> tuple[list[str], list[str]] | None:
    """Token lists -> strings with one code point per distinct token, so Levenshtein runs on fast strings.

    Equal tokens get equal code points (one categorical over both sides); None if there are too many distinct
    tokens to fit in Unicode, so the caller falls back to Python lists of tokens.
    """
    lengths = [left.list.len().fill_null(0).to_numpy(), right.list.len().fill_null(0).to_numpy()]
    both = pl.concat([left, right]).list.eval(pl.element().fill_null(""))
    tokens = both.explode(empty_as_null=False, keep_nulls=False)
    limit = 0x10FFFF - 0x900  # code points available once the surrogate block is skipped
    codes = tokens.cast(pl.Categorical).to_physical().to_numpy().astype(np.int64)  # hashed: fast
    if codes.size and codes.max() >= limit:  # the process-wide category cache grew large: use dense ranks
        codes = tokens.rank("dense").to_numpy().astype(np.int64)
        if codes.max() >= limit:
            return None
    points = codes + 0x20
    points = np.where(points >= 0xD800, points + 0x800, points).astype("<u4")  # skip the surrogate block
    text = points.tobytes().decode("utf-32-le")
    bounds = np.concatenate([[0], np.cumsum(np.concatenate(lengths).astype(np.int64))]).astype(np.int64)
    pieces = [text[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]
    return pieces[: len(left)], pieces[len(left) :]


@dataclass(frozen=True)
class _Texts:
    """Target and prediction after the exact-match normalisation, and the rows that have both.

    ``pair_bytes`` holds those rows' texts as bytes when they were read for the strip check (else None).
    """

    target: pl.Series
    prediction: pl.Series
    both: pl.Series  # Boolean, every row
    pair_bytes: tuple[TextBytes, TextBytes] | None

    def pairs(self) -> tuple[pl.Series, pl.Series]:
        """The normalised texts of the rows that have both (no nulls)."""
        return self.target.filter(self.both), self.prediction.filter(self.both)


def _texts(frame: pl.DataFrame, options: MetricOptions) -> _Texts | None:
    """The normalised texts, or None without both text columns.

    ``strip()`` allocates a new column for millions of texts; when no text starts or ends with whitespace
    (checked on the bytes, which the edit distance reuses) it would change nothing, so it is skipped.
    """
    if not {schema.TARGET, schema.PREDICTION} <= set(frame.columns):
        return None
    target, prediction = frame[schema.TARGET], frame[schema.PREDICTION]
    both = target.is_not_null() & prediction.is_not_null()
    if not options.case_fold:
        pairs = int(both.sum())
        aligned = pairs == len(target) - target.null_count() == len(prediction) - prediction.null_count()
        sides = (target, prediction) if aligned else (target.filter(both), prediction.filter(both))
        with ThreadPoolExecutor(2) as pool:
            left, right = pool.map(text_bytes, sides)
        if not (may_strip(left) or may_strip(right)):
            return _Texts(target, prediction, both, (left, right))
    normalised = frame.select(_normalised(schema.TARGET, options), _normalised(schema.PREDICTION, options))
    return _Texts(normalised[schema.TARGET], normalised[schema.PREDICTION], both, None)


def token_edit_distances(frame: pl.DataFrame, options: MetricOptions = DEFAULT_OPTIONS) -> pl.Series:
    """Levenshtein distance per row over tokens (null without a pair of texts or token lists).

    Rows with token lists use them; text pairs of short ASCII texts are solved by the batched DP of
    ``analysis.levenshtein``, the rest through rapidfuzz (equal texts score 0 without a DP, and with
    whitespace tokens each distinct pair is solved once).
    """
    return _edit_distances(frame, _texts(frame, options), options)


def _edit_distances(frame: pl.DataFrame, texts: _Texts | None, options: MetricOptions) -> pl.Series:
    has_pairs = texts is not None and bool(texts.both.any())
    distances = _text_distances(texts, options.tokenizer) if texts is not None and has_pairs else None
    if distances is not None and len(distances) == len(frame):  # every row has both texts
        out = distances
    else:
        out = np.full(len(frame), np.nan)
        if distances is not None and texts is not None:
            _spread(distances, texts.both.to_numpy(), out)
    if {schema.TARGET_TOKENS, schema.PREDICTION_TOKENS} <= set(frame.columns):
        listed = frame.select(
            pl.col(schema.TARGET_TOKENS).is_not_null() & pl.col(schema.PREDICTION_TOKENS).is_not_null()
        ).to_series()
        if listed.any():  # given token lists take precedence over the texts
            lists = frame.select(schema.TARGET_TOKENS, schema.PREDICTION_TOKENS).filter(listed)
            _fill(out, listed.arg_true(), lists[schema.TARGET_TOKENS], lists[schema.PREDICTION_TOKENS])
    return pl.Series(TOKEN_EDIT_DISTANCE, out).fill_nan(None)


def _spread(values: np.ndarray, present: np.ndarray, out: np.ndarray) -> None:
    """Write ``values`` into the rows of ``out`` where ``present`` is True, run by run when runs are few."""
    edges = np.flatnonzero(present[1:] != present[:-1]) + 1
    if len(edges) > _MANY_RUNS:
        out[present] = values
        return
    done = 0
    for start, stop in itertools.pairwise([0, *edges.tolist(), len(present)]):
        if stop > start and present[start]:
            out[start:stop] = values[done : done + stop - start]
            done += stop - start


def _text_distances(texts: _Texts, tokenizer: str) -> np.ndarray:
    """Distances of the rows that have both texts, in row order: the batched DP, then the general path."""
    pair_bytes = texts.pair_bytes
    if pair_bytes is None:
        with ThreadPoolExecutor(2) as pool:
            left_bytes, right_bytes = pool.map(text_bytes, texts.pairs())
    else:
        left_bytes, right_bytes = pair_bytes
    batched = byte_distances(left_bytes, right_bytes, tokenizer)
    if batched is not None and batched[1].all():
        return batched[0]
    left, right = texts.pairs()
    if batched is None:
        return _general_distances(left, right, tokenizer)
    distances, solved = batched
    rest = pl.Series(np.flatnonzero(~solved))
    distances[rest.to_numpy()] = _general_distances(left.gather(rest), right.gather(rest), tokenizer)
    return distances


def _general_distances(left: pl.Series, right: pl.Series, tokenizer: str) -> np.ndarray:
    """Distances of text pairs through rapidfuzz: equal texts are 0, the others solved per distinct pair."""
    out = np.zeros(len(left))
    differ = (left != right).to_numpy()
    if differ.any():
        chosen = pl.Series(np.flatnonzero(differ))
        out[differ] = _distinct_pair_distances(left.gather(chosen), right.gather(chosen), tokenizer)
    return out


def _distinct_pairs(left: pl.Series, right: pl.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """One representative row per distinct (left, right) pair, and each row's index into them.

    Rows are grouped by one mixed 64-bit hash of both strings and every row is checked against its
    representative with a second, independently seeded 64-bit hash: two different pairs would have to
    collide in both (about 2^-128 per pair) to be merged. None when a group fails the check (the caller then
    solves every row).
    """
    both = pl.DataFrame({"l": left, "r": right})
    key = mixed_hash(column_hashes(both, ["l", "r"]))
    order = pl.Series(key).arg_sort().to_numpy()  # polars sorts in parallel
    ordered = key[order]
    starts = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    inverse = np.empty(len(key), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    representatives = order[starts]
    if len(representatives) == len(key):
        return representatives, inverse
    check = mixed_hash(column_hashes(both, ["l", "r"], seed=0x9E3779B97F4A7C15))
    return (representatives, inverse) if np.array_equal(check[representatives][inverse], check) else None


def _distinct_pair_distances(left: pl.Series, right: pl.Series, tokenizer: str) -> np.ndarray:
    """Distances of non-null text pairs; with whitespace tokens each distinct pair is solved once.

    Logs repeat pairs a lot, but grouping costs a sort and two string gathers: for characters it was measured
    slower than solving every pair, while for whitespace tokens (tokenising dominates) it halves the time.
    """
    grouped = _distinct_pairs(left, right) if tokenizer == "whitespace" and len(left) > 1 else None
    if grouped is not None:
        representatives, inverse = grouped
        if len(representatives) < len(left):
            chosen = pl.Series(representatives)
            return _pair_distances(left.gather(chosen), right.gather(chosen), tokenizer)[inverse]
    return _pair_distances(left, right, tokenizer)


def _pair_distances(left: pl.Series, right: pl.Series, tokenizer: str) -> np.ndarray:
    """Distances of non-null text pairs through rapidfuzz (whitespace tokens coded one code point each)."""
    out = np.full(len(left), np.nan)
    if tokenizer == "whitespace":
        split = pl.DataFrame({"t": left, "p": right}).select(
            pl.col("t").str.extract_all(r"\S+"), pl.col("p").str.extract_all(r"\S+")
        )
        _fill(out, pl.Series(np.arange(len(left))), split["t"], split["p"])
    else:
        out[:] = cpdist(left.to_list(), right.to_list(), scorer=Levenshtein.distance, workers=-1)
    return out


def _fill(out: np.ndarray, index: pl.Series, left: pl.Series, right: pl.Series) -> None:
    coded = _as_code_strings(left, right)
    if coded is None:
        a, b = left.to_list(), right.to_list()
    else:
        a, b = coded
    out[index.to_numpy()] = cpdist(a, b, scorer=Levenshtein.distance, workers=-1)


_FEW_CHOICES = 8  # below this, numpy sums a row left to right, so a column loop gives the same bits
_BLOCK = 1 << 14  # rows per block of the choice metrics: a block's temporaries stay in cache


def _few_choices_block(matrix: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """``_choice_block`` for rows with the same K < 8 choices, a (rows, K) matrix: a few passes per choice.

    numpy reductions along a short last axis, masked writes and gathers are each several times slower than
    an elementwise pass, so everything is elementwise over the columns of a transposed (contiguous) copy:
    the first maximum is the number of leading running maxima below the row max, and the correct choice's
    weight is picked as the sum of ``weight_k * [correct == k]``. The sums run left to right as numpy's own
    do for fewer than 8 terms and every formula is ``_choice_block``'s: the values are bit-for-bit the same.
    """
    rows, choices = matrix.shape
    columns = [matrix[:, k] for k in range(choices)]
    running = np.empty((choices, rows))  # running[k]: max of choices 0..k (NaN propagates, as in ndarray.max)
    running[0] = columns[0]
    for k in range(1, choices):
        np.maximum(running[k - 1], columns[k], out=running[k])
    top = running[-1]
    usable = np.isfinite(top)
    usable &= correct >= 0
    usable &= correct < choices
    first = np.zeros(rows, dtype=np.int8)  # index of the first maximum (where usable)
    flag = np.empty(rows, dtype=bool)
    for k in range(choices - 1):
        first += np.less(running[k], top, out=flag)
    total, squares, picked = np.empty(rows), np.empty(rows), np.zeros(rows)
    weight, scratch = np.empty(rows), np.empty(rows)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k, column in enumerate(columns):
            np.exp(np.subtract(column, top, out=weight), out=weight)
            if k == 0:
                total[:] = weight
                np.multiply(weight, weight, out=squares)
            else:
                total += weight
                squares += np.multiply(weight, weight, out=scratch)
            picked += np.multiply(weight, np.equal(correct, k, out=flag), out=scratch)
        q_correct = picked / total
        brier = np.clip(squares / total**2 - 2 * q_correct + 1, 0.0, 2.0)
    grade = (first == correct).astype(np.float64)
    return tuple(np.where(usable, metric, np.nan) for metric in (grade, q_correct, brier))


def _softmax_parts(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row of a flattened ragged array: max, sum of exp(x - max), sum of exp(2(x - max)), first argmax.

    Equal lengths use a reshaped matrix; ragged rows use ``reduceat`` over offsets. Rows without choices get
    NaN max and argmax -1.
    """
    rows = len(lengths)
    if rows and lengths.min() == lengths.max() > 0:
        matrix = values.reshape(rows, int(lengths[0]))
        top = matrix.max(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            weights = np.exp(matrix - top[:, None])
        argmax = np.where(np.isnan(top), -1, matrix.argmax(axis=1))
        return top, weights.sum(axis=1), (weights * weights).sum(axis=1), argmax
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    nonempty = lengths > 0
    first = starts[nonempty]
    top, total, squares = (np.full(rows, np.nan) for _ in range(3))
    argmax = np.full(rows, -1, dtype=np.int64)
    if not first.size:
        return top, total, squares, argmax
    top[nonempty] = np.maximum.reduceat(values, first)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = values - np.repeat(top, lengths)
        weights = np.exp(shifted)
    total[nonempty] = np.add.reduceat(weights, first)
    squares[nonempty] = np.add.reduceat(weights * weights, first)
    local = np.arange(values.size, dtype=np.int64) - np.repeat(starts, lengths)
    argmax[nonempty] = np.minimum.reduceat(np.where(shifted == 0, local, np.iinfo(np.int64).max), first)
    return top, total, squares, argmax


def _choice_metrics(frame: pl.DataFrame) -> pl.DataFrame:
    """mc_grade, choice_prob and brier from choice log-likelihoods, vectorised and numerically stable.

    Everything is shifted by the row max before ``exp``. Rows with no choices, a missing or out-of-range
    correct index, or no finite log-likelihood give null. The frame is cut into zero-copy slices of rows that
    two threads read and score (polars and numpy release the GIL), each writing its own rows of the output.
    """
    logliks, correct = frame[schema.CHOICE_LOGLIKS], frame[schema.CORRECT_CHOICE]
    columns = _nan_where_absent(logliks.is_not_null().to_numpy(), 3)

    def solve(start: int) -> None:
        part = logliks.slice(start, _SLICE)
        has_choices = part.is_not_null()
        present = has_choices.arg_true().to_numpy().astype(np.int64) + start  # only rows with choices work
        if not len(present):
            return
        given = part.drop_nulls()
        values = given.explode(empty_as_null=False, keep_nulls=False).cast(pl.Float64).to_numpy()
        lengths = given.list.len().to_numpy().astype(np.int64)
        indices = correct.slice(start, _SLICE).filter(has_choices).fill_null(-1).cast(pl.Int64).to_numpy()
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for first in range(0, len(present), _BLOCK):
            rows = slice(first, first + _BLOCK)
            block_lengths = lengths[rows]
            block = values[bounds[first] : bounds[min(first + _BLOCK, len(present))]]
            width = int(block_lengths[0])
            if 0 < width < _FEW_CHOICES and block_lengths.min() == block_lengths.max():
                metrics = _few_choices_block(block.reshape(-1, width), indices[rows])
            else:
                metrics = _choice_block(block, block_lengths, indices[rows])
            where: np.ndarray | slice = present[rows]
            if where[-1] - where[0] == len(where) - 1:  # consecutive rows: a slice copies, no scatter
                where = slice(int(where[0]), int(where[-1]) + 1)
            for column, metric in zip(columns, metrics, strict=True):
                column[where] = metric

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(solve, range(0, len(frame), _SLICE)))
    return pl.DataFrame(
        [
            pl.Series(name, column, dtype=pl.Float64, nan_to_null=True)
            for name, column in zip((MC_GRADE, CHOICE_PROB, BRIER), columns, strict=True)
        ]
    )


_SLICE = 1 << 18  # rows read and scored by one task: a zero-copy slice, its exploded values a few MB


_MANY_RUNS = 10_000  # more runs of rows without choices than this: fill whole columns with NaN instead


def _nan_where_absent(present: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` float columns, NaN on the rows where ``present`` is False and unset on the others.

    Per-sample files keep a task's rows together, so the absent rows form a few runs: filling those alone
    writes half the memory of ``np.full`` (the blocks then write the present rows).
    """
    edges = np.flatnonzero(present[1:] != present[:-1]) + 1
    if len(edges) > _MANY_RUNS:
        return [np.full(len(present), np.nan) for _ in range(count)]
    columns = [np.empty(len(present)) for _ in range(count)]
    bounds = [0, *edges.tolist(), len(present)]
    for start, stop in itertools.pairwise(bounds):
        if stop > start and not present[start]:
            for column in columns:
                column[start:stop] = np.nan
    return columns


def _choice_block(values: np.ndarray, lengths: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """mc_grade, choice_prob and brier of consecutive rows (flat ``values``), NaN where unusable."""
    top, total, squares, argmax = _softmax_parts(values, lengths)
    usable = np.isfinite(top) & (correct >= 0) & (correct < lengths)
    offsets = np.cumsum(lengths) - lengths
    correct_ll = values[np.where(usable, offsets + correct, 0)] if values.size else np.zeros(len(lengths))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        q_correct = np.exp(correct_ll - top) / total
        brier = np.clip(squares / total**2 - 2 * q_correct + 1, 0.0, 2.0)
    grade = (argmax == correct).astype(np.float64)
    return tuple(np.where(usable, metric, np.nan) for metric in (grade, q_correct, brier))


def _chance(frame: pl.DataFrame, computed: Sequence[str]) -> dict[tuple[str, str], float]:
    """Per-task chance levels for the choice metrics: the mean over items of 1/K (brier: 1 - 1/K)."""
    if not {MC_GRADE, CHOICE_PROB, BRIER} & set(computed):
        return {}
    choices = pl.col(schema.CHOICE_LOGLIKS).list.len().cast(pl.Float64).alias("choices")
    per_task = (  # staged: rows without choices leave before the group-by (they add nothing to the mean)
        frame.lazy()
        .select(schema.TASK, choices)
        .filter(pl.col("choices").is_not_null())
        .group_by(schema.TASK)
        .agg((1.0 / pl.col("choices")).mean().alias("uniform"))
        .collect()
    )
    chance: dict[tuple[str, str], float] = {}
    for task, uniform in per_task.iter_rows():
        if uniform is None or not np.isfinite(uniform):
            continue
        chance[(task, MC_GRADE)] = uniform
        chance[(task, CHOICE_PROB)] = uniform
        chance[(task, BRIER)] = 1.0 - uniform
    return chance


def _text_metrics(
    samples: pl.DataFrame, options: MetricOptions, wanted: Sequence[str]
) -> dict[str, pl.Series]:
    """exact_match and token_edit_distance, from one read of the texts."""
    columns: dict[str, pl.Series] = {}
    if EXACT_MATCH not in wanted and TOKEN_EDIT_DISTANCE not in wanted:
        return columns
    texts = _texts(samples, options)  # shared by exact match and edit distance
    if EXACT_MATCH in wanted and texts is not None:
        columns[EXACT_MATCH] = (texts.target == texts.prediction).alias(EXACT_MATCH)
    if TOKEN_EDIT_DISTANCE in wanted:
        columns[TOKEN_EDIT_DISTANCE] = _edit_distances(samples, texts, options)
    return columns


def _loss_metrics(samples: pl.DataFrame) -> dict[str, pl.Series]:
    """token_loss (minus the mean target log-probability) and token_prob = exp(-token_loss)."""
    loss = (-samples[schema.TARGET_LOGPROBS].list.mean()).fill_nan(None)  # eager: a third of the CPU
    return {TOKEN_LOSS: loss.alias(TOKEN_LOSS), TOKEN_PROB: (-loss).exp().alias(TOKEN_PROB)}


def score_samples(table: ResultTable, options: MetricOptions = DEFAULT_OPTIONS) -> ScoredSamples:
    """Every metric the per-sample columns allow, one Float64 column each, beside identity + ``item``.

    ``skipped`` names each registry metric that could not be computed, or was left out by
    ``MetricOptions.only``, and why. Values keep their own units and orientation (an edit distance stays a
    distance).
    """
    if options.tokenizer not in ("chars", "whitespace"):
        raise ValueError(
            f"MetricOptions.tokenizer must be 'chars' or 'whitespace', not {options.tokenizer!r}"
        )
    samples = table.samples
    identity = [c for c in (*schema.IDENTITY, *schema.SCALES, schema.ITEM) if c in samples.columns]
    have = set(samples.columns)
    prescored = [c for c in table.prescored if c in have]
    columns: dict[str, pl.Series] = {}
    skipped: list[tuple[str, str]] = []
    for metric, needs in _REQUIRES.items():
        missing = [] if _computable(metric, have) else [c for c in needs if c not in have]
        if metric in prescored:
            skipped.append((metric, f"the file gives its own per-sample '{metric}' column, used instead"))
        elif missing:
            skipped.append((metric, f"needs column(s) {', '.join(missing)}"))
    wanted = [m for m in _REQUIRES if m not in prescored and _computable(m, have)]
    if options.only is not None:
        skipped += [(m, "not requested (--metric)") for m in wanted if m not in options.only]
        wanted = [m for m in wanted if m in options.only]
    with ThreadPoolExecutor(3) as pool:  # independent groups overlap (polars and numpy release the GIL)
        text_metrics = pool.submit(_text_metrics, samples, options, wanted)
        loss_metrics = pool.submit(_loss_metrics, samples) if {TOKEN_LOSS, TOKEN_PROB} & set(wanted) else None
        chance = pool.submit(_chance, samples, [*wanted, *prescored])
        choice_wanted = {MC_GRADE, CHOICE_PROB, BRIER} & set(wanted)
        choice_metrics = _choice_metrics(samples) if choice_wanted else pl.DataFrame()
        for group in (text_metrics.result(), {} if loss_metrics is None else loss_metrics.result()):
            columns.update(group)
        columns.update({series.name: series for series in choice_metrics})
        chance_levels = chance.result()
    columns = {m: columns[m] for m in _REQUIRES if m in columns and m in wanted}  # the registry's order
    specs = {m: METRICS[m] for m in columns}
    for name in prescored:
        columns[name] = samples[name].cast(pl.Float64)
        specs[name] = spec_for(name, samples[name])
    frame = samples.select(identity).with_columns(
        *(series.cast(pl.Float64).alias(name) for name, series in columns.items())
    )
    return ScoredSamples(frame, specs, chance_levels, tuple(skipped))
