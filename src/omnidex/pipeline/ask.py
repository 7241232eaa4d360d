"""Visual question answering at query time: a question about one document's picture.

:func:`ask` answers with the Phi-4-multimodal model the collection's spec already names (the
first extractor with Phi-4 options: ``scene_caption@v1``, ``speech_summary@v1``, or ``ocr@v1`` /
``transcription@v1`` with ``engine: phi4mm``), on the same backend, so a collection ingested with
a served model asks that server and one ingested in process asks the loaded model.

The picture comes from the source at full quality: the image file, the PDF page rendered, or the
frame at the middle of a scene decoded in the sandbox. When the source is gone, the document's
stored thumbnail stands in, and the log says so.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image

from omnidex.config import Settings
from omnidex.errors import InvalidSpecError, OmnidexError
from omnidex.extractors.phi4_backend import Phi4Options, generator_for
from omnidex.extractors.registry import create
from omnidex.media.images import open_image
from omnidex.media.pdf import render_page
from omnidex.media.sandbox import run_isolated
from omnidex.models.phi4mm import fit_image
from omnidex.models.prompts import Prompt
from omnidex.types import CollectionSpec, Document

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
QA_MAX_SIDE = 1344
"""A question may hinge on small details: pictures are sent larger than for captions."""
QA_MAX_CROPS = 9


def phi4_options(spec: CollectionSpec, collection: str) -> Phi4Options:
    """The Phi-4 options of the first extractor in ``spec`` that runs Phi-4-multimodal."""
    for index, extractor_spec in enumerate(spec.extractors):
        params = create(extractor_spec, index).params
        if isinstance(params, Phi4Options) and getattr(params, "engine", "phi4mm") == "phi4mm":
            return Phi4Options(**{name: getattr(params, name) for name in Phi4Options.model_fields})
    raise InvalidSpecError(
        f"collection {collection!r} has no Phi-4-multimodal extractor to answer questions with; "
        "add scene_caption@v1, or ocr@v1 or transcription@v1 with engine: phi4mm",
        collection=collection,
        field="extractors",
    )


def ask(
    options: Phi4Options,
    document: Document,
    question: str,
    settings: Settings,
    max_new_tokens: int = 256,
) -> str:
    """Phi-4-multimodal's answer to ``question`` about ``document``'s picture."""
    question = question.strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        raise InvalidSpecError(
            f"a question must have 1 to {MAX_QUESTION_CHARS} characters, not {len(question)}",
            field="question",
        )
    if not 1 <= max_new_tokens <= 4096:
        raise InvalidSpecError("max_new_tokens must be between 1 and 4096", field="max_new_tokens")
    image = fit_image(picture_of(document, settings), QA_MAX_SIDE)
    prompt = Prompt(
        question, images=(image,), max_new_tokens=max_new_tokens, max_crops=QA_MAX_CROPS
    )
    return generator_for(options).generate([prompt])[0]


def picture_of(document: Document, settings: Settings) -> Image.Image:
    """The image, PDF page or scene frame ``document`` stands for; its thumbnail if the source
    cannot be read any more."""
    source = Path(document.source)
    try:
        if document.kind == "image":
            return open_image(source, settings.limits)
        if document.page is not None and source.suffix.lower() == ".pdf":
            return render_page(source, document.page - 1, settings.ocr_dpi, settings.limits)
        if document.kind == "scene" and document.start_s is not None:
            return _scene_frame(source, document, settings)
    except (OSError, OmnidexError) as exc:
        if not document.thumbnail:
            raise
        log.warning("cannot read %s (%s); asking about the thumbnail instead", source, exc)
    if document.thumbnail:
        return Image.open(io.BytesIO(document.thumbnail)).convert("RGB")
    raise InvalidSpecError(
        f"document {document.id!r} is a {document.kind} without a picture to ask about",
        id=document.id,
        field="doc_id",
    )


def _scene_frame(source: Path, document: Document, settings: Settings) -> Image.Image:
    from omnidex.segment.av_objects import decode_jpeg, frames_jpeg

    if not source.is_file():
        raise FileNotFoundError(source)
    middle = ((document.start_s or 0.0) + (document.end_s or document.start_s or 0.0)) / 2
    jpegs = run_isolated(
        frames_jpeg,
        source,
        [middle],
        timeout_s=settings.limits.decode_timeout_s,
        source=str(source),
    )
    if not jpegs:
        raise FileNotFoundError(f"no frame at {middle:.2f} s in {source}")
    return decode_jpeg(jpegs[0])
