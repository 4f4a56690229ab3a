"""The batched token Levenshtein against the textbook DP, on edge cases and random short pairs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.metrics import token_edit_distances
from analysis.metrics.levenshtein import byte_distances, text_bytes, tokens_of
from analysis.options import MetricOptions
from benchmarks.baselines import levenshtein


def short_distances(
    left: pl.Series, right: pl.Series, tokenizer: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The batched DP's distances and solved mask for two columns of texts (null reads as empty)."""
    return byte_distances(text_bytes(left.fill_null("")), text_bytes(right.fill_null("")), tokenizer)


def _tokens(text: str, tokenizer: str) -> list[str]:
    return list(text) if tokenizer == "chars" else text.split()


@pytest.mark.parametrize("tokenizer", ["chars", "whitespace"])
def test_matches_textbook_dp_on_random_and_edge_pairs(tokenizer: str) -> None:
    rng = np.random.default_rng(1)
    words = ["a", "b", "ab", "ba", "xyz", "abcdefgh"]
    gaps = [" ", "  ", "\t", " \n "]
    texts = [
        "".join(f"{rng.choice(gaps)}{rng.choice(words)}" for _ in range(rng.integers(0, 14)))
        for _ in range(4000)
    ]
    left, right = texts[:2000], texts[2000:]
    left[:4] = ["", "a b", "", "kitten sitting"]
    right[:4] = ["", "", "a  b", "sitting kitten"]
    expected = [
        levenshtein(_tokens(a, tokenizer), _tokens(b, tokenizer)) for a, b in zip(left, right, strict=True)
    ]
    result = short_distances(pl.Series(left), pl.Series(right), tokenizer)
    assert result is not None
    distances, solved = result
    if tokenizer == "chars":
        assert 0 < solved.sum() < len(left)  # long character sequences are left to the general path
    assert distances[solved].tolist() == np.asarray(expected)[solved].tolist()
    frame = pl.DataFrame({"target": left, "prediction": right})
    combined = token_edit_distances(frame, MetricOptions(tokenizer=tokenizer))
    stripped = [
        levenshtein(_tokens(a.strip(), tokenizer), _tokens(b.strip(), tokenizer))
        for a, b in zip(left, right, strict=True)
    ]
    assert combined.to_list() == [float(e) for e in stripped]  # the metric compares stripped text


def test_known_distances_and_fallbacks() -> None:
    frame = pl.DataFrame(
        {
            "target": ["kitten", "the cat sat", "ünïcode", "averyverylongtoken b", None],
            "prediction": ["sitting", "the cat sat down", "unicode", "averyverylongtoken c", "x"],
        }
    )
    chars = token_edit_distances(frame, MetricOptions()).to_list()
    words = token_edit_distances(frame, MetricOptions(tokenizer="whitespace")).to_list()
    assert chars == [3.0, 5.0, 2.0, 1.0, None]
    assert words == [1.0, 1.0, 1.0, 1.0, None]
    assert tokens_of(text_bytes(pl.Series(["ünïcode"])), "chars") is None  # non-ASCII: the general path
    assert tokens_of(text_bytes(pl.Series(["averyverylongtoken"])), "whitespace") is None  # > 8 bytes


@pytest.mark.parametrize("tokenizer", ["chars", "whitespace"])
def test_repeated_and_equal_pairs_score_as_each_pair_alone(tokenizer: str) -> None:
    """Distinct pairs are solved once and spread back; equal texts are 0 without a DP; non-ASCII too."""
    rng = np.random.default_rng(7)
    pool = [
        ("kitten", "sitting"),
        ("a b c", "a c"),
        ("same", "same"),
        ("", "x y"),
        ("é x", "e x"),
        ("ab", "ba"),
    ]
    picks = rng.integers(0, len(pool), 3000)
    left, right = [pool[i][0] for i in picks], [pool[i][1] for i in picks]
    frame = pl.DataFrame({"target": left, "prediction": right})
    result = token_edit_distances(frame, MetricOptions(tokenizer=tokenizer)).to_list()
    expected = [levenshtein(_tokens(a, tokenizer), _tokens(b, tokenizer)) for a, b in pool]
    assert result == [expected[i] for i in picks]


def test_nul_bytes_and_mixed_token_widths_stay_exact() -> None:
    """A NUL inside a token is not padding ("a\\0" != "a"); one-byte codes compare right with wider ones."""
    # a NUL is left to the general path
    assert tokens_of(text_bytes(pl.Series(["a\x00 b"])), "whitespace") is None
    frame = pl.DataFrame({"target": ["a\x00 b", "a b c", "x"], "prediction": ["a b", "abcd b c", "x yy zzz"]})
    words = token_edit_distances(frame, MetricOptions(tokenizer="whitespace")).to_list()
    assert words == [1.0, 1.0, 2.0]
    result = short_distances(pl.Series(["a b c", "x"]), pl.Series(["abcd b c", "x yy zzz"]), "whitespace")
    assert result is not None
    assert result[0].tolist() == [1.0, 2.0]
    tokens = tokens_of(text_bytes(pl.Series(["ab  c", "", " abcd\t"])), "whitespace")
    assert tokens is not None and tokens.counts.tolist() == [2, 0, 1]
    spans = zip(tokens.starts, tokens.counts, strict=True)
    where = np.concatenate([start + np.arange(count) for start, count in spans])
    codes = tokens.codes[where]
    assert codes.tolist() == [ord("a") | ord("b") << 8, ord("c"), int.from_bytes(b"abcd", "little")]


@pytest.mark.parametrize("lengths", ["ragged", "uniform"])
def test_batches_of_the_dp_equal_the_textbook_dp(monkeypatch: pytest.MonkeyPatch, lengths: str) -> None:
    """Many small batches (in two threads), ragged or all-full lengths, equal the textbook DP pair by pair."""
    import analysis.metrics.levenshtein as module

    monkeypatch.setattr(module, "CHUNK_PAIRS", 97)  # many batches, the last one short
    rng = np.random.default_rng(3)
    n = 1000
    if lengths == "uniform":
        sizes_a, sizes_b = np.full(n, 5), np.full(n, 4)
    else:
        sizes_a, sizes_b = rng.integers(0, 9, n), rng.integers(0, 9, n)
    left = ["".join(rng.choice(list("abc"), k)) for k in sizes_a]
    right = ["".join(rng.choice(list("abc"), k)) for k in sizes_b]
    result = short_distances(pl.Series(left), pl.Series(right), "chars")
    assert result is not None
    distances, solved = result
    assert solved.all()
    expected = [levenshtein(list(a), list(b)) for a, b in zip(left, right, strict=True)]
    assert distances.tolist() == expected
    assert min(expected) == (1 if lengths == "uniform" else 0) and max(expected) >= 5  # both extremes occur
