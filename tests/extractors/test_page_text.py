"""page_text@v1: chunk params, the text feature, whitespace normalization."""

from __future__ import annotations

import pytest

from omnidex.errors import InvalidSpecError
from omnidex.extractors.page_text import PageText
from omnidex.media.text import normalize_whitespace
from omnidex.types import FeatureType, Segment


def _segment(text: str | None) -> Segment:
    return Segment(object_id="o", kind="text", key="0", source="a.txt", text=text)


def test_features_and_chunking_defaults() -> None:
    extractor = PageText()
    assert [(f.name, f.type) for f in extractor.features()] == [("text", FeatureType.TEXT)]
    assert [c.address for c in extractor.columns()] == ["page_text@v1/text"]
    assert extractor.text_chunking() == (256, 32)


def test_extract_normalizes_and_skips_empty() -> None:
    segments = [
        _segment("  hello \t  world \n\n\n\n next   line  "),
        _segment("  \n "),
        _segment(None),
    ]
    assert PageText().extract(segments) == [{"text": "hello world\n\nnext line"}, {}, {}]


def test_normalize_keeps_single_line_breaks() -> None:
    assert normalize_whitespace("a  b\n c\n\nd") == "a b\nc\n\nd"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"chunk_tokens": 8}, "params.chunk_tokens"),
        ({"chunk_tokens": 5000}, "params.chunk_tokens"),
        ({"chunk_overlap": -1}, "params.chunk_overlap"),
        ({"chunk_tokens": 64, "chunk_overlap": 64}, "params.chunk_overlap"),
    ],
)
def test_bad_chunking(params: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        PageText(params)
    assert info.value.context["field"] == field


def test_overlap_error_names_both_fields() -> None:
    with pytest.raises(InvalidSpecError, match=r"chunk_overlap \(64\).*chunk_tokens \(64\)"):
        PageText({"chunk_tokens": 64, "chunk_overlap": 64})
