"""Segmenting objects: text chunks, lazy images, PDFs with mixed text and scanned pages."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from PIL import Image

from omnidex.config import Limits, Settings
from omnidex.errors import (
    CorruptMediaError,
    EncryptedMediaError,
    LimitExceededError,
    SourceError,
)
from omnidex.samples import REPORT_PAGES, make_bomb_png, make_encrypted_pdf, make_pdf
from omnidex.segment.objects import segment_object
from omnidex.types import ObjectKind, Segment

SETTINGS = Settings(thumbnail_width=64, ocr_dpi=72)


def segment(path: Path, kind: ObjectKind, settings: Settings = SETTINGS) -> list[Segment]:
    return segment_object(
        object_id="obj1",
        path=path,
        kind=kind,
        source=str(path),
        settings=settings,
        chunk_tokens=40,
        overlap_tokens=5,
    )


def thumbnail_size(segment: Segment) -> tuple[int, int]:
    assert segment.thumbnail is not None
    return Image.open(io.BytesIO(segment.thumbnail)).size


def test_text_file_becomes_chunks(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("\n\n".join(REPORT_PAGES), encoding="utf-8")
    segments = segment(path, "text")
    assert len(segments) > 3
    assert [s.key for s in segments[:2]] == ["chunk=0000", "chunk=0001"]
    assert all(s.kind == "text" and s.page is None and s.text for s in segments)
    assert segments[0].text is not None and segments[0].text.startswith("Solar panel maintenance")
    assert {(s.object_id, s.source) for s in segments} == {("obj1", str(path))}


def test_image_is_checked_now_and_decoded_later(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (200, 100), "navy").save(path)
    (seg,) = segment(path, "image")
    assert (seg.kind, seg.key, seg.page, seg.text) == ("image", "image", None, None)
    assert thumbnail_size(seg) == (64, 32)
    assert seg.image is not None
    load = pickle.loads(pickle.dumps(seg.image))  # can travel to a worker process
    Image.new("RGB", (200, 100), "red").save(path)  # the pixels are read when asked for
    assert seg.image().getpixel((0, 0)) == load().getpixel((0, 0)) == (255, 0, 0)


def test_decompression_bomb_fails_at_segmentation(tmp_path: Path) -> None:
    with pytest.raises(LimitExceededError):
        segment(make_bomb_png(tmp_path / "bomb.png"), "image")


def test_pdf_with_text_and_scanned_pages(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "report.pdf", REPORT_PAGES, ["Invoice\n\nTotal due: $12"])
    segments = segment(path, "pdf")
    text_segments = [s for s in segments if s.kind == "text"]
    (scanned,) = [s for s in segments if s.kind == "page"]
    assert {s.page for s in text_segments} == {1, 2}
    assert text_segments[0].key == "page=0001/chunk=000"
    assert any(s.key == "page=0002/chunk=000" for s in text_segments)
    assert all(s.text and s.image is None for s in text_segments)
    assert (scanned.key, scanned.page, scanned.text) == ("page=0003", 3, None)
    assert all(thumbnail_size(s) == (49, 64) for s in segments)  # portrait: 64 px tall
    assert scanned.image is not None
    assert scanned.image().size == (612, 792)  # rendered at ocr_dpi=72, on demand
    assert [s.page for s in segments] == sorted(s.page or 0 for s in segments)


def test_oversized_scanned_page_fails_at_segmentation(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", [], ["Only an image"])
    settings = Settings(ocr_dpi=300, limits=Limits(max_image_pixels=5_000_000))
    with pytest.raises(LimitExceededError):
        segment(path, "pdf", settings)


def test_pdf_text_limit(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "long.pdf", REPORT_PAGES)
    with pytest.raises(LimitExceededError, match="characters of text"):
        segment(path, "pdf", Settings(limits=Limits(max_text_chars=500)))


@pytest.mark.parametrize(
    ("name", "kind", "content", "error"),
    [
        ("bad.pdf", "pdf", b"%PDF-1.4\nnot really", CorruptMediaError),
        ("bad.jpg", "image", b"\xff\xd8\xff\xe0 truncated", CorruptMediaError),
        ("bad.txt", "text", b"\x00\x01\x02", SourceError),
    ],
)
def test_bad_inputs_raise_typed_errors(
    tmp_path: Path, name: str, kind: ObjectKind, content: bytes, error: type[Exception]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error):
        segment(path, kind)


def test_encrypted_pdf(tmp_path: Path) -> None:
    with pytest.raises(EncryptedMediaError):
        segment(make_encrypted_pdf(tmp_path / "secret.pdf", "pw"), "pdf")


def test_too_many_pages(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "doc.pdf", REPORT_PAGES)
    with pytest.raises(LimitExceededError):
        segment(path, "pdf", Settings(limits=Limits(max_pdf_pages=1)))
