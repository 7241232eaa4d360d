"""PDF access: text layer, rendering, and the typed errors for bad or hostile files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from omnidex.config import Limits
from omnidex.errors import CorruptMediaError, EncryptedMediaError, LimitExceededError
from omnidex.media.pdf import PdfFile, render_page
from omnidex.media.text import normalize_whitespace
from omnidex.samples import make_encrypted_pdf, make_pdf

LIMITS = Limits()
PAGES = ["Solar care\n\nRinse the   panels twice a year.", "Warranty\n\nTwenty-five years."]


@pytest.fixture
def pdf_path(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "doc.pdf", PAGES, ["Invoice total due 12"])


def test_pages_text_and_rendering(pdf_path: Path) -> None:
    with PdfFile(pdf_path, LIMITS) as pdf:
        assert pdf.page_count == 3
        assert pdf.page_text(0) == "Solar care\nRinse the panels twice a year."
        assert pdf.page_text(2) == ""
        assert pdf.page_size(0) == pytest.approx((612, 792))
        image = pdf.render(0, 72)
    assert (image.mode, image.size) == ("RGB", (612, 792))


def test_render_refuses_too_many_pixels(pdf_path: Path) -> None:
    with PdfFile(pdf_path, Limits(max_image_pixels=612 * 792)) as pdf:
        assert pdf.render_size(0, 72) == (612, 792)
        with pytest.raises(LimitExceededError) as info:
            pdf.render(0, 144)
    assert info.value.context["limit"] == "max_image_pixels"


def test_render_page_opens_and_closes_on_its_own(pdf_path: Path) -> None:
    assert render_page(pdf_path, 2, 36, LIMITS).size == (306, 396)


def test_concurrent_renders_are_serialized(pdf_path: Path) -> None:
    sizes: list[tuple[int, int]] = []
    threads = [
        threading.Thread(
            target=lambda i=i: sizes.append(render_page(pdf_path, i % 3, 36, LIMITS).size)
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sizes == [(306, 396)] * 8


def test_too_many_pages(pdf_path: Path) -> None:
    with (
        pytest.raises(LimitExceededError, match="3 pages") as info,
        PdfFile(pdf_path, Limits(max_pdf_pages=2)),
    ):
        pass
    assert info.value.context["limit"] == "max_pdf_pages"


def test_encrypted(tmp_path: Path) -> None:
    path = make_encrypted_pdf(tmp_path / "secret.pdf", "hunter2")
    with pytest.raises(EncryptedMediaError) as info, PdfFile(path, LIMITS):
        pass
    assert info.value.context["source"] == str(path)


def test_truncated(pdf_path: Path) -> None:
    pdf_path.write_bytes(pdf_path.read_bytes()[:1500])
    with pytest.raises(CorruptMediaError), PdfFile(pdf_path, LIMITS):
        pass


def test_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    with pytest.raises(CorruptMediaError, match=r"bad\.pdf"), PdfFile(path, LIMITS):
        pass


def test_use_outside_the_with_block_is_a_bug(pdf_path: Path) -> None:
    with pytest.raises(RuntimeError):
        PdfFile(pdf_path, LIMITS).page_text(0)


def test_normalize_whitespace() -> None:
    raw = "  a \t b\r\n\r\n\r\n c\u00a0 d \n e  "
    assert normalize_whitespace(raw) == "a b\n\nc d\ne"
