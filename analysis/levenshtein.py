"""Token edit distance for millions of short pairs: tokens as packed integers, one vectorised DP for all.

Per-pair calls (even into C) cost more than the distance itself when sequences are a few tokens long, so short
pairs are solved together: both sides become padded integer matrices and the textbook Levenshtein recurrence
runs once per (i, j) cell over every pair at the same time. A token equals another exactly when their packed
codes are equal: ASCII tokens of at most 8 bytes are packed into one uint64 (exact, no hashing). Anything else
(non-ASCII text, longer tokens, long sequences) returns ``None`` or is left to the caller's general path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

MAX_TOKEN_BYTES = 8  # a token packs into one uint64
MAX_DP_LENGTH = 32  # longer sequences go to the general (per-pair) path
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True  # ASCII whitespace as the regex \s (Unicode White_Space)


def ascii_tokens(texts: pl.Series, tokenizer: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Each text's tokens as uint64 codes (flat) and the token count per text; None unless all ASCII.

    ``tokenizer`` is ``"chars"`` (every character a token) or ``"whitespace"`` (runs of non-whitespace).
    Null texts count as empty. None also when a whitespace token is longer than ``MAX_TOKEN_BYTES``.
    """
    texts = texts.fill_null("")
    byte_lengths = texts.str.len_bytes().to_numpy().astype(np.int64)
    raw = texts.str.join("").item().encode("utf-8") if len(texts) else b""
    data = np.frombuffer(raw, dtype=np.uint8)
    if data.size and int(data.max()) >= 0x80:
        return None
    if tokenizer == "chars":
        return data.astype(np.uint64), byte_lengths
    ends_of_text = np.cumsum(byte_lengths)
    word = ~_WHITESPACE[data]
    boundary = np.ones(data.size + 1, dtype=bool)  # True between two texts and at both ends
    boundary[1:-1] = False
    boundary[ends_of_text] = True
    before = np.concatenate([[False], word]) & ~boundary  # byte i-1 is a word byte of the same text
    after = np.concatenate([word, [False]]) & ~boundary  # byte i is a word byte continuing from i-1
    starts = np.flatnonzero(word & ~before[:-1])
    ends = np.flatnonzero(word & ~after[1:])  # last byte of each token
    lengths = ends - starts + 1
    if lengths.size and int(lengths.max()) > MAX_TOKEN_BYTES:
        return None
    codes = np.zeros(starts.size, dtype=np.uint64)
    for k in range(int(lengths.max()) if lengths.size else 0):
        has = np.flatnonzero(lengths > k)
        codes[has] |= data[starts[has] + k].astype(np.uint64) << np.uint64(8 * k)
    tokens_before = np.searchsorted(starts, ends_of_text - byte_lengths)
    counts = np.diff(np.append(tokens_before, starts.size)).astype(np.int64)
    return codes, counts


def padded(codes: np.ndarray, counts: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """The chosen ``rows``' tokens as a (width, len(rows)) matrix, one column per row, 0-padded."""
    if rows.size == counts.size and counts.size and counts.min() == counts.max() == width:
        return codes.reshape(counts.size, width).T  # every row has the same length: no scatter
    starts = np.cumsum(counts) - counts
    out = np.zeros((width, len(rows)), dtype=np.uint64)
    lengths = counts[rows]
    column = np.repeat(np.arange(len(rows)), lengths)
    offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[offset, column] = codes[np.repeat(starts[rows], lengths) + offset]
    return out


def batched_levenshtein(a: np.ndarray, a_len: np.ndarray, b: np.ndarray, b_len: np.ndarray) -> np.ndarray:
    """Levenshtein distance of every pair: ``a`` (La, r) and ``b`` (Lb, r) padded token matrices.

    ``D[i, j] = min(D[i-1, j] + 1, D[i, j-1] + 1, D[i-1, j-1] + [a_i != b_j])`` with rows of D kept as
    (Lb + 1, r) arrays; pair r's answer is ``D[a_len[r], b_len[r]]`` (padding never reaches it).
    """
    la, pairs = a.shape
    lb = b.shape[0]
    columns = np.arange(pairs)
    previous = np.repeat(np.arange(lb + 1, dtype=np.int8)[:, None], pairs, axis=1)  # D <= 32 fits
    out = np.empty(pairs, dtype=np.int8)
    done = a_len == 0
    out[done] = b_len[done]
    current = np.empty_like(previous)
    for i in range(1, la + 1):
        substitute = previous[:-1] + (a[i - 1][None, :] != b)
        best = np.minimum(substitute, previous[1:] + 1)
        current[0] = i
        for j in range(1, lb + 1):
            np.minimum(best[j - 1], current[j - 1] + 1, out=current[j])
        finished = a_len == i
        out[finished] = current[b_len[finished], columns[finished]]
        previous, current = current, previous
    return out


def token_distances(
    left: pl.Series, right: pl.Series, tokenizer: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Distances for the pairs short enough for the batched DP, and which pairs those are (a mask).

    None when the texts are not all ASCII (or a token is too long to pack): the caller's general path then
    handles every pair.
    """
    with ThreadPoolExecutor(2) as pool:  # numpy releases the GIL: the two sides use both cores
        coded_left, coded_right = pool.map(ascii_tokens, (left, right), (tokenizer, tokenizer))
    if coded_left is None or coded_right is None:
        return None
    (codes_a, len_a), (codes_b, len_b) = coded_left, coded_right
    out = np.zeros(len(left), dtype=np.float64)
    longest = np.maximum(len_a, len_b)
    solved = longest <= MAX_DP_LENGTH
    for low, high in ((0, 8), (8, 16), (16, MAX_DP_LENGTH)):  # buckets keep padding small
        rows = np.flatnonzero((longest > low) & (longest <= high) | ((low == 0) & (longest == 0)))
        if rows.size == 0:
            continue
        width_a, width_b = int(len_a[rows].max()), int(len_b[rows].max())
        a = padded(codes_a, len_a, rows, max(width_a, 1))
        b = padded(codes_b, len_b, rows, max(width_b, 1))
        out[rows] = _in_two_halves(a[:width_a], len_a[rows], b[: max(width_b, 1)], len_b[rows])
    return out, solved


def _in_two_halves(a: np.ndarray, a_len: np.ndarray, b: np.ndarray, b_len: np.ndarray) -> np.ndarray:
    """``batched_levenshtein`` on two halves of the pairs in two threads (numpy releases the GIL)."""
    half = a.shape[1] // 2
    if half < 10_000:
        return batched_levenshtein(a, a_len, b, b_len)
    parts = [slice(0, half), slice(half, a.shape[1])]
    with ThreadPoolExecutor(2) as pool:
        done = pool.map(lambda p: batched_levenshtein(a[:, p], a_len[p], b[:, p], b_len[p]), parts)
        return np.concatenate(list(done))
