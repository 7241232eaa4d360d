"""Text embedders: sentence-transformers models loaded once per process and shared.

:func:`get_embedder` returns the :class:`TextEmbedder` for a model id (a hub id, a cached id or a
folder) and device, loaded once per process (:mod:`omnidex.models.loaded`). torch and
sentence-transformers are imported when a model loads, never when this module is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.loaded import LoadedModels

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class TextEmbedder:
    """A loaded sentence-transformers model; ``encode`` returns L2-normalized float32 rows."""

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.device = device
        self._model = _load_sentence_transformer(path, device)
        # sentence-transformers 6 renamed the method; 3.x-5.x only have the old name.
        dimension = getattr(self._model, "get_embedding_dimension", None)
        dim = dimension() if dimension else self._model.get_sentence_embedding_dimension()
        if not dim:
            raise ModelLoadError(
                f"model at {path} does not declare an embedding size", path=str(path)
            )
        self.dim: int = int(dim)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape ``(len(texts), dim)``, each row of norm 1."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # a fast tokenizer is not safe to share between threads
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def get_embedder(model_id: str, device: str | None = None) -> TextEmbedder:
    """The process-wide embedder for ``model_id`` on ``device``, loaded on first use
    (:mod:`omnidex.models.loaded`)."""
    return _EMBEDDERS.get(model_id, device)


def _load_sentence_transformer(path: Path, device: str) -> SentenceTransformer:
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError:
        raise MissingDependencyError(
            "text embeddings need sentence-transformers: pip install 'omnidex[models]'",
            dependency="sentence-transformers",
        ) from None
    transformers_logging.disable_progress_bar()  # no "Loading weights" bars in our output
    try:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load the sentence-transformers model at {path}: {exc}", path=str(path)
        ) from exc


_EMBEDDERS = LoadedModels(TextEmbedder)
