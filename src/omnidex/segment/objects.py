"""Segmentation: turn one object (text, image, PDF, video, audio) into the segments to extract from.

Everything that can refuse an object (limits, corrupt data, encryption) runs here, eagerly, so a
bad file fails before any extractor starts. A PDF is read in a child process with a memory cap
(:func:`omnidex.media.pdf.isolated`), so that a decompression bomb fails alone. Pixels are not
kept: an image or scanned page is re-opened by its segment's ``image`` callable, a
``functools.partial`` of a module-level function that can be pickled to another process and
called from any thread (a page renders in its own child process).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from omnidex.config import Limits, Settings
from omnidex.errors import LimitExceededError, MissingDependencyError
from omnidex.media.images import open_image, thumbnail_jpeg
from omnidex.media.pdf import POINTS_PER_INCH, PdfFile, isolated, render_page
from omnidex.media.text import read_text
from omnidex.segment.text_chunks import chunk_text
from omnidex.types import ObjectKind, Segment, SegmentationSpec

MIN_PAGE_TEXT_CHARS = 20
"""A PDF page with fewer non-space characters in its text layer is read as an image (OCR)."""


def segment_object(
    *,
    object_id: str,
    path: Path,
    kind: ObjectKind,
    source: str,
    settings: Settings,
    chunk_tokens: int,
    overlap_tokens: int,
    segmentation: SegmentationSpec | None = None,
    workdir: Path | None = None,
) -> list[Segment]:
    """The segments of one object, in document order; typed SourceErrors for bad inputs.

    Video and audio need ``workdir``, a folder that lives as long as the segments: their sound
    is kept there, and read back span by span.
    """
    if kind in ("video", "audio"):
        if workdir is None:
            raise ValueError("segmenting video or audio needs a workdir")
        return _av_segments(
            object_id, path, source, settings, segmentation or SegmentationSpec(), workdir
        )
    if kind == "text":
        text = read_text(path, settings.limits)
        return [
            Segment(
                object_id=object_id,
                kind="text",
                key=f"chunk={c.index:04d}",
                source=source,
                text=c.text,
            )
            for c in chunk_text(text, chunk_tokens, overlap_tokens)
        ]
    if kind == "image":
        return [_image_segment(object_id, path, source, settings)]
    return isolated(
        _pdf_file_segments,
        path,
        object_id,
        source,
        settings,
        chunk_tokens,
        overlap_tokens,
        limits=settings.limits,
        source=source,
    )


def _pdf_file_segments(
    path: Path,
    object_id: str,
    source: str,
    settings: Settings,
    chunk_tokens: int,
    overlap_tokens: int,
) -> list[Segment]:
    """A PDF's segments; runs in the child process :func:`isolated` starts."""
    with PdfFile(path, settings.limits) as pdf:
        return _pdf_segments(pdf, object_id, source, settings, chunk_tokens, overlap_tokens)


def _av_segments(
    object_id: str,
    path: Path,
    source: str,
    settings: Settings,
    segmentation: SegmentationSpec,
    workdir: Path,
) -> list[Segment]:
    try:
        from omnidex.segment.av_objects import segment_av
    except ImportError as exc:
        raise MissingDependencyError(
            f"{path.name}: video and audio need PyAV: pip install 'omnidex[video]' ({exc})",
            source=source,
            dependency="av",
        ) from None
    return segment_av(
        object_id=object_id,
        path=path,
        source=source,
        settings=settings,
        segmentation=segmentation,
        workdir=workdir,
    )


def _image_segment(object_id: str, path: Path, source: str, settings: Settings) -> Segment:
    thumbnail = thumbnail_jpeg(open_image(path, settings.limits), settings.thumbnail_width)
    return Segment(
        object_id=object_id,
        kind="image",
        key="image",
        source=source,
        image=partial(open_image, path, settings.limits),
        thumbnail=thumbnail,
    )


def _pdf_segments(
    pdf: PdfFile,
    object_id: str,
    source: str,
    settings: Settings,
    chunk_tokens: int,
    overlap_tokens: int,
) -> list[Segment]:
    segments: list[Segment] = []
    total_chars = 0
    for index in range(pdf.page_count):
        page = index + 1
        text = pdf.page_text(index)
        total_chars += len(text)
        _check_text_total(total_chars, settings.limits, source)
        thumbnail = _page_thumbnail(pdf, index, settings.thumbnail_width)
        if len("".join(text.split())) >= MIN_PAGE_TEXT_CHARS:
            segments += [
                Segment(
                    object_id=object_id,
                    kind="text",
                    key=f"page={page:04d}/chunk={c.index:03d}",
                    source=source,
                    page=page,
                    text=c.text,
                    thumbnail=thumbnail,
                )
                for c in chunk_text(text, chunk_tokens, overlap_tokens)
            ]
        else:
            pdf.render_size(index, settings.ocr_dpi)  # refuse an oversized page now, not in OCR
            render = partial(render_page, pdf.path, index, settings.ocr_dpi, settings.limits)
            segments.append(
                Segment(
                    object_id=object_id,
                    kind="page",
                    key=f"page={page:04d}",
                    source=source,
                    page=page,
                    image=render,
                    thumbnail=thumbnail,
                )
            )
    return segments


def _page_thumbnail(pdf: PdfFile, index: int, width: int) -> bytes:
    """A JPEG of the page ``width`` pixels wide, rendered directly at that small size."""
    page_width, _ = pdf.page_size(index)
    return thumbnail_jpeg(pdf.render(index, width * POINTS_PER_INCH / max(page_width, 1.0)), width)


def _check_text_total(total_chars: int, limits: Limits, source: str) -> None:
    if total_chars > limits.max_text_chars:
        raise LimitExceededError(
            f"{source}: more than {limits.max_text_chars} characters of text",
            source=source,
            limit="max_text_chars",
        )
