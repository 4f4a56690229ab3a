"""Token edit distance for millions of short pairs: tokens as packed integers, one vectorised DP for all.

Per-pair calls (even into C) cost more than the distance itself when sequences are a few tokens long, so short
pairs are solved together: both sides become padded integer matrices and the textbook Levenshtein recurrence
runs once per (i, j) cell over every pair at the same time. A token equals another exactly when their packed
codes are equal: ASCII tokens of at most 8 bytes are packed into one unsigned integer (exact, no hashing; as
narrow as the longest token allows, since the DP's compares cost by width). Anything else (non-ASCII text,
longer tokens, NUL bytes, long sequences) returns ``None`` or is left to the caller's general path.

A column's texts are read once into a ``TextBytes`` (one join, one encode): the caller can then check that
``strip()`` would change nothing (``may_strip``) and tokenise without going back to polars.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from analysis import threads

MAX_TOKEN_BYTES = 8  # a token packs into one uint64
_CODE_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # token bytes -> code type
MAX_DP_LENGTH = 32  # longer sequences go to the general (per-pair) path


@dataclass(frozen=True)
class TextBytes:
    """A column's non-null texts as UTF-8 bytes, one space after each, and each text's length in bytes."""

    data: np.ndarray  # uint8
    lengths: np.ndarray  # int64, one per non-null text, in row order

    @cached_property
    def starts(self) -> np.ndarray:
        """Where each text's first byte is in ``data``."""
        return np.cumsum(self.lengths + 1) - (self.lengths + 1)

    @cached_property
    def uniform(self) -> int:
        """The byte length every text has, or -1 when they differ (or there are none)."""
        same = bool(self.lengths.size) and self.lengths.min() == self.lengths.max()
        return int(self.lengths[0]) if same else -1


@dataclass(frozen=True)
class Tokens:
    """Each text's tokens as integer codes, ``counts`` per text, in text order.

    With ``separated`` one code (a separator, never a token) follows each text's tokens, as in the bytes of
    a ``TextBytes``; else they follow one another. ``step`` > 0 says every text has the same count and
    starts ``step`` codes after the previous one: the tokens are the first columns of ``codes.reshape(-1,
    step)``.
    """

    codes: np.ndarray
    counts: np.ndarray
    step: int
    separated: bool = False

    @cached_property
    def starts(self) -> np.ndarray:
        """Where each text's first token is in ``codes``."""
        widths = self.counts + 1 if self.separated else self.counts
        return np.cumsum(widths) - widths


def text_bytes(texts: pl.Series) -> TextBytes:
    """The non-null texts of ``texts`` (nulls are skipped, not counted) as one byte array."""
    texts = texts.drop_nulls()
    lengths = texts.str.len_bytes().to_numpy().astype(np.int64)
    if not lengths.size:
        return TextBytes(np.zeros(0, dtype=np.uint8), lengths)
    joined = (texts.str.join(" ") + " ").cast(pl.Binary).item()  # one join, bytes without a Python str
    return TextBytes(np.frombuffer(joined, dtype=np.uint8), lengths)


def may_strip(text: TextBytes) -> bool:
    """False only when ``strip()`` provably changes no text: no text starts or ends with a byte <= 0x20
    (whitespace, conservatively every control byte) or >= 0x80 (possibly Unicode whitespace)."""
    width = text.uniform
    if width == 0:
        return False
    if width > 0:  # strided views: no index arrays
        edges = (text.data[:: width + 1], text.data[width - 1 :: width + 1])
    else:
        nonempty = np.flatnonzero(text.lengths)
        first = text.starts[nonempty]
        edges = (text.data[first], text.data[first + text.lengths[nonempty] - 1])
    return any(edge.size and (int(edge.min()) <= 0x20 or int(edge.max()) >= 0x80) for edge in edges)


