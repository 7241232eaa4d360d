"""Vision-language dual encoders (SigLIP 2, SigLIP, CLIP) through transformers, shared per process.

:func:`get_dual_encoder` returns the :class:`DualEncoder` for a model id (a hub id, a cached id or
a folder) and device, loaded once per process (:mod:`omnidex.models.loaded`) with ``AutoModel``
and ``AutoProcessor``: fp32 on a CPU, bf16 (fp16 where bf16 is missing) on CUDA. Its image tower
embeds pictures, its text tower text, into one space; every row is L2-normalized float32.
:func:`embedding_dim` reads a checkpoint's embedding size from its ``config.json`` without
loading the weights. torch and transformers are imported when a model loads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.hub import resolve_model
from omnidex.models.loaded import LoadedModels

if TYPE_CHECKING:
    from PIL import Image

TEXT_INPUTS = ("input_ids", "attention_mask")
"""What the text towers take from a tokenizer (SigLIP and CLIP ignore token type ids)."""


def embedding_dim(model_id: str) -> int:
    """The size of a dual encoder's vectors, from its config: CLIP's ``projection_dim``, else
    SigLIP's text hidden size (its towers meet without a projection of their own)."""
    path = resolve_model(model_id)
    return _config_dim(path)


def _config_dim(path: Path) -> int:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model at {path} has no readable config.json: {exc}") from None
    dim = config.get("projection_dim") or (config.get("text_config") or {}).get("hidden_size")
    if not isinstance(dim, int) or dim < 1:
        raise ModelLoadError(
            f"model at {path} is not a dual encoder (no projection_dim or text_config.hidden_size "
            "in config.json)",
            path=str(path),
        )
    return dim


class DualEncoder:
    """A loaded image-text model and its processor; ``encode_*`` return normalized rows."""

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.device = device
        self.dim = _config_dim(path)
        self._torch, self._model, self._processor = _load(path, device)
        config = self._model.config
        self._max_length = int(getattr(config.text_config, "max_position_embeddings", 64))
        self._pad_to_max = config.model_type.startswith("siglip")
        """SigLIP pools the last token, so it is trained on text padded to the full length."""
        self._lock = threading.Lock()

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """Image-tower embeddings: float32, shape ``(len(images), dim)``, rows of norm 1."""
        return self._batched(list(images), batch_size, self._image_batch)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Text-tower embeddings, in the same space as :meth:`encode_images`."""
        return self._batched(list(texts), batch_size, self._text_batch)

    def _batched(self, items: list[Any], batch_size: int, run: Any) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        with self._lock, self._torch.inference_mode():  # a tokenizer is not thread-safe
            for start in range(0, len(items), batch_size):
                rows.append(_normalized(run(items[start : start + batch_size])))
        vectors = np.vstack(rows)
        if vectors.shape[1] != self.dim:
            raise ModelLoadError(
                f"model at {self.path} gives {vectors.shape[1]}-d vectors, its config says "
                f"{self.dim}",
                path=str(self.path),
            )
        return vectors

    def _image_batch(self, images: list[Image.Image]) -> Any:
        inputs = self._processor(images=images, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, dtype=self._model.dtype)
        extra = {k: v.to(self.device) for k, v in inputs.items() if k != "pixel_values"}
        return self._model.get_image_features(pixel_values=pixels, **extra).pooler_output

    def _text_batch(self, texts: list[str]) -> Any:
        inputs = self._processor(
            text=texts,
            padding="max_length" if self._pad_to_max else True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="pt",
        )
        given = {k: inputs[k].to(self.device) for k in TEXT_INPUTS if k in inputs}
        return self._model.get_text_features(**given).pooler_output


def _normalized(features: Any) -> np.ndarray:
    rows = features.float().cpu().numpy().astype(np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def _load(path: Path, device: str) -> tuple[Any, Any, Any]:
    try:
        import torch
        from transformers import AutoModel, AutoProcessor
        from transformers.utils import logging as transformers_logging
    except ImportError:
        raise MissingDependencyError(
            "image embeddings need transformers and torch: pip install 'omnidex[models]'",
            dependency="transformers",
        ) from None
    transformers_logging.disable_progress_bar()
    dtype = torch.float32
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        model = AutoModel.from_pretrained(str(path), dtype=dtype, local_files_only=True)
        processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"cannot load the image-text model at {path}: {exc}", path=str(path)
        ) from exc
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise ModelLoadError(
            f"model at {path} ({type(model).__name__}) is not an image-text dual encoder "
            "(SigLIP 2, SigLIP, CLIP)",
            path=str(path),
        )
    return torch, model.to(device).eval(), processor


def get_dual_encoder(model_id: str, device: str | None = None) -> DualEncoder:
    """The process-wide dual encoder for ``model_id`` on ``device``, loaded on first use."""
    return _ENCODERS.get(model_id, device)


_ENCODERS = LoadedModels(DualEncoder)
