"""The content the server keeps: one file per distinct content, removed when nothing needs it.

A checked upload or a fetched file is named by its sha256 (``<sha256><ext>`` in the uploads
folder), so the same file uploaded five times, to one collection or several, is kept once. A file
is released when an object is deleted (or its collection dropped) and when an ingest fails for
good because of the file itself; it is removed then unless something still needs it: an object
that is not failed with it as its source, or a queued or running task that names it
(:meth:`~omnidex.store.catalog.Catalog.content_in_use`). Placing a file and queuing the task that
names it happen under :data:`LOCK`, as does a release, so that a release in this process never
removes a file a task was just queued for.
"""

from __future__ import annotations

import threading
from pathlib import Path

from omnidex.sources.local import sha256_file
from omnidex.store.catalog import Catalog

LOCK = threading.RLock()
"""Held from placing a file until what needs it is recorded, and while releasing one."""


def place(path: Path, folder: Path) -> Path:
    """``path`` (a checked file in ``folder``) as the folder's one copy of its content: renamed to
    ``<sha256><ext>``, or removed when that copy is already there. Call it under :data:`LOCK`."""
    target = folder / (sha256_file(path) + path.suffix)
    if target.exists():
        path.unlink(missing_ok=True)
    else:
        path.replace(target)
    return target


def release(path: Path, folder: Path, catalog: Catalog) -> bool:
    """Remove ``path`` (only if it lies in ``folder``) unless something still needs it; whether
    it went."""
    if path.resolve().parent != folder.resolve():
        return False
    with LOCK:
        if catalog.content_in_use(str(path)):
            return False
        path.unlink(missing_ok=True)
    return True
