"""Texts read once into bytes: the strip check, the tokens, and edit distances that mix every path."""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl
import pytest

from analysis.metrics import EXACT_MATCH, TOKEN_EDIT_DISTANCE, score_samples, token_edit_distances
from analysis.metrics.levenshtein import byte_distances, may_strip, text_bytes, tokens_of
from analysis.options import MetricOptions
from analysis.schema import ResultTable
from benchmarks.baselines import levenshtein


def short_distances(
    left: pl.Series, right: pl.Series, tokenizer: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The batched DP's distances and solved mask for two columns of texts (null reads as empty)."""
    return byte_distances(text_bytes(left.fill_null("")), text_bytes(right.fill_null("")), tokenizer)


def test_text_bytes_skip_nulls_and_put_a_space_after_each_text() -> None:
    text = text_bytes(pl.Series(["ab", None, "", "c d"]))
    assert text.data.tobytes() == b"ab  c d "
    assert text.lengths.tolist() == [2, 0, 3]
    assert text.starts.tolist() == [0, 3, 4]
    assert text.uniform == -1 and text_bytes(pl.Series(["ab", "cd"])).uniform == 2
    assert text_bytes(pl.Series([None], dtype=pl.String)).data.size == 0


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["abc", "de", ""], False),
        (["abc", "def"], False),  # same length: the strided check
        (["abc", "de "], True),
        (["abc", "dex", "\tq"], True),
        ([" ab", "cd"], True),
        (["ab", "c\x01"], True),  # control byte: conservatively 'may strip'
        (["ab", "cé"], True),  # non-ASCII edge: could be Unicode whitespace
        (["ab", "céd"], False),  # non-ASCII inside only
        (["", ""], False),
    ],
)
def test_may_strip_is_false_only_when_strip_changes_nothing(texts: list[str], expected: bool) -> None:
    assert may_strip(text_bytes(pl.Series(texts))) is expected
    if not expected:
        assert [t.strip() for t in texts] == texts


def test_char_tokens_keep_the_separators_and_say_when_uniform() -> None:
    tokens = tokens_of(text_bytes(pl.Series(["ab", "cd"])), "chars")
    assert tokens is not None and tokens.separated and tokens.step == 3
    assert tokens.counts.tolist() == [2, 2] and tokens.starts.tolist() == [0, 3]
    words = tokens_of(text_bytes(pl.Series(["a b", "c  d", "e"])), "whitespace")
    assert words is not None and not words.separated and words.step == 0
    assert words.counts.tolist() == [2, 2, 1] and words.starts.tolist() == [0, 2, 4]


def _normalise(text: str | None, case_fold: bool) -> str | None:
    if text is None:
        return None
    return text.strip().lower() if case_fold else text.strip()


