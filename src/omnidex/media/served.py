"""What a browser is told a stored source file is: a content type and an extension from its bytes.

Only what a browser shows or plays inline (PNG, JPEG, GIF, WebP, BMP, PDF, MP4, WebM, Ogg, WAV,
MP3, FLAC) gets its own type and is ``inline``; other media is ``application/octet-stream`` and
text is ``text/plain``, both served as attachments. A file's name never decides: nothing is ever
HTML, SVG or script, so a stored file cannot run on the server's origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omnidex.media.av_kinds import sniff_av
from omnidex.media.kinds import TEXT_EXTENSIONS, image_format
from omnidex.types import ObjectKind

_HEAD_BYTES = 8192
_OCTETS = "application/octet-stream"
_IMAGES = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
    "BMP": ("image/bmp", ".bmp"),
}


@dataclass(frozen=True)
class Served:
    content_type: str
    suffix: str
    """The extension a stored file of this kind gets (it keeps re-detection to the same kind)."""
    inline: bool
    """Whether a browser may show it in place; otherwise it is sent as an attachment."""


def served_as(path: Path, kind: ObjectKind) -> Served:
    """How to serve (and name) the file at ``path``, whose detected kind is ``kind``."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    return served_from(head, kind, path.suffix.lower())


def served_from(head: bytes, kind: ObjectKind, suffix: str = "") -> Served:
    """How to serve a file of ``kind`` whose leading bytes are ``head``."""
    if kind == "pdf" and head.startswith(b"%PDF-"):
        return Served("application/pdf", ".pdf", inline=True)
    if kind == "image":
        fmt = image_format(head)
        if fmt in _IMAGES:
            content_type, image_suffix = _IMAGES[fmt]
            return Served(content_type, image_suffix, inline=True)
        return Served(_OCTETS, ".tif" if fmt == "TIFF" else ".bin", inline=False)
    if kind in ("video", "audio") and sniff_av(head, suffix) == kind:
        return _av(head, kind)
    if kind == "text":
        charset = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
        text_suffix = suffix if suffix in TEXT_EXTENSIONS else ".txt"
        return Served(f"text/plain; charset={charset}", text_suffix, inline=False)
    return Served(_OCTETS, ".bin", inline=False)


def _av(head: bytes, kind: ObjectKind) -> Served:
    video = kind == "video"
    if head[4:8] == b"ftyp":
        return Served("video/mp4" if video else "audio/mp4", ".mp4" if video else ".m4a", True)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in head[:64]:
            return Served(
                "video/webm" if video else "audio/webm", ".webm" if video else ".weba", True
            )
        return Served(_OCTETS, ".mkv" if video else ".mka", inline=False)
    if head.startswith(b"OggS"):
        return Served("video/ogg" if video else "audio/ogg", ".ogv" if video else ".ogg", True)
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Served("audio/wav", ".wav", inline=True)
    if head.startswith(b"fLaC"):
        return Served("audio/flac", ".flac", inline=True)
    if head.startswith(b"ID3") or (not video and head[:1] == b"\xff"):
        return Served("audio/mpeg", ".mp3", inline=True)
    if head.startswith(b"\x30\x26\xb2\x75"):
        return Served(_OCTETS, ".wmv" if video else ".wma", inline=False)
    if head[:1] == b"\x47":
        return Served(_OCTETS, ".ts", inline=False)
    return Served(_OCTETS, _OTHER_AV.get(head[:4], ".avi"), inline=False)


_OTHER_AV = {b"FLV\x01": ".flv", b"DKIF": ".ivf", b"\x00\x00\x01\xba": ".mpg", b"FORM": ".aiff"}
