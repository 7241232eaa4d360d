"""Text embedders: sentence-transformers models loaded once per process and shared.

:func:`get_embedder` resolves a model id with :func:`omnidex.models.hub.resolve_model` and returns
the :class:`TextEmbedder` for that folder and device, loading it on first use only, even when many
threads ask at once. torch and sentence-transformers are imported when a model loads, never when
this module is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.hub import resolve_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_by_path: dict[tuple[Path, str], TextEmbedder] = {}
_by_id: dict[tuple[str, str], TextEmbedder] = {}
_cache_lock = threading.Lock()


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


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def get_embedder(model_id: str, device: str | None = None) -> TextEmbedder:
    """The process-wide embedder for ``model_id`` on ``device``, loaded on first use.

    Models are shared per (resolved folder, device); a model id is resolved once per process, so
    later calls do not probe the hub again.
    """
    device = device or default_device()
    if (known := _by_id.get((model_id, device))) is not None:
        return known
    key = (resolve_model(model_id), device)
    with _cache_lock:
        if key not in _by_path:
            _by_path[key] = TextEmbedder(*key)
        _by_id[(model_id, device)] = _by_path[key]
        return _by_path[key]


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
