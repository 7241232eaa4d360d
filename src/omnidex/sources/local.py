"""Local sources: expand files, directories and glob patterns into a sorted list of files.

Directories are walked recursively, skipping hidden entries and symlink loops; a path or pattern
that matches nothing is an error that names it, so a typo never turns into a silent no-op.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from omnidex.errors import SourceNotFoundError

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
