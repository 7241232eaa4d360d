"""Reading text: encodings, binary content and the character limit."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from omnidex.config import Limits
from omnidex.errors import CorruptMediaError, LimitExceededError, UnsupportedMediaError
from omnidex.media.text import read_text

LIMITS = Limits()
TEXT = "Crème brûlée — 5 €\nsecond line"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with BOM, native order
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16", "utf16-be", "cp1252"],
)
def test_encodings(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    assert read_text(path, LIMITS) == TEXT


def test_latin1_fallback_for_bytes_cp1252_does_not_define(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"caf\xe9 \x81")
    assert read_text(path, LIMITS) == "café \x81"


def test_nul_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"text\x00more")
    with pytest.raises(UnsupportedMediaError):
        read_text(path, LIMITS)


def test_broken_utf16(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + b"a\x00b")
    with pytest.raises(CorruptMediaError):
        read_text(path, LIMITS)


@pytest.mark.parametrize("chars", [11, 1000])
def test_character_limit(tmp_path: Path, chars: int) -> None:
    path = tmp_path / "t.txt"
    path.write_text("é" * chars, encoding="utf-8")
    with pytest.raises(LimitExceededError) as info:
        read_text(path, Limits(max_text_chars=10))
    assert info.value.context["limit"] == "max_text_chars"
    path.write_text("é" * 10, encoding="utf-8")
    assert read_text(path, Limits(max_text_chars=10)) == "é" * 10
