"""PDF pages through pypdfium2: page count, text layer and rendering, within the limits.

PDFium inflates whatever a file's streams hold, so a small PDF can take gigabytes to read: the
ingest path never opens a PDF in the host process, but through :func:`isolated` (a child process
with a memory cap, ``max_pdf_memory_bytes``, and a time limit); :class:`PdfFile` is what runs
inside it.

PDFium is not thread-safe: no two threads may call into it at the same time, even on different
documents. Every call this module makes into pypdfium2 holds the module-level ``PDFIUM_LOCK``; code
elsewhere that uses pypdfium2 directly must hold it too. Processes do not share the library, so
process pools need nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from omnidex.config import Limits
from omnidex.errors import (
    CorruptMediaError,
    EncryptedMediaError,
    LimitExceededError,
    SourceNotFoundError,
)
from omnidex.media.images import check_pixels
from omnidex.media.sandbox import run_isolated
from omnidex.media.text import normalize_whitespace

T = TypeVar("T")

PDFIUM_LOCK = threading.RLock()
POINTS_PER_INCH = 72


class PdfFile:
    """An open PDF, used as a context manager: ``with PdfFile(path, limits) as pdf: ...``."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.source = str(path)
        self._doc: pdfium.PdfDocument | None = None

    def __enter__(self) -> PdfFile:
        if not self.path.is_file():
            raise SourceNotFoundError(f"{self.path}: no such file", source=self.source)
        with self._pdfium("open"):
            self._doc = pdfium.PdfDocument(self.path)
            pages = len(self._doc)
        if pages > self.limits.max_pdf_pages:
            self.close()
            raise LimitExceededError(
                f"{self.path}: {pages} pages is over the limit of {self.limits.max_pdf_pages}",
                source=self.source,
                limit="max_pdf_pages",
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with PDFIUM_LOCK:
            if self._doc is not None:
                self._doc.close()
                self._doc = None

    @property
    def page_count(self) -> int:
        with PDFIUM_LOCK:
            return len(self._document())

    def page_size(self, index: int) -> tuple[float, float]:
        """Width and height of page ``index`` (0-based) in points (1/72 inch)."""
        with self._pdfium(f"read page {index + 1}"):
            page = self._document()[index]
            try:
                width, height = page.get_size()
                return float(width), float(height)
            finally:
                page.close()

    def page_text(self, index: int) -> str:
        """The text layer of page ``index`` (0-based), whitespace normalized."""
        with self._pdfium(f"read the text of page {index + 1}"):
            page = self._document()[index]
            try:
                textpage = page.get_textpage()
                raw = str(textpage.get_text_range())
                textpage.close()
            finally:
                page.close()
        return normalize_whitespace(raw)

    def render_size(self, index: int, dpi: float) -> tuple[int, int]:
        """Pixel size page ``index`` renders at; LimitExceededError over ``max_image_pixels``."""
        width, height = self.page_size(index)
        size = (round(width * dpi / POINTS_PER_INCH), round(height * dpi / POINTS_PER_INCH))
        check_pixels(size, self.limits, f"{self.source} page {index + 1}")
        return size

    def render(self, index: int, dpi: float) -> Image.Image:
        """Page ``index`` (0-based) as an RGB image at ``dpi``, refused over the pixel limit."""
        self.render_size(index, dpi)
        with self._pdfium(f"render page {index + 1}"):
            page = self._document()[index]
            try:
                bitmap = page.render(scale=dpi / POINTS_PER_INCH)
                image = bitmap.to_pil().convert("RGB")
                bitmap.close()
            finally:
                page.close()
        return image

    def _document(self) -> pdfium.PdfDocument:
        if self._doc is None:
            raise RuntimeError("PdfFile is used outside its `with` block")
        return self._doc

    @contextmanager
    def _pdfium(self, action: str) -> Iterator[None]:
        """Hold the lock and turn PdfiumError into the typed errors of omnidex."""
        with PDFIUM_LOCK:
            try:
                yield
            except pdfium.PdfiumError as exc:
                if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                    raise EncryptedMediaError(
                        f"{self.path}: the PDF is password-protected", source=self.source
                    ) from exc
                raise CorruptMediaError(
                    f"{self.path}: cannot {action}: {exc}", source=self.source
                ) from exc


def isolated(fn: Callable[..., T], *args: Any, limits: Limits, source: str) -> T:
    """``fn(*args)`` — a module-level function that opens a PDF — in a child process under
    ``max_pdf_memory_bytes`` and ``decode_timeout_s``, so that a PDF inflating to gigabytes
    (a decompression bomb) fails alone, never taking the host's memory."""
    return run_isolated(
        fn,
        *args,
        timeout_s=limits.decode_timeout_s,
        source=source,
        max_memory_bytes=limits.max_pdf_memory_bytes,
        memory_limit="max_pdf_memory_bytes",
    )


def render_page(path: Path, index: int, dpi: float, limits: Limits) -> Image.Image:
    """Render page ``index`` of ``path`` in a child process (:func:`isolated`): safe to call
    late, from any thread."""
    return isolated(_render_page, path, index, dpi, limits, limits=limits, source=str(path))


def _render_page(path: Path, index: int, dpi: float, limits: Limits) -> Image.Image:
    with PdfFile(path, limits) as pdf:
        return pdf.render(index, dpi)
