"""Video and audio kinds: recognise container formats by their magic bytes, before FFmpeg runs.

``sniff_av`` looks at a file's first bytes (a few hundred are enough) and says whether they announce
a video or an audio container. The extension only breaks ties for containers that carry either
(MP4/Matroska/Ogg/ASF); it never makes a file media on its own.
"""

from __future__ import annotations

from typing import Literal

AvKind = Literal["video", "audio"]

_AUDIO_SUFFIXES = frozenset({".m4a", ".m4b", ".mka", ".weba", ".oga", ".ogg", ".opus", ".wma"})
_VIDEO_SUFFIXES = frozenset({".ogv"})
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_TS_PACKET = 188


def sniff_av(head: bytes, suffix: str) -> AvKind | None:
    """``"video"``, ``"audio"`` or None for the container these leading bytes announce."""
    suffix = suffix.lower()
    if head[4:8] == b"ftyp":
        return "audio" if head[8:12] in _AUDIO_BRANDS or suffix in _AUDIO_SUFFIXES else "video"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio"
    if head.startswith(b"\x1a\x45\xdf\xa3") or head.startswith(b"\x30\x26\xb2\x75"):
        return "audio" if suffix in _AUDIO_SUFFIXES else "video"  # Matroska/WebM, ASF
    if head.startswith(b"OggS"):
        return "video" if suffix in _VIDEO_SUFFIXES else "audio"
    if head.startswith((b"DKIF", b"FLV\x01", b"\x00\x00\x01\xba")) or _is_mpeg_ts(head):
        return "video"
    if head.startswith((b"fLaC", b"ID3", b"FORM")) or _is_mpeg_audio_sync(head):
        return "audio"
    return None


def _is_mpeg_ts(head: bytes) -> bool:
    """MPEG-TS: a 0x47 sync byte at the start of each of the first 188-byte packets."""
    offsets = range(0, min(len(head), 3 * _TS_PACKET), _TS_PACKET)
    return len(head) > _TS_PACKET and all(head[i] == 0x47 for i in offsets)


def _is_mpeg_audio_sync(head: bytes) -> bool:
    """An MPEG audio frame header (MP3, or AAC in ADTS): 11 set sync bits."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
