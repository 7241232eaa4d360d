"""Files the server keeps: uploads streamed to disk under generated names, within the size limit.

No name a client sends reaches the file system: a stored file is ``<random hex><.ext>``, where the
extension (which tells omnidex the kind of media) is kept only when it is a short run of letters
and digits.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from omnidex.errors import PayloadTooLargeError

CHUNK = 1024 * 1024
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


def stored_name(filename: str | None) -> str:
    """A fresh random file name that keeps ``filename``'s extension when it is a plain one."""
    suffix = Path(filename or "").suffix
    return secrets.token_hex(16) + (suffix.lower() if _EXTENSION.match(suffix) else "")


def save_stream(source: BinaryIO, folder: Path, filename: str | None, max_bytes: int) -> Path:
    """Copy ``source`` into ``folder`` under a generated name; PayloadTooLargeError (and nothing
    left behind) past ``max_bytes``."""
    target = folder / stored_name(filename)
    written = 0
    try:
        with open(target, "xb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise PayloadTooLargeError(
                        f"upload larger than the limit of {max_bytes} bytes",
                        limit="max_upload_bytes",
                        max_bytes=max_bytes,
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def discard(path: Path, folder: Path) -> None:
    """Remove a stored file, only if it lies in ``folder``."""
    if path.resolve().parent == folder.resolve():
        path.unlink(missing_ok=True)


def move_into(path: Path, folder: Path, filename: str | None) -> Path:
    """Move a fetched file into ``folder`` under a generated name with ``filename``'s extension."""
    target = folder / stored_name(filename)
    shutil.move(path, target)
    return target
