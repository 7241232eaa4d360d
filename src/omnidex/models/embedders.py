"""Text embedders: sentence-transformers models loaded once per process and shared.

:func:`get_embedder` returns the :class:`TextEmbedder` for a model id (a hub id, a cached id or a
folder) and device, loaded once per process (:mod:`omnidex.models.loaded`). torch and
sentence-transformers are imported when a model loads, never when this module is imported.
:func:`get_query_embedder` serves search queries: the torch model where this process has it
loaded, else its ONNX export (:mod:`omnidex.models.onnx_text`, written when the torch model
loads) so a search process never imports torch, else the torch model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.hub import resolve_model
from omnidex.models.loaded import LoadedModels
from omnidex.models.onnx_text import OnnxTextEmbedder, export, load_onnx_embedder

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
        export(self._model, path)

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


def configured_dim(model_id: str) -> int | None:
    """The embedding size a sentence-transformers folder declares (its pooling module's size,
    or the last dense layer's ``out_features``), read without loading the model; None where the
    files do not say it plainly (then the model must load to tell)."""
    path = resolve_model(model_id)
    try:
        modules = json.loads((path / "modules.json").read_text())
        dim = None
        for module in modules:
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            config_file = path / module.get("path", "") / "config.json"
            if kind == "Pooling":
                config = json.loads(config_file.read_text())
                modes = config.get("pooling_mode")
                old = [k for k, v in config.items() if k.startswith("pooling_mode_") and v]
                if (isinstance(modes, list) and len(modes) != 1) or len(old) > 1:
                    return None  # concatenated poolings
                dim = config.get("embedding_dimension") or config.get("word_embedding_dimension")
            elif kind == "Dense":
                dim = json.loads(config_file.read_text()).get("out_features")
            elif kind not in ("Transformer", "Normalize"):
                return None
    except (OSError, ValueError, AttributeError):
        return None
    return dim if isinstance(dim, int) and dim > 0 else None


def get_embedder(model_id: str, device: str | None = None) -> TextEmbedder:
    """The process-wide embedder for ``model_id`` on ``device``, loaded on first use
    (:mod:`omnidex.models.loaded`)."""
    return _EMBEDDERS.get(model_id, device)


def get_query_embedder(model_id: str, device: str | None = None) -> TextEmbedder | OnnxTextEmbedder:
    """The encoder for search queries of ``model_id``: the loaded torch model if this process
    has it, else (device None or ``cpu``) the model's ONNX export on CPU, else the torch model
    (loaded now)."""
    if (loaded := _EMBEDDERS.loaded(model_id, device)) is not None:
        return loaded
    if device not in (None, "cpu"):
        return get_embedder(model_id, device)
    path = resolve_model(model_id)
    with _ONNX_LOCK:
        if path not in _ONNX:
            _ONNX[path] = load_onnx_embedder(path)
        onnx = _ONNX[path]
    return onnx or get_embedder(model_id, device)


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
_ONNX: dict[Path, OnnxTextEmbedder | None] = {}
_ONNX_LOCK = threading.Lock()
