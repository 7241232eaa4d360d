"""The demo's sample set: deterministic, one topic per file, legible to OCR where it is pixels."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from omnidex.config import Limits
from omnidex.media.kinds import detect_kind
from omnidex.media.pdf import PdfFile
from omnidex.samples import IMAGES, build_sample_set

TESSERACT = shutil.which("tesseract")
needs_tesseract = pytest.mark.skipif(TESSERACT is None, reason="tesseract is not installed")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_sample_set(tmp_path_factory.mktemp("samples"))


def ocr(path: Path) -> str:
    assert TESSERACT is not None
    result = subprocess.run([TESSERACT, str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(result.stdout.split()).lower()


def test_kinds_of_the_sample_set(samples: list[Path]) -> None:
    kinds = [detect_kind(path, Limits()) for path in samples]
    assert (kinds.count("image"), kinds.count("pdf"), kinds.count("text")) == (3, 1, 3)


def test_the_sample_set_is_deterministic(samples: list[Path], tmp_path: Path) -> None:
    again = build_sample_set(tmp_path)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in samples]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in again] == digest


def test_report_has_two_text_pages_and_one_scanned_page(samples: list[Path]) -> None:
    (report,) = [p for p in samples if p.name == "report.pdf"]
    with PdfFile(report, Limits()) as pdf:
        texts = [pdf.page_text(i) for i in range(pdf.page_count)]
    assert "deionized water" in texts[0]
    assert "25-year performance warranty" in texts[1]
    assert texts[2] == ""


def test_text_files_have_several_paragraphs(samples: list[Path]) -> None:
    for path in (p for p in samples if p.suffix in (".md", ".txt")):
        assert path.read_text(encoding="utf-8").count("\n\n") >= 3


@needs_tesseract
@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("bakery_sign.png", ["harbor street bakery", "sourdough"]),
        ("whiteboard.jpg", ["roadmap", "postgres"]),
        ("kite_poster.png", ["kite festival", "june 14"]),
    ],
)
def test_images_are_legible(samples: list[Path], name: str, words: list[str]) -> None:
    assert name in IMAGES
    text = ocr(next(p for p in samples if p.name == name))
    assert all(word in text for word in words), text


@needs_tesseract
def test_scanned_page_is_legible(samples: list[Path], tmp_path: Path) -> None:
    report = next(p for p in samples if p.name == "report.pdf")
    with PdfFile(report, Limits()) as pdf:
        pdf.render(2, 200).save(tmp_path / "page3.png")
    text = ocr(tmp_path / "page3.png")
    assert "invoice" in text and "total due" in text and "485.00" in text, text
