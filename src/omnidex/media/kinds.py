"""Probing: decide whether a file is a PDF, an image or text, before any decoder touches it.

Binary formats are recognised by their magic bytes, never by their extension; text is accepted for
known text extensions (and extension-less files) when the bytes actually look like text.
"""

from __future__ import annotations

from pathlib import Path

from omnidex.config import Limits
from omnidex.errors import (
    EmptyFileError,
    LimitExceededError,
    SourceNotFoundError,
    UnsupportedMediaError,
)
from omnidex.media.av_kinds import sniff_av
from omnidex.types import ObjectKind

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".rst", ".text", ".csv", ".log"})
_HEAD_BYTES = 8192
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Control bytes that do not appear in text: anything below 0x20 except \t \n \f \r and ESC.
_BINARY_BYTES = bytes(sorted(set(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}))

_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
}
_OTHER_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (zip, docx, xlsx, epub…)",
    b"MZ": "a Windows executable",
    b"\x7fELF": "an ELF executable",
    b"\x1f\x8b": "gzip-compressed data",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\xd0\xcf\x11\xe0": "a legacy Office document",
}


def detect_kind(path: Path, limits: Limits) -> ObjectKind:
    """``"pdf"``, ``"image"``, ``"video"``, ``"audio"`` or ``"text"``; a typed SourceError for
    anything else."""
    source = str(path)
    check_file(path, limits)
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if image_format(head) is not None:  # before audio/video: WebP is RIFF too
        return "image"
    text_name = path.suffix.lower() in TEXT_EXTENSIONS or not path.suffix
    if text_name and head.startswith(_UTF16_BOMS):  # FF FE also reads as an MPEG audio sync
        return "text"
    if (media := sniff_av(head, path.suffix)) is not None:
        return media
    if text_name and looks_like_text(head):
        return "text"
    raise UnsupportedMediaError(
        f"{path}: unsupported media; it looks like {describe(path, head)}", source=source
    )


def check_file(path: Path, limits: Limits) -> int:
    """The file's size; SourceNotFoundError, EmptyFileError or LimitExceededError otherwise."""
    source = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"{path}: no such file", source=source) from exc
    if size == 0:
        raise EmptyFileError(f"{path}: the file is empty", source=source)
    if size > limits.max_file_bytes:
        raise LimitExceededError(
            f"{path}: {size} bytes is over the limit of {limits.max_file_bytes}",
            source=source,
            limit="max_file_bytes",
        )
    return size


def image_format(head: bytes) -> str | None:
    """The image format these leading bytes announce (``"PNG"``, ``"WEBP"``…), if any."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _IMAGE_MAGIC.items() if head.startswith(magic)), None)


def looks_like_text(head: bytes) -> bool:
    """True for UTF-16 with a BOM, or bytes without NULs and with few control characters."""
    if head.startswith(_UTF16_BOMS):
        return True
    if b"\x00" in head:
        return False
    controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    return controls <= len(head) // 100


def describe(path: Path, head: bytes) -> str:
    """A short human description of what a file that is not accepted seems to be."""
    for magic, what in _OTHER_MAGIC.items():
        if head.startswith(magic):
            return what
    if looks_like_text(head):
        return f"text with an unsupported extension {path.suffix!r}"
    return "binary data"