def tokens_of(text: TextBytes, tokenizer: str) -> Tokens | None:
    """``text``'s tokens as integer codes; None unless all ASCII (and, for words, short and without NUL).

    ``tokenizer`` is ``"chars"`` (every character a token, its byte as the code) or ``"whitespace"`` (runs
    of non-whitespace, each packed into the narrowest unsigned integer that holds the longest). None also
    when a whitespace token is longer than ``MAX_TOKEN_BYTES`` or contains a NUL byte (its zero bytes would
    equal the padding).
    """
    data, lengths = text.data, text.lengths
    if tokenizer == "chars":
        if data.size and int(data.max()) >= 0x80:
            return None
        return Tokens(data, lengths, text.uniform + 1 if text.uniform >= 0 else 0, separated=True)
    if not data.size:
        return Tokens(np.zeros(0, dtype=np.uint8), lengths, 0)
    if int(data.max()) >= 0x80 or int(data.min()) == 0:
        return None
    space = np.less_equal(np.subtract(data, 9, dtype=np.uint8), 4)  # ASCII whitespace (\s): 9-13 and 32
    space |= data == 32
    word_starts = np.empty(data.size, dtype=bool)  # a word byte after a space (or first): no edge array
    word_starts[0] = not space[0]
    np.greater(space[:-1], space[1:], out=word_starts[1:])
    starts = np.flatnonzero(word_starts)
    widths = None  # every token is one byte unless two word bytes follow one another
    longest = 1 if starts.size else 0
    if not np.logical_or(space[1:], space[:-1]).all():
        ends = np.flatnonzero(np.greater(space[1:], space[:-1]))  # a word's last byte (a space follows)
        widths = ends + 1 - starts
        longest = int(widths.max())
        if longest > MAX_TOKEN_BYTES:
            return None
    code_bytes = min(k for k in _CODE_TYPES if k >= longest)  # narrow codes: faster compares
    # one byte per token: the byte is the code; else each token's bytes packed into one integer
    codes = data[starts] if widths is None else _packed(data, starts, widths, longest, code_bytes)
    counts = _per_text(word_starts, text)
    uniform_counts = bool(counts.size) and counts.min() == counts.max()
    return Tokens(codes, counts, int(counts[0]) if uniform_counts else 0)


def _packed(
    data: np.ndarray, starts: np.ndarray, widths: np.ndarray, longest: int, code_bytes: int
) -> np.ndarray:
    """Each token's bytes as one little-endian integer of ``code_bytes`` bytes (zero above its width).

    One gather of ``code_bytes``-byte windows (rows of a strided view of ``data``) read as integers, then the
    bytes past each token's end masked off: a handful of passes, where a pass per byte cost four times more.
    """
    padded_data = np.concatenate([data, np.zeros(code_bytes, dtype=np.uint8)])  # windows at the last bytes
    windows = np.lib.stride_tricks.sliding_window_view(padded_data, code_bytes)[starts]
    code_type = _CODE_TYPES[code_bytes]
    codes = windows.view(f"<u{code_bytes}").ravel().astype(code_type, copy=False)
    if int(widths.min()) < code_bytes:
        masks = np.array([(1 << (8 * k)) - 1 for k in range(code_bytes + 1)], dtype=np.uint64)
        codes &= masks.astype(code_type)[widths]
    return codes


_FEW_COLUMNS = 64  # texts of this many bytes (separator included) or fewer are counted column by column


def _per_text(flags: np.ndarray, text: TextBytes) -> np.ndarray:
    """How many of each text's bytes are flagged (``flags`` has one bool per byte of ``text.data``).

    Texts of one short length are rows of a matrix: one add per byte column (uint8 holds the count, at most
    32) beats a reduction per text.
    """
    width = text.uniform + 1
    if 0 < width <= _FEW_COLUMNS:
        rows = flags.view(np.uint8).reshape(len(text.lengths), width)
        counts = rows[:, 0].copy()
        for k in range(1, width):
            counts += rows[:, k]
        return counts.astype(np.int64)
    if not text.lengths.size:
        return np.zeros(0, dtype=np.int64)
    return np.add.reduceat(flags, text.starts, dtype=np.int64)


def padded(tokens: Tokens, rows: np.ndarray | None, width: int) -> np.ndarray:
    """The chosen ``rows``' tokens (all rows when None) as a (len(rows), width) matrix, 0-padded."""
    counts = tokens.counts if rows is None else tokens.counts[rows]
    if rows is None and tokens.step and counts.size and counts[0] == width:  # no scatter: a strided view
        return tokens.codes[: counts.size * tokens.step].reshape(counts.size, tokens.step)[:, :width]
    out = np.zeros((len(counts), width), dtype=tokens.codes.dtype)
    first = tokens.starts if rows is None else tokens.starts[rows]
    row = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    out[row, offset] = tokens.codes[np.repeat(first, counts) + offset]
    return out


