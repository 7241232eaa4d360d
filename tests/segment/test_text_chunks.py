"""Chunking: coverage, overlap and budget hold for any text; breaks preferred; offsets true."""

from __future__ import annotations

import itertools
import random

import pytest

from omnidex.segment.text_chunks import TOKEN, chunk_text, count_tokens

WORDS = ["solar", "panel", "the", "warranty", "is", "void", "café", "42", "x"]
PUNCT = [".", ",", "!", "?", ";", "—", '."', ")"]


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 400)):
        roll = rng.random()
        if roll < 0.75:
            parts.append(rng.choice(WORDS) + " ")
        elif roll < 0.9:
            parts.append(rng.choice(PUNCT) + " ")
        else:
            parts.append(rng.choice(["\n", "\n\n", "  \t", "\n \n"]))
    return "".join(parts)


CASES = [
    (seed, size, overlap)
    for seed in range(12)
    for size, overlap in [(1, 0), (7, 3), (32, 8), (50, 45)]
]


@pytest.mark.parametrize(("seed", "chunk_tokens", "overlap"), CASES)
def test_chunking_properties(seed: int, chunk_tokens: int, overlap: int) -> None:
    text = random_text(random.Random(seed))
    chunks = chunk_text(text, chunk_tokens, overlap)
    tokens = [m.span() for m in TOKEN.finditer(text)]
    # offsets are true, indexes are in order, no chunk is over budget
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert text[chunk.start_char : chunk.end_char] == chunk.text
        assert 1 <= count_tokens(chunk.text) <= chunk_tokens
    # every token of the source lies in some chunk
    for first, last in tokens:
        assert any(c.start_char <= first and last <= c.end_char for c in chunks)
    # consecutive chunks share exactly `overlap` tokens and move forward
    for before, after in itertools.pairwise(chunks):
        shared = [t for t in tokens if after.start_char <= t[0] and t[1] <= before.end_char]
        assert len(shared) == overlap
        assert after.start_char > before.start_char
    assert bool(chunks) == bool(tokens)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t "])
def test_blank_text_has_no_chunks(text: str) -> None:
    assert chunk_text(text, 10, 2) == []


@pytest.mark.parametrize(("size", "overlap"), [(10, 10), (10, 11), (0, 0), (5, -1)])
def test_invalid_windows(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_text("some text", size, overlap)


def test_chunks_end_at_a_sentence_in_the_last_quarter() -> None:
    sentence = "one two three four five six seven eight. "  # 9 tokens
    chunks = chunk_text(sentence * 4, chunk_tokens=20, overlap_tokens=0)
    assert [c.text for c in chunks[:2]] == [(sentence * 2).strip(), (sentence * 2).strip()]


def test_paragraph_breaks_beat_sentence_breaks() -> None:
    text = "a b c d e f g h i j k l m n o p\n\nq r. s t u v w x y z"
    first = chunk_text(text, chunk_tokens=21, overlap_tokens=0)[0]
    assert first.text.endswith("p")


def test_no_break_in_the_last_quarter_means_a_full_window() -> None:
    text = "a. " + "word " * 30
    first = chunk_text(text, chunk_tokens=10, overlap_tokens=2)[0]
    assert count_tokens(first.text) == 10


def test_short_text_is_one_chunk() -> None:
    (chunk,) = chunk_text("  Hello, world!  ", 50, 10)
    assert (chunk.text, chunk.start_char, chunk.end_char, chunk.index) == (
        "Hello, world!",
        2,
        15,
        0,
    )
