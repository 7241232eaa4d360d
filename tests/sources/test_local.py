"""Expanding local sources: files, directories, globs, hidden entries, loops, missing inputs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from omnidex.errors import SourceNotFoundError
from omnidex.sources.local import expand_sources, sha256_file


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ["a.pdf", "b.txt", "docs/x.md", "docs/deep/y.md", "docs/z.txt", ".hidden.md"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.md").write_text("hidden folder")
    return tmp_path


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_directory_is_walked_recursively_without_hidden_entries(tree: Path) -> None:
    assert names(expand_sources([tree]), tree) == [
        "a.pdf",
        "b.txt",
        "docs/deep/y.md",
        "docs/x.md",
        "docs/z.txt",
    ]


def test_globs_match_files_and_recursive_patterns(tree: Path) -> None:
    assert names(expand_sources([f"{tree}/*.pdf"]), tree) == ["a.pdf"]
    assert names(expand_sources([f"{tree}/docs/**/*.md"]), tree) == ["docs/deep/y.md", "docs/x.md"]


def test_relative_glob_from_the_working_directory(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    assert expand_sources(["docs/*.txt"]) == [tree / "docs" / "z.txt"]


def test_results_are_sorted_and_deduplicated(tree: Path) -> None:
    result = expand_sources([tree / "b.txt", f"{tree}/*.txt", tree / "a.pdf", tree])
    assert result == sorted(result)
    assert len(result) == len(set(result)) == 5


def test_a_hidden_file_named_explicitly_is_kept(tree: Path) -> None:
    assert expand_sources([tree / ".hidden.md"]) == [tree / ".hidden.md"]


@pytest.mark.parametrize("missing", ["nope.pdf", "*.nothing", "docs/**/*.zip"])
def test_what_matches_nothing_is_named_in_the_error(
    tree: Path, missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    with pytest.raises(SourceNotFoundError, match=missing.replace("*", r"\*")) as info:
        expand_sources(["a.pdf", missing])
    assert info.value.context["source"] == missing


def test_symlink_loops_end(tree: Path) -> None:
    os.symlink(tree / "docs", tree / "docs" / "deep" / "loop")
    os.symlink(tree / "missing-target", tree / "dangling.md")
    assert names(expand_sources([tree / "docs"]), tree) == [
        "docs/deep/y.md",
        "docs/x.md",
        "docs/z.txt",
    ]


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
