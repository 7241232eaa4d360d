"""Probing: magic bytes decide binaries, extensions and content decide text, the rest is refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from omnidex.config import Limits
from omnidex.errors import (
    EmptyFileError,
    LimitExceededError,
    SourceNotFoundError,
    UnsupportedMediaError,
)
from omnidex.media.kinds import detect_kind
from omnidex.samples import make_pdf, make_text_image

LIMITS = Limits()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"])
def test_images_are_recognised_by_magic_bytes(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "picture.data"  # the extension does not matter
    make_text_image("hi", (40, 20), font_size=10).save(path, format=fmt)
    assert detect_kind(path, LIMITS) == "image"


def test_pdf(tmp_path: Path) -> None:
    assert detect_kind(make_pdf(tmp_path / "doc.pdf", ["Title\n\nBody."]), LIMITS) == "pdf"


@pytest.mark.parametrize("name", ["notes.txt", "README.md", "data.csv", "LICENSE", "x.RST"])
def test_text_by_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("plain text, café\n", encoding="utf-8")
    assert detect_kind(path, LIMITS) == "text"


def test_utf16_text_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_text("hello", encoding="utf-16")
    assert detect_kind(path, LIMITS) == "text"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.touch()
    with pytest.raises(EmptyFileError) as info:
        detect_kind(path, LIMITS)
    assert info.value.context["source"] == str(path)


def test_file_over_the_byte_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 101)
    with pytest.raises(LimitExceededError) as info:
        detect_kind(path, Limits(max_file_bytes=100))
    assert info.value.context["limit"] == "max_file_bytes"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        detect_kind(tmp_path / "nope.txt", LIMITS)


def _docx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")


@pytest.mark.parametrize(
    ("name", "write", "looks_like"),
    [
        ("report.docx", _docx, "ZIP archive"),
        ("tool.exe", lambda p: p.write_bytes(b"MZ\x90\x00" + bytes(100)), "Windows executable"),
        ("binary.txt", lambda p: p.write_bytes(bytes(range(256)) * 4), "binary data"),
        ("fake.pdf", lambda p: p.write_text("just words"), "text with an unsupported extension"),
        ("data.json", lambda p: p.write_text("{}"), "text with an unsupported extension '.json'"),
    ],
)
def test_unsupported_media_names_the_file_and_what_it_looks_like(
    tmp_path: Path, name: str, write: object, looks_like: str
) -> None:
    path = tmp_path / name
    assert callable(write)
    write(path)
    with pytest.raises(UnsupportedMediaError) as info:
        detect_kind(path, LIMITS)
    assert str(path) in str(info.value)
    assert looks_like in str(info.value)
    assert info.value.context["source"] == str(path)