def batched_levenshtein(a: np.ndarray, a_len: np.ndarray, b: np.ndarray, b_len: np.ndarray) -> np.ndarray:
    """Levenshtein distance of every pair: ``a`` (La, r) and ``b`` (Lb, r) padded token matrices.

    The textbook ``D[i, j] = min(D[i-1, j] + 1, D[i, j-1] + 1, D[i-1, j-1] + [a_i != b_j])`` is run on
    ``E[i, j] = D[i, j] - j``, for which it reads ``E[i, j] = min(E[i-1, j] + 1, E[i, j-1],
    E[i-1, j-1] - [a_i == b_j])``: the pass along a row is one ``minimum`` per cell instead of an add and a
    ``minimum``. Rows of E are (Lb + 1, r) int8 arrays (|E| <= 32) and every temporary is allocated once and
    written in place. Pair r's answer is ``E[a_len[r], b_len[r]] + b_len[r]`` (padding never reaches it).
    """
    la, pairs = a.shape
    lb = b.shape[0]
    previous = np.zeros((lb + 1, pairs), dtype=np.int8)  # E[0, j] = D[0, j] - j = 0
    current = np.empty_like(previous)
    equal = np.empty((lb, pairs), dtype=bool)
    diagonal = np.empty((lb, pairs), dtype=np.int8)
    full = bool(pairs) and a_len.min() == la and b_len.min() == lb  # every answer is D[La, Lb]
    out = np.empty(pairs, dtype=np.int8)
    if not full:
        columns = np.arange(pairs)
        done = a_len == 0
        out[done] = b_len[done]
    for i in range(1, la + 1):
        np.equal(a[i - 1], b, out=equal)
        np.subtract(previous[:-1], equal, out=diagonal)
        np.add(previous[1:], 1, out=current[1:])
        np.minimum(current[1:], diagonal, out=current[1:])
        current[0] = i
        for j in range(1, lb + 1):
            np.minimum(current[j], current[j - 1], out=current[j])
        if not full:
            finished = a_len == i
            ends = b_len[finished]
            out[finished] = current[ends, columns[finished]] + ends
        previous, current = current, previous
    return previous[lb] + np.int8(lb) if full else out


CHUNK_PAIRS = 1 << 16  # pairs per DP batch: its int8 rows stay in cache between the passes


def byte_distances(left: TextBytes, right: TextBytes, tokenizer: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Distances for the pairs short enough for the batched DP, and which pairs those are (a mask).

    ``left`` and ``right`` are texts read into bytes (``text_bytes``), the same number on each side. None
    when the texts are not all ASCII (or a token is too long to pack): the caller's general path then
    handles every pair.
    """
    with threads.pool(2) as pool:  # numpy releases the GIL: both sides, then the batches, use 2 cores
        tokens_a, tokens_b = pool.map(tokens_of, (left, right), (tokenizer, tokenizer))
        if tokens_a is None or tokens_b is None:
            return None
        len_a, len_b = tokens_a.counts, tokens_b.counts
        if tokens_a.step and tokens_b.step and len(len_a):  # one shape for all pairs: no per-pair tests
            width_a, width_b = int(len_a[0]), int(len_b[0])
            if max(width_a, width_b) > MAX_DP_LENGTH:
                return np.zeros(len(len_a)), np.zeros(len(len_a), dtype=bool)
            a = padded(tokens_a, None, max(width_a, 1))[:, :width_a]
            b = padded(tokens_b, None, max(width_b, 1))
            distances = _in_batches(pool, a, len_a, b, len_b).astype(np.float64)
            return distances, np.ones(len(len_a), dtype=bool)
        out = np.zeros(len(len_a), dtype=np.float64)
        longest = np.maximum(len_a, len_b)
        solved = longest <= MAX_DP_LENGTH
        if not len(longest):
            return out, solved
        for low, high in ((0, 8), (8, 16), (16, MAX_DP_LENGTH)):  # buckets keep padding small
            inside = (longest > low) & (longest <= high) | ((low == 0) & (longest == 0))
            rows = None if inside.all() else np.flatnonzero(inside)
            if rows is not None and rows.size == 0:
                continue
            bucket_a, bucket_b = (len_a, len_b) if rows is None else (len_a[rows], len_b[rows])
            width_a, width_b = int(bucket_a.max()), max(int(bucket_b.max()), 1)
            a = padded(tokens_a, rows, max(width_a, 1))[:, :width_a]
            b = padded(tokens_b, rows, width_b)
            distances = _in_batches(pool, a, bucket_a, b, bucket_b)
            if rows is None:
                out[:] = distances
            else:
                out[rows] = distances
    return out, solved


def _in_batches(
    pool: Executor, a: np.ndarray, a_len: np.ndarray, b: np.ndarray, b_len: np.ndarray
) -> np.ndarray:
    """``batched_levenshtein`` over batches of ``CHUNK_PAIRS`` pairs (rows of ``a`` and ``b``) in ``pool``.

    Each batch is transposed into contiguous (width, pairs) matrices: measured on 4M 5x5 pairs, cache-sized
    contiguous batches on two threads take 0.1 s where two strided halves took 0.27 s.
    """
    out = np.empty(len(a_len), dtype=np.int8)

    def solve(start: int) -> None:
        batch = slice(start, start + CHUNK_PAIRS)
        a_batch, b_batch = np.ascontiguousarray(a[batch].T), np.ascontiguousarray(b[batch].T)
        out[batch] = batched_levenshtein(a_batch, a_len[batch], b_batch, b_len[batch])

    list(pool.map(solve, range(0, len(a_len), CHUNK_PAIRS)))
    return out
