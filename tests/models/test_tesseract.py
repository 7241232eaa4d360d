"""The tesseract engine: TSV parsing, text layout, and the program's errors."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from omnidex.errors import ExtractionError
from omnidex.models.tesseract import OcrResult, TesseractEngine, Word, layout_text, parse_tsv

HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def _row(level: int, block: int, par: int, line: int, text: str = "", conf: float = -1) -> str:
    return f"{level}\t1\t{block}\t{par}\t{line}\t1\t10\t20\t30\t40\t{conf}\t{text}"


def test_parse_tsv_keeps_words_and_layout() -> None:
    tsv = "\n".join(
        [
            HEADER,
            _row(1, 0, 0, 0),
            _row(4, 1, 1, 1),
            _row(5, 1, 1, 1, "Hello", 95.5),
            _row(5, 1, 1, 1, "world", 90),
            _row(5, 1, 1, 2, "again", 80),
            _row(5, 1, 1, 2, " ", 95),
            _row(5, 1, 2, 1, "new", 70),
            _row(5, 2, 1, 1, "block", 60),
        ]
    )
    words = parse_tsv(tsv)
    assert [w.text for w in words] == ["Hello", "world", "again", "new", "block"]
    assert words[0] == Word("Hello", 95.5, (10, 20, 30, 40), (1, 1, 1))
    assert layout_text(words) == "Hello world\nagain\n\nnew\n\nblock"
    result = OcrResult.from_words(words)
    assert result.confidence == pytest.approx((95.5 + 90 + 80 + 70 + 60) / 5)


def test_no_words() -> None:
    assert parse_tsv("") == []
    assert OcrResult.from_words([]) == OcrResult(text="", words=[], confidence=0.0)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")
def test_program_failure_carries_stderr() -> None:
    engine = TesseractEngine(languages="zzz")
    with pytest.raises(ExtractionError, match="tesseract failed"):
        engine.read(Image.new("L", (64, 64), "white"))


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")
def test_installed_languages() -> None:
    assert "eng" in TesseractEngine().installed()
