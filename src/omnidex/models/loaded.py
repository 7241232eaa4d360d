"""One loaded model per (resolved folder, device) per process, shared by everyone who names it.

A model id is resolved (:func:`omnidex.models.hub.resolve_model`) once per process, so later
calls do not probe the hub again; a model loads on first use only, even when many threads ask at
once. Embedders and cross-encoders each keep one :class:`LoadedModels`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from omnidex.models.hub import resolve_model

M = TypeVar("M")


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class LoadedModels(Generic[M]):
    """Models built by ``load(folder, device)``, kept per (folder, device) and per (id, device)."""

    def __init__(self, load: Callable[[Path, str], M]) -> None:
        self._load = load
        self._by_path: dict[tuple[Path, str], M] = {}
        self._by_id: dict[tuple[str, str], M] = {}
        self._lock = threading.Lock()

    def get(self, model_id: str, device: str | None = None) -> M:
        device = device or default_device()
        if (known := self._by_id.get((model_id, device))) is not None:
            return known
        key = (resolve_model(model_id), device)
        with self._lock:
            if key not in self._by_path:
                self._by_path[key] = self._load(*key)
            self._by_id[(model_id, device)] = self._by_path[key]
            return self._by_path[key]

    def loaded(self, model_id: str, device: str | None = None) -> M | None:
        """The model for ``model_id`` already loaded in this process (on ``device``, or on any
        device where None), without loading it or resolving a device."""
        for (known_id, known_device), model in list(self._by_id.items()):
            if known_id == model_id and device in (None, known_device):
                return model
        return None
