"""Files the server keeps: uploads streamed to disk under generated names, within the size limit.

No name a client sends reaches the file system: a stored file is ``<random hex><.ext>``. The
client's extension (a hint for detection) is kept only while the bytes are checked and only when it
is a short run of letters and digits; a file that is kept is then renamed to the extension of the
kind its bytes show (:mod:`omnidex.media.served`), so ``x.html`` holding a GIF is kept as ``.gif``.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from omnidex.config import Limits
from omnidex.errors import (
    InvalidSpecError,
    OmnidexError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)
from omnidex.media.kinds import detect_kind
from omnidex.media.served import served_as
from omnidex.sources.local import copy_capped
from omnidex.types import ObjectKind

_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
_PATH_LIKE = re.compile(r"[/\\\x00]|^\.\.?$|^\.\.")
EXPECTED_KIND: dict[str, ObjectKind] = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"), "image"),
    ".pdf": "pdf",
    **dict.fromkeys((".wav", ".mp3", ".flac"), "audio"),
}
"""What files with these extensions must hold; an upload whose bytes say otherwise is refused.
(Containers such as .mp4 or .webm may hold video or only sound, so they are not listed.)"""


def check_filename(filename: str | None) -> None:
    """InvalidSpecError for a name that is a path (separators, ``..``, NUL) rather than a name."""
    if filename and _PATH_LIKE.search(filename):
        raise InvalidSpecError(
            f"file name {filename!r} looks like a path; send a plain file name", field="file"
        )


def check_content(path: Path, filename: str | None, limits: Limits) -> ObjectKind:
    """The kind the stored file's bytes show; the typed error (empty, unsupported, too big, or
    bytes that contradict the extension) otherwise, with the file removed. Errors name the
    client's file, never where the server keeps it."""
    try:
        kind = detect_kind(path, limits)
        expected = EXPECTED_KIND.get(Path(filename or "").suffix.lower())
        if expected is not None and kind != expected:
            raise UnsupportedMediaError(
                f"{filename}: the name says {expected} but the bytes are {kind}", source=filename
            )
    except OmnidexError as exc:
        path.unlink(missing_ok=True)
        shown = filename or "the upload"
        exc.message = exc.message.replace(str(path), shown)
        exc.context = {
            k: v.replace(str(path), shown) if isinstance(v, str) else v
            for k, v in exc.context.items()
        }
        exc.args = (exc.message,)
        raise
    return kind


def keep(path: Path, filename: str | None, limits: Limits) -> Path:
    """The checked upload (:func:`check_content`), renamed to the extension of its kind."""
    return named_by_kind(path, check_content(path, filename, limits))


def named_by_kind(path: Path, kind: ObjectKind) -> Path:
    """``path`` renamed to the extension its bytes of ``kind`` call for, not the one sent."""
    target = path.with_name(path.stem + served_as(path, kind).suffix)
    if target != path:
        path.rename(target)
    return target


def stored_name(filename: str | None) -> str:
    """A fresh random file name that keeps ``filename``'s extension when it is a plain one."""
    suffix = Path(filename or "").suffix
    return secrets.token_hex(16) + (suffix.lower() if _EXTENSION.match(suffix) else "")


def save_stream(source: BinaryIO, folder: Path, filename: str | None, max_bytes: int) -> Path:
    """Copy ``source`` into ``folder`` under a generated name; PayloadTooLargeError (and nothing
    left behind) past ``max_bytes``."""
    target = folder / stored_name(filename)

    def too_big() -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"upload larger than the limit of {max_bytes} bytes",
            limit="max_upload_bytes",
            max_bytes=max_bytes,
        )

    copy_capped(source, target, max_bytes, too_big)
    return target


def move_into(path: Path, folder: Path, filename: str | None, limits: Limits) -> Path:
    """Move a fetched file into ``folder`` under a generated name with the extension of the kind
    its bytes show (``filename``'s, when it shows none: ingest then reports what is wrong)."""
    target = folder / stored_name(filename)
    shutil.move(path, target)
    try:
        return named_by_kind(target, detect_kind(target, limits))
    except OmnidexError:
        return target
