"""The extractor registry: entry points, unknown names and bad params as typed errors."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

import pytest

from omnidex.errors import InvalidSpecError, UnknownExtractorError
from omnidex.extractors.ocr import Ocr
from omnidex.extractors.page_text import PageText
from omnidex.extractors.registry import GROUP, available, create, load_entry_points
from omnidex.extractors.text_embedding import TextEmbedding
from omnidex.types import ExtractorSpec


def test_builtins_register_through_entry_points() -> None:
    found = available()
    assert found["page_text@v1"] is PageText
    assert found["ocr@v1"] is Ocr
    assert found["text_embedding@v1"] is TextEmbedding


def test_create_passes_params() -> None:
    extractor = create(ExtractorSpec(name="page_text@v1", params={"chunk_tokens": 128}))
    assert isinstance(extractor, PageText)
    assert extractor.text_chunking() == (128, 32)


def test_unknown_extractor_names_field_and_known_names() -> None:
    with pytest.raises(UnknownExtractorError) as info:
        create(ExtractorSpec(name="nope@v1"), index=2)
    assert info.value.context["field"] == "extractors[2].name"
    assert "ocr@v1" in info.value.message and "page_text@v1" in info.value.message


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("ocr@v1", {"psm": 99}, "extractors[1].params.psm"),
        ("ocr@v1", {"bogus": 1}, "extractors[1].params.bogus"),
        ("page_text@v1", {"chunk_overlap": 300}, "extractors[1].params.chunk_overlap"),
        ("text_embedding@v1", {"batch_size": 0}, "extractors[1].params.batch_size"),
    ],
)
def test_bad_params_name_the_field(name: str, params: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        create(ExtractorSpec(name=name, params=params), index=1)
    assert info.value.context["field"] == field
    assert info.value.context["extractor"] == name


def test_bad_params_without_index() -> None:
    with pytest.raises(InvalidSpecError) as info:
        create(ExtractorSpec(name="ocr@v1", params={"psm": -1}))
    assert info.value.context["field"] == "params.psm"


def test_mismatched_and_foreign_entry_points_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    points = [
        EntryPoint("ocr@v2", "omnidex.extractors.ocr:Ocr", GROUP),
        EntryPoint("path@v1", "pathlib:Path", GROUP),
        EntryPoint("gone@v1", "omnidex.no_such_module:Gone", GROUP),
        EntryPoint("page_text@v1", "omnidex.extractors.page_text:PageText", GROUP),
    ]
    with caplog.at_level(logging.WARNING, logger="omnidex.extractors.registry"):
        found = load_entry_points(points)
    assert found == {"page_text@v1": PageText}
    text = caplog.text
    assert "ocr@v2" in text and "path@v1" in text and "gone@v1" in text
