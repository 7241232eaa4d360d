"""The tesseract OCR engine, run as a program: checks that it is installed and reads images.

:class:`TesseractEngine` pipes a PNG into ``tesseract stdin stdout … tsv`` and parses the TSV: each
level-5 row is a word with its confidence and box; the text is rebuilt from the words with line
breaks between lines and blank lines between paragraphs. The picture is first made dark-on-light
everywhere (:func:`omnidex.models.ocr_image.for_ocr`), so a white title on a dark bar is read, and
a slide's bullet glyphs, which tesseract reads as ``e``, ``©``, ``¢``, ``*``…, are dropped from
the starts of lines (:func:`drop_bullets`).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omnidex.errors import ExtractionError, MissingDependencyError
from omnidex.models.ocr_image import for_ocr

if TYPE_CHECKING:
    from PIL import Image

INSTALL_HINT = (
    "install it with `apt-get install tesseract-ocr` (Debian/Ubuntu), `brew install tesseract` "
    "(macOS), or run `scripts/install-system-deps` in the omnidex repository"
)
_PNG_MODES = {"1", "L", "LA", "RGB", "RGBA"}
_WORD_LEVEL = 5
BULLET_MISREADS = frozenset("•·●○◦▪■□►▸-–—*+«»¢©®@°eoO")
"""What a bullet glyph comes out as: dropped when it is a line's whole first word."""


@dataclass(frozen=True)
class Word:
    """One recognized word: its text, confidence 0..100 and box ``(x, y, w, h)`` in pixels."""

    text: str
    conf: float
    box: tuple[int, int, int, int]
    line: tuple[int, int, int] = (0, 0, 0)
    """(block, paragraph, line) numbers: where the word sits in the page layout."""

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "conf": self.conf, "box": list(self.box)}


@dataclass(frozen=True)
class OcrResult:
    text: str
    words: list[Word] = field(default_factory=list)
    confidence: float = 0.0
    """Mean word confidence 0..100; 0.0 when no words were found."""

    @classmethod
    def from_words(cls, words: list[Word]) -> OcrResult:
        confidence = sum(w.conf for w in words) / len(words) if words else 0.0
        return cls(text=layout_text(words), words=words, confidence=confidence)


def layout_text(words: list[Word]) -> str:
    """Words joined by spaces, lines by newlines, paragraphs and blocks by a blank line."""
    parts: list[str] = []
    previous: tuple[int, int, int] | None = None
    for word in words:
        if previous is not None:
            if word.line[:2] != previous[:2]:
                parts.append("\n\n")
            else:
                parts.append("\n" if word.line != previous else " ")
        parts.append(word.text)
        previous = word.line
    return "".join(parts)


def drop_bullets(words: list[Word]) -> list[Word]:
    """The words but each line's first one when it is a lone bullet glyph (or a misreading of
    one) with more words after it on its line."""
    kept: list[Word] = []
    for at, word in enumerate(words):
        first = at == 0 or words[at - 1].line != word.line
        more = at + 1 < len(words) and words[at + 1].line == word.line
        if first and more and word.text in BULLET_MISREADS:
            continue
        kept.append(word)
    return kept


def parse_tsv(tsv: str) -> list[Word]:
    """The words (level-5 rows with text) of tesseract's TSV output, in reading order."""
    lines = tsv.splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    words = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=False))
        text = row.get("text", "").strip()
        if int(row.get("level", 0)) != _WORD_LEVEL or not text:
            continue
        words.append(
            Word(
                text=text,
                conf=max(float(row["conf"]), 0.0),
                box=(int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"])),
                line=(int(row["block_num"]), int(row["par_num"]), int(row["line_num"])),
            )
        )
    return words


def _png_bytes(image: Image.Image) -> bytes:
    if image.mode not in _PNG_MODES:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _package_for(language: str) -> str:
    return "tesseract-ocr-" + language.lower().replace("_", "-")


def missing_languages_message(missing: list[str]) -> str:
    """Which language packs tesseract lacks and how to install them."""
    packages = " ".join(_package_for(lang) for lang in missing)
    return (
        f"tesseract has no language pack for {', '.join(missing)} "
        f"(see `tesseract --list-langs`); install it with `apt-get install {packages}` "
        "or put the .traineddata files in TESSDATA_PREFIX"
    )


class TesseractEngine:
    """OCR with the ``tesseract`` program for ``languages`` (``eng``, ``eng+deu``…)."""

    def __init__(
        self, languages: str = "eng", psm: int = 3, oem: int | None = None, timeout_s: float = 120
    ) -> None:
        self.languages = languages
        self.psm = psm
        self.oem = oem
        self.timeout_s = timeout_s

    def binary(self) -> str:
        """The path of the tesseract program; MissingDependencyError saying how to install it."""
        path = shutil.which("tesseract")
        if path is None:
            raise MissingDependencyError(
                f"OCR needs the tesseract program, which is not on PATH; {INSTALL_HINT}",
                dependency="tesseract",
            )
        return path

    def check(self) -> None:
        """MissingDependencyError when tesseract or one of the language packs is absent."""
        if missing := self.missing_languages():
            raise MissingDependencyError(
                missing_languages_message(missing), dependency="tesseract", languages=missing
            )

    def missing_languages(self) -> list[str]:
        """The languages asked for that tesseract has no pack for; MissingDependencyError
        when tesseract itself is absent."""
        installed = self.installed()
        return [lang for lang in self.languages.split("+") if lang not in installed]

    def installed(self) -> set[str]:
        """The language packs tesseract reports with ``--list-langs``."""
        out = self._run([self.binary(), "--list-langs"], b"")
        lines = (line.strip() for line in out.splitlines())
        return {line for line in lines if line and not line.startswith("List of")}

    def read(self, image: Image.Image) -> OcrResult:
        """The words of ``image`` with their boxes and confidences, and the text they make."""
        command = [self.binary(), "stdin", "stdout", "-l", self.languages, "--psm", str(self.psm)]
        if self.oem is not None:
            command += ["--oem", str(self.oem)]
        words = parse_tsv(self._run([*command, "tsv"], _png_bytes(for_ocr(image))))
        return OcrResult.from_words(drop_bullets(words))

    def read_many(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        """:meth:`read` of each image, in order, in parallel threads (one tesseract each, at most
        one per CPU)."""
        workers = max(1, min(len(images), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
            return list(pool.map(self.read, images))

    def _run(self, command: list[str], stdin: bytes) -> str:
        # Callers parallelize across images: one thread per tesseract process is fastest.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, timeout=self.timeout_s, env=env
            )
        except subprocess.TimeoutExpired:
            raise ExtractionError(
                f"tesseract took longer than {self.timeout_s} s", command=" ".join(command)
            ) from None
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip()
            raise ExtractionError(
                f"tesseract failed (exit {done.returncode}): {stderr}", command=" ".join(command)
            )
        return done.stdout.decode(errors="replace")
