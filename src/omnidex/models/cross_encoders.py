"""Cross-encoders for reranking: sentence-transformers ``CrossEncoder`` models, loaded once.

:func:`get_cross_encoder` returns the model for an id (a hub id, a cached id or a local folder,
offline when they can), loaded once per process (:mod:`omnidex.models.loaded`). torch is imported
when a model loads, never before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.loaded import LoadedModels


class CrossEncoderModel:
    """A loaded cross-encoder: one relevance score per (query, passage) pair."""

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self._model = _load(path, device)
        self._lock = threading.Lock()

    def score(self, query: str, passages: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            scores = self._model.predict(
                [(query, p) for p in passages],
                batch_size=batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(scores, dtype=np.float32).reshape(len(passages))


def get_cross_encoder(model_id: str, device: str | None = None) -> CrossEncoderModel:
    """The process-wide cross-encoder for ``model_id`` on ``device``, loaded on first use."""
    return _CROSS_ENCODERS.get(model_id, device)


def _load(path: Path, device: str) -> Any:
    try:
        from sentence_transformers import CrossEncoder
    except ImportError:
        raise MissingDependencyError(
            "reranking needs sentence-transformers: pip install 'omnidex[models]'",
            dependency="sentence-transformers",
        ) from None
    try:
        return CrossEncoder(str(path), device=device, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load the cross-encoder at {path}: {exc}", path=str(path)
        ) from exc


_CROSS_ENCODERS = LoadedModels(CrossEncoderModel)
