"""exact_match and token_edit_distance from target and prediction texts (or given token lists).

Short ASCII pairs are solved by the batched DP of ``analysis.metrics.levenshtein``; the rest (and any pair the
DP cannot take) by rapidfuzz, the general path the DP must equal (``tests/unit/test_levenshtein*.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

from analysis import schema, threads
from analysis.metrics.levenshtein import TextBytes, byte_distances, may_strip, text_bytes
from analysis.metrics.registry import DEFAULT_OPTIONS, EXACT_MATCH, TOKEN_EDIT_DISTANCE
from analysis.metrics.runs import _spread
from analysis.options import MetricOptions
from analysis.row_hashes import column_hashes, mixed_hash


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
        with threads.pool(2) as pool:
            left, right = pool.map(text_bytes, sides)
        if not (may_strip(left) or may_strip(right)):
            return _Texts(target, prediction, both, (left, right))
    normalised = frame.select(_normalised(schema.TARGET, options), _normalised(schema.PREDICTION, options))
    return _Texts(normalised[schema.TARGET], normalised[schema.PREDICTION], both, None)


def token_edit_distances(frame: pl.DataFrame, options: MetricOptions = DEFAULT_OPTIONS) -> pl.Series:
    """Levenshtein distance per row over tokens (null without a pair of texts or token lists).

    Rows with token lists use them; text pairs of short ASCII texts are solved by the batched DP of
    ``analysis.metrics.levenshtein``, the rest through rapidfuzz (equal texts score 0 without a DP, and with
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


def _text_distances(texts: _Texts, tokenizer: str) -> np.ndarray:
    """Distances of the rows that have both texts, in row order: the batched DP, then the general path."""
    pair_bytes = texts.pair_bytes
    if pair_bytes is None:
        with threads.pool(2) as pool:
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
