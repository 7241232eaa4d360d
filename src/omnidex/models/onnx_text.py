"""The query side of a text embedder on ONNX Runtime, so a search process never imports torch.

When a sentence-transformers model of the plain form *Transformer → Pooling (one of mean, cls,
max) → optional Normalize* loads on torch (:mod:`omnidex.models.embedders`), :func:`export` writes
its transformer once as ONNX into ``omnidex-onnx/`` inside the model's folder (a Hugging Face
snapshot folder is already per revision), with a ``meta.json`` that records the tokenizer inputs,
``max_seq_length``, the pooling mode and a fingerprint of the weights. :func:`load_onnx_embedder`
returns an :class:`OnnxTextEmbedder` (``onnxruntime`` + ``tokenizers``) where such an export
exists and still matches the weights, else None — the caller then takes the torch path, unchanged.
Other model forms (a Dense layer, concatenated poolings) are never exported.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

EXPORT_DIR = "omnidex-onnx"
_POOLINGS = ("mean", "cls", "max")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


class OnnxTextEmbedder:
    """An exported model's query encoder; ``encode`` matches :class:`TextEmbedder.encode`."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = path / EXPORT_DIR
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # no busy-waiting threads between the few runs of a search: they only burn CPU
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(path / meta["tokenizer"]))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self._inputs: list[str] = list(meta["inputs"])
        self._pooling: str = meta["pooling"]
        self._lowercase = bool(meta.get("do_lower_case"))
        self.dim: int = int(meta["dim"])
        self.path = path
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape ``(len(texts), dim)``, each row of norm 1.
        Each text runs alone (no padding), as a search embeds one query."""
        del batch_size  # one text per run: no padding, so no mask to get wrong
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for i, text in enumerate(texts):
                rows[i] = self._embed(text.lower() if self._lowercase else text)
        return rows

    def _embed(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        arrays = {
            "input_ids": encoding.ids,
            "attention_mask": encoding.attention_mask,
            "token_type_ids": encoding.type_ids,
        }
        feed = {name: np.asarray([arrays[name]], dtype=np.int64) for name in self._inputs}
        hidden = np.asarray(self._session.run(None, feed)[0][0], dtype=np.float32)
        if self._pooling == "cls":
            vector = hidden[0]
        elif self._pooling == "max":
            vector = hidden.max(axis=0)
        else:
            vector = hidden.mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / max(norm, 1e-12)


def load_onnx_embedder(path: Path) -> OnnxTextEmbedder | None:
    """The ONNX query encoder of the model at ``path`` where a current export exists, else None."""
    meta = _read_meta(path)
    if meta is None or meta.get("fingerprint") != _fingerprint(path):
        return None
    try:
        return OnnxTextEmbedder(path, meta)
    except Exception as exc:  # a broken export: the torch path still answers
        logger.warning("ignoring the ONNX export of %s: %s", path, exc)
        return None


def export(model: Any, path: Path) -> None:
    """Write the ONNX export of the loaded sentence-transformers ``model`` (from ``path``) where
    its form allows and none is current; never raises (the export is only a speed-up)."""
    fingerprint = _fingerprint(path)
    current = _read_meta(path)
    if fingerprint is None or (current and current.get("fingerprint") == fingerprint):
        return
    try:
        meta = _plan(model, path)
        if meta is not None:
            _write(model, path, {**meta, "fingerprint": fingerprint})
    except Exception as exc:
        logger.info("no ONNX export for %s: %s", path, exc)


def _plan(model: Any, path: Path) -> dict[str, Any] | None:
    """What the query side needs to know, or None where the model's form is not exported."""
    modules = json.loads((path / "modules.json").read_text())
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    transformer_dir = path / modules[0].get("path", "")
    tokenizer = transformer_dir / "tokenizer.json"
    if not tokenizer.is_file():
        return None
    config = json.loads((path / modules[1]["path"] / "config.json").read_text())
    modes = config.get("pooling_mode")
    if isinstance(modes, str):
        modes = [modes]
    if not isinstance(modes, list):
        modes = [
            k[len("pooling_mode_") :]
            for k, v in config.items()
            if k.startswith("pooling_mode_") and v
        ]
        modes = [m.removesuffix("_tokens").removesuffix("_token") for m in modes]
    if len(modes) != 1 or modes[0] not in _POOLINGS:
        return None
    if config.get("include_prompt") is False:
        return None
    st_config = transformer_dir / "sentence_bert_config.json"
    settings = json.loads(st_config.read_text()) if st_config.is_file() else {}
    inputs = [
        name
        for name in model[0].tokenizer.model_input_names
        if name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    return {
        "tokenizer": str(tokenizer.relative_to(path)),
        "max_seq_length": int(model.max_seq_length),
        "do_lower_case": bool(settings.get("do_lower_case")),
        "pooling": modes[0],
        "inputs": inputs,
        "dim": int(config.get("embedding_dimension") or config["word_embedding_dimension"]),
    }


def _write(model: Any, path: Path, meta: dict[str, Any]) -> None:
    import warnings

    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self, auto_model: torch.nn.Module, names: list[str]) -> None:
            super().__init__()
            self.auto_model = auto_model
            self.names = names

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            output = self.auto_model(**dict(zip(self.names, tensors, strict=True)))
            return output[0]

    names: list[str] = meta["inputs"]
    wrapper = _Hidden(model[0].auto_model, names).eval()
    example = tuple(torch.ones((1, 8), dtype=torch.long) for _ in names)
    folder = path / EXPORT_DIR
    folder.mkdir(exist_ok=True)
    partial = folder / "model.onnx.part"
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    training = model.training
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                example,
                str(partial),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
    finally:
        model.train(training)  # the exporter restores the wrapper's mode onto the model
    partial.replace(folder / "model.onnx")
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((path / EXPORT_DIR / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _fingerprint(path: Path) -> str | None:
    """Size and modification time of the weights file (a changed model invalidates the export)."""
    for name in _WEIGHTS:
        weights = path / name
        if weights.is_file():
            stat = weights.stat()
            return f"{name}:{stat.st_size}:{stat.st_mtime_ns}"
    return None
