"""The tesseract engine: TSV parsing, text layout, and the program's errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from omnidex.errors import ExtractionError
from omnidex.models.ocr_image import for_ocr
from omnidex.models.tesseract import (
    OcrResult,
    TesseractEngine,
    Word,
    drop_bullets,
    layout_text,
    parse_tsv,
)

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


def _word(text: str, line: int, x: int) -> Word:
    return Word(text=text, conf=90.0, box=(x, 10 * line, 20, 10), line=(1, 1, line))


def test_lone_bullet_glyphs_are_dropped_from_line_starts_only() -> None:
    words = [
        _word("©", 1, 0),
        _word("Revenue", 1, 30),
        _word("grew", 1, 90),
        _word("e", 2, 0),
        _word("Churn", 2, 30),
        _word("fell", 2, 90),
        _word("+", 3, 0),  # alone on its line: kept
        _word("Cost", 4, 0),
        _word("*", 4, 50),  # not first: kept
        _word("two", 4, 70),
    ]
    assert layout_text(drop_bullets(words)) == "Revenue grew\nChurn fell\n+\nCost * two"


def test_light_on_dark_regions_become_dark_on_light() -> None:
    slide = Image.new("RGB", (400, 200), (250, 250, 250))
    slide.paste((20, 40, 120), (0, 0, 400, 60))  # a dark blue title bar
    for x in range(50, 150, 8):  # thin strokes, as letters are
        slide.paste((255, 255, 255), (x, 20, x + 3, 40))  # white title "text" on the bar
        slide.paste((30, 30, 30), (x, 120, x + 3, 140))  # dark body "text"
    grey = np.asarray(for_ocr(slide))
    assert grey[30, 51] < 60 and grey[5, 300] > 180  # title strokes dark, bar light
    assert grey[130, 51] < 60 and grey[180, 300] > 180  # the body as it was


def slide_with_title_bar(height: int) -> Image.Image:
    image = Image.new("RGB", (1920, 1080), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1920, 190), fill=(150, 30, 40))
    draw.text((100, 95), "Quarterly Revenue Review", fill="white", font=_font(90), anchor="lm")
    for line, text in enumerate(["Revenue grew twelve percent", "Churn fell to three percent"]):
        y = 330 + line * 150
        draw.ellipse((110, y - 14, 138, y + 14), fill=(40, 40, 40))
        draw.text((180, y), text, fill=(30, 30, 30), font=_font(64), anchor="lm")
    return image.resize((height * 16 // 9, height), Image.Resampling.BILINEAR)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")
@pytest.mark.parametrize("height", [1080, 360])
def test_a_slide_title_on_a_coloured_bar_is_read_and_bullets_are_not_text(height: int) -> None:
    text = TesseractEngine().read(slide_with_title_bar(height)).text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines == [
        "Quarterly Revenue Review",
        "Revenue grew twelve percent",
        "Churn fell to three percent",
    ]
