"""Images: open with a pixel limit checked from the header before decoding, and make thumbnails.

Pillow's own decompression-bomb guard is a process-wide setting (``Image.MAX_IMAGE_PIXELS``) that
warns or raises at thresholds omnidex does not choose. ``open_image`` therefore opens files through
the format plugins directly, for the formats ``detect_kind`` accepts only, and applies
``Limits.max_image_pixels`` itself: one limit, configurable, reported as a LimitExceededError.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import IO, Literal

from PIL import Image, ImageFile, ImageOps

from omnidex.config import Limits
from omnidex.errors import CorruptMediaError, LimitExceededError, SourceNotFoundError

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP")
THUMBNAIL_QUALITY = 80
# What Pillow raises on a malformed header or truncated data.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, IndexError, TypeError, EOFError, struct.error)


def open_image(path: Path, limits: Limits) -> Image.Image:
    """Decode an image file to RGB, upright per its EXIF orientation, within the pixel limit."""
    try:
        with path.open("rb") as handle:
            return _decode(handle, limits, str(path))
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"{path}: no such file", source=str(path)) from exc


def decode_image(data: bytes, limits: Limits, source: str = "image") -> Image.Image:
    """:func:`open_image` for bytes in memory (an uploaded or base64 query image)."""
    if len(data) > limits.max_file_bytes:
        raise LimitExceededError(
            f"{source}: {len(data)} bytes is over the limit of {limits.max_file_bytes} "
            "(max_file_bytes)",
            source=source,
            limit="max_file_bytes",
        )
    return _decode(io.BytesIO(data), limits, source)


def as_image(value: Image.Image | bytes, limits: Limits, source: str = "image") -> Image.Image:
    """An image given as a PIL image or the bytes of an image file, as RGB within the limits."""
    if isinstance(value, Image.Image):
        check_pixels(value.size, limits, source)
        return value if value.mode == "RGB" else value.convert("RGB")
    return decode_image(value, limits, source)


def _decode(handle: IO[bytes], limits: Limits, source: str) -> Image.Image:
    try:
        image = _open_header(handle, source)
        check_pixels(image.size, limits, source)
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")
    except _DECODE_ERRORS as exc:
        raise CorruptMediaError(f"{source}: cannot decode the image: {exc}", source=source) from exc


def check_pixels(
    size: tuple[int, int],
    limits: Limits,
    source: str,
    limit: Literal["max_image_pixels", "max_video_pixels"] = "max_image_pixels",
) -> None:
    """LimitExceededError when ``width × height`` is over the pixel limit named ``limit``."""
    width, height = size
    allowed = getattr(limits, limit)
    if width * height > allowed:
        raise LimitExceededError(
            f"{source}: {width}x{height} = {width * height} pixels is over the limit of "
            f"{allowed} ({limit})",
            source=source,
            limit=limit,
        )


def thumbnail_jpeg(image: Image.Image, width: int) -> bytes:
    """JPEG bytes of ``image`` scaled to fit a ``width`` × ``width`` box (never enlarged), aspect
    kept: a landscape picture ``width`` wide, a portrait one ``width`` tall."""
    scale = width / max(image.width, image.height)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def _open_header(handle: IO[bytes], source: str) -> ImageFile.ImageFile:
    """Parse the header only (no pixels) with the first plugin in FORMATS that accepts the file."""
    Image.init()
    prefix = handle.read(16)
    for name in FORMATS:
        if name not in Image.OPEN:  # a Pillow built without this codec
            continue
        factory, accept = Image.OPEN[name]
        if accept is not None and (isinstance(ok := accept(prefix), str) or not ok):
            continue
        handle.seek(0)
        return factory(handle, source)
    raise CorruptMediaError(
        f"{source}: not a PNG, JPEG, GIF, WEBP, TIFF or BMP image", source=source
    )
