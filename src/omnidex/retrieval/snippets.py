"""Snippets: the window of a document's text that best shows why it matched a query."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP_TEXT = """a an and are as at be by can did do does for from has have how i in is it its of on
or that the their there this to was we were what when where which who whom why will with you"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())


def snippet(text: str, query: str, width: int = 160) -> str:
    """About ``width`` characters of ``text`` around the densest cluster of query words.

    Whitespace is collapsed; ``…`` marks a cut. With no query word present, the text's start.
    """
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    terms = {w.lower() for w in _WORD.findall(query) if len(w) > 1} - _STOP_WORDS
    hits = [m.start() for m in _WORD.finditer(flat) if m.group().lower() in terms]
    start = _best_window(hits, width) if hits else 0
    start = max(0, min(start - width // 4, len(flat) - width))
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    return ("…" if start > 0 else "") + flat[start:end] + ("…" if end < len(flat) else "")


def _best_window(positions: list[int], width: int) -> int:
    """The position that starts the window of ``width`` holding the most matches."""
    best, best_count, left = positions[0], 0, 0
    for right, position in enumerate(positions):
        while position - positions[left] > width:
            left += 1
        if right - left + 1 > best_count:
            best, best_count = positions[left], right - left + 1
    return best
