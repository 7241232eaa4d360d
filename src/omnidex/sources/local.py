"""Local sources: expand files, directories and glob patterns into a sorted list of files, and
copy a stream into a new local file within a size limit.

Directories are walked recursively, skipping hidden entries and symlink loops; a path or pattern
that matches nothing is an error that names it, so a typo never turns into a silent no-op.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from omnidex.errors import OmnidexError, SourceNotFoundError, StorageFullError, is_storage_full

COPY_CHUNK = 1024 * 1024

_GLOB_CHARS = frozenset("*?[")


def expand_sources(inputs: Sequence[str | Path]) -> list[Path]:
    """Every regular file that ``inputs`` name, as absolute paths, sorted and de-duplicated."""
    found: set[Path] = set()
    for item in inputs:
        matches = list(_expand_one(str(item)))
        if not matches:
            raise SourceNotFoundError(f"{item}: no such file, directory or match", source=str(item))
        found.update(matches)
    return sorted(found)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, streamed so that size does not matter."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def copy_capped(
    source: BinaryIO, target: Path, max_bytes: int, too_big: Callable[[], OmnidexError]
) -> int:
    """Copy ``source`` into the new file ``target`` in chunks and return the bytes copied; raise
    ``too_big()`` past ``max_bytes``. On any failure ``target`` is removed."""
    copied = 0
    try:
        with open(target, "xb") as out:
            while chunk := source.read(COPY_CHUNK):
                copied += len(chunk)
                if copied > max_bytes:
                    raise too_big()
                out.write(chunk)
    except BaseException as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, OSError) and is_storage_full(exc):
            raise StorageFullError(f"no space left to store {target.name}") from exc
        raise
    return copied


def _expand_one(item: str) -> Iterator[Path]:
    path = Path(item).expanduser()
    if path.is_file():
        yield _absolute(path)
    elif path.is_dir():
        yield from _walk(path)
    elif _GLOB_CHARS.intersection(item):
        for match in glob.iglob(str(path), recursive=True):
            yield from _expand_one(match) if Path(match).is_dir() else _files([Path(match)])


def _walk(root: Path) -> Iterator[Path]:
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a symlink loop, or a second link to a folder already walked
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        yield from _files(Path(folder, name) for name in files if not name.startswith("."))


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    """Regular files only (following links): no sockets, FIFOs or dangling links."""
    return (_absolute(p) for p in paths if p.is_file())


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))
