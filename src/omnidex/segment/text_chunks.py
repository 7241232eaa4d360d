"""Text chunking: overlapping token windows that end at sentence or paragraph breaks when they can.

Tokens are words (``\\w+``) and single punctuation marks, a cheap stand-in for a model tokenizer.
For English prose a BERT WordPiece tokenizer yields about 1.2-1.3 pieces per token counted here
(more for rare words, code and numbers), so a 512-piece model is well served by ``chunk_tokens``
around 350-400. Each chunk is an exact substring of the source, so its character offsets are true.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = frozenset(".!?")
_CLOSERS = frozenset("\"')]»”’")
_TAIL_FRACTION = 0.25
"""A chunk may end early, at a break, when the break lies in this last fraction of the window."""


@dataclass(frozen=True)
class TextChunk:
    text: str
    start_char: int
    end_char: int
    index: int


def count_tokens(text: str) -> int:
    return sum(1 for _ in TOKEN.finditer(text))


def chunk_text(text: str, chunk_tokens: int, overlap_tokens: int) -> list[TextChunk]:
    """Windows of at most ``chunk_tokens`` tokens; consecutive ones share ``overlap_tokens``."""
    if chunk_tokens < 1 or not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError(
            f"need chunk_tokens >= 1 and 0 <= overlap_tokens < chunk_tokens, "
            f"got chunk_tokens={chunk_tokens}, overlap_tokens={overlap_tokens}"
        )
    spans = [m.span() for m in TOKEN.finditer(text)]
    breaks = _break_strengths(text, spans)
    chunks: list[TextChunk] = []
    start = 0
    while start < len(spans):
        end = min(start + chunk_tokens, len(spans))
        if end < len(spans):
            earliest = max(
                start + math.ceil(chunk_tokens * (1 - _TAIL_FRACTION)), start + overlap_tokens + 1
            )
            end = _best_end(breaks, earliest, end)
        first, last = spans[start][0], spans[end - 1][1]
        chunks.append(TextChunk(text[first:last], first, last, len(chunks)))
        if end == len(spans):
            break
        start = end - overlap_tokens
    return chunks


def _break_strengths(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """For each token, how good a place it is to end a chunk after: 2 paragraph, 1 sentence, 0."""
    strengths = []
    for i, (first, last) in enumerate(spans):
        gap_end = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        gap = text[last:gap_end]
        if "\n\n" in gap:
            strengths.append(2)
        elif gap and text[first:last] in _SENTENCE_END | _CLOSERS and _ends_sentence(text, first):
            strengths.append(1)
        else:
            strengths.append(0)
    return strengths


def _ends_sentence(text: str, first: int) -> bool:
    """A ``.``/``!``/``?`` optionally followed by closing quotes or brackets, then whitespace."""
    position = first
    while position > 0 and text[position] in _CLOSERS:
        position -= 1
    return text[position] in _SENTENCE_END


def _best_end(breaks: list[int], earliest: int, end: int) -> int:
    """The token index to end before: after the last strongest break in ``[earliest, end)``."""
    best, best_strength = end, 0
    for index in range(earliest - 1, end):
        if breaks[index] >= best_strength and breaks[index] > 0:
            best, best_strength = index + 1, breaks[index]
    return best