@pytest.mark.parametrize("tokenizer", ["chars", "whitespace"])
@pytest.mark.parametrize("case_fold", [False, True])
@pytest.mark.parametrize("kind", ["plain ascii", "edge whitespace", "non-ascii", "long"])
def test_edit_distance_and_exact_match_equal_the_textbook_on_stripped_text(
    tokenizer: str, case_fold: bool, kind: str
) -> None:
    """Nulls on either side (not aligned), the strip fallback, non-ASCII and over-long pairs all agree."""
    rng = np.random.default_rng(zlib.crc32(f"{tokenizer} {case_fold} {kind}".encode()))
    pieces = ["a", "B", "ab", " ", "1", "="]
    if kind == "edge whitespace":
        pieces += ["\t", " \n"]
    if kind == "non-ascii":
        pieces += ["é", "\u00a0"]
    longest = 40 if kind == "long" else 8

    def text() -> str | None:
        if rng.random() < 0.1:
            return None
        words = "".join(rng.choice(pieces, rng.integers(0, longest)))
        return words if kind in ("edge whitespace", "non-ascii") else words.strip()

    n = 600
    targets, predictions = [text() for _ in range(n)], [text() for _ in range(n)]
    predictions[:50] = targets[:50]  # equal pairs
    frame = pl.DataFrame(
        {
            "family": ["f"] * n,
            "model": ["m"] * n,
            "task": ["t"] * n,
            "params": [1e6] * n,
            "item": [str(i) for i in range(n)],
            "target": targets,
            "prediction": predictions,
        },
        schema_overrides={"target": pl.String, "prediction": pl.String},
    )
    options = MetricOptions(tokenizer=tokenizer, case_fold=case_fold)
    split = list if tokenizer == "chars" else str.split
    expected_distance, expected_match = [], []
    for raw_target, raw_prediction in zip(targets, predictions, strict=True):
        target, prediction = _normalise(raw_target, case_fold), _normalise(raw_prediction, case_fold)
        if target is None or prediction is None:
            expected_distance.append(None)
            expected_match.append(None)
        else:
            expected_distance.append(float(levenshtein(split(target), split(prediction))))
            expected_match.append(float(target == prediction))
    assert token_edit_distances(frame, options).to_list() == expected_distance
    scored = score_samples(ResultTable(samples=frame), options).frame
    assert scored[TOKEN_EDIT_DISTANCE].to_list() == expected_distance
    assert scored[EXACT_MATCH].to_list() == expected_match
    assert 0 < sum(d == 0 for d in expected_distance if d is not None) < n  # both outcomes occur


def test_word_tokens_of_same_length_texts_and_single_byte_words() -> None:
    """Same-length texts are counted column by column; one-byte words skip the multi-byte packing."""
    same = tokens_of(text_bytes(pl.Series(["a bc", "ab c", "abcd", "    ", " x\ty"])), "whitespace")
    assert same is not None and same.counts.tolist() == [2, 2, 1, 0, 2]
    assert same.codes.dtype == np.uint32
    assert same.codes.tolist() == [
        ord("a"),
        int.from_bytes(b"bc", "little"),
        int.from_bytes(b"ab", "little"),
        ord("c"),
        int.from_bytes(b"abcd", "little"),
        ord("x"),
        ord("y"),
    ]
    single = tokens_of(text_bytes(pl.Series(["a b", "c\nd", "e f"])), "whitespace")
    assert single is not None and single.codes.dtype == np.uint8 and single.step == 2
    assert single.codes.tobytes() == b"abcdef" and single.counts.tolist() == [2, 2, 2]


@pytest.mark.parametrize("tokenizer", ["chars", "whitespace"])
def test_no_pairs_and_blank_texts(tokenizer: str) -> None:
    empty = pl.Series([], dtype=pl.String)
    result = short_distances(empty, empty, tokenizer)
    assert result is not None and result[0].size == 0
    blank = short_distances(pl.Series(["  ", ""]), pl.Series(["", "a"]), tokenizer)
    assert blank is not None
    assert blank[0].tolist() == ([2.0, 1.0] if tokenizer == "chars" else [0.0, 1.0])
    assert tokens_of(text_bytes(pl.Series([None], dtype=pl.String)), tokenizer) is not None


def test_same_shape_pairs_beyond_the_dp_length_go_to_the_general_path() -> None:
    long_a, long_b = "ab" * 20, "ba" * 20  # 40 characters each: longer than MAX_DP_LENGTH
    result = short_distances(pl.Series([long_a, long_a]), pl.Series([long_a, long_b]), "chars")
    assert result is not None and not result[1].any()
    frame = pl.DataFrame({"target": [long_a, long_a], "prediction": [long_a, long_b]})
    assert token_edit_distances(frame).to_list() == [0.0, float(levenshtein(list(long_a), list(long_b)))]
    same = short_distances(pl.Series(["abc", "abd"]), pl.Series(["abd", "xyz"]), "chars")
    assert same is not None and same[1].all() and same[0].tolist() == [1.0, 3.0]
