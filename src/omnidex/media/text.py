"""Reading text files: detect the encoding (UTF-8, UTF-16 with a BOM, else cp1252/latin-1)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from omnidex.config import Limits
from omnidex.errors import (
    CorruptMediaError,
    LimitExceededError,
    SourceNotFoundError,
    UnsupportedMediaError,
)

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_MAX_BYTES_PER_CHAR = 4


def read_text(path: Path, limits: Limits) -> str:
    """The decoded content of a text file, refused when binary or over ``max_text_chars``."""
    source = str(path)
    try:
        if path.stat().st_size > _MAX_BYTES_PER_CHAR * limits.max_text_chars + 4:
            raise _too_long(path, limits)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"{path}: no such file", source=source) from exc
    text = decode_text(data, source)
    if len(text) > limits.max_text_chars:
        raise _too_long(path, limits)
    return text


def decode_text(data: bytes, source: str) -> str:
    """Decode bytes as UTF-8 (BOM optional), UTF-16 with a BOM, cp1252, then latin-1."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CorruptMediaError(f"{source}: invalid UTF-16 text: {exc}", source=source) from exc
    if b"\x00" in data:
        raise UnsupportedMediaError(
            f"{source}: contains NUL bytes; it looks like binary data, not text", source=source
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _too_long(path: Path, limits: Limits) -> LimitExceededError:
    return LimitExceededError(
        f"{path}: more than {limits.max_text_chars} characters of text",
        source=str(path),
        limit="max_text_chars",
    )


def normalize_whitespace(text: str) -> str:
    """Merge runs of spaces, keep single line breaks, keep paragraph breaks as one blank line."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
