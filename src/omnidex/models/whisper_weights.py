"""Whisper weights for faster-whisper: a model size, hub id or folder → a CTranslate2 folder.

A size (``tiny`` … ``large-v3``, ``turbo``) names OpenAI's official checkpoint on the hub
(``base`` → ``openai/whisper-base``); any other value is a hub id or a local folder. It resolves
like every model (:func:`~omnidex.models.hub.resolve_model`: local folder → Hugging Face cache →
hub when online), fetching only the files a runtime reads. A folder already in CTranslate2's format
(``model.bin``) is used as it is; a transformers checkpoint is converted once with CTranslate2's own
converter into ``$HF_HOME/omnidex-ctranslate2/<digest>/`` (float16 weights; int8 or float16 is
chosen when the model loads), beside the cache it came from, so the two travel together to an
offline machine. The digest covers the checkpoint's config and weights: a changed checkpoint is
converted again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from pathlib import Path

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.hub import hf_cache_dir, resolve_model, sha256_of

SIZES = frozenset(
    {
        *("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en"),
        *("large-v1", "large-v2", "large-v3", "large-v3-turbo"),
    }
)
ALIASES = {"large": "large-v3", "turbo": "large-v3-turbo"}
PATTERNS = ("*.json", "*.txt", "model.safetensors", "model.bin", "vocabulary.*")
"""What a Whisper repository holds for these runtimes (not its PyTorch, TensorFlow, Flax copies)."""
_COPIED = ("tokenizer.json", "preprocessor_config.json")
_CONVERTING = threading.Lock()


def hub_id(model: str) -> str:
    """The official hub id of a model size; any other value (a hub id, a folder) as it is."""
    size = ALIASES.get(model, model)
    return f"openai/whisper-{size}" if size in SIZES else model


def converted_dir() -> Path:
    """Where converted checkpoints live: ``omnidex-ctranslate2`` beside the hub cache."""
    return hf_cache_dir().parent / "omnidex-ctranslate2"


def ctranslate2_folder(model: str) -> Path:
    """A folder faster-whisper loads for ``model``; ModelLoadError naming what is missing."""
    folder = resolve_model(hub_id(model), patterns=PATTERNS)
    if (folder / "model.bin").is_file():
        return folder
    return _converted(folder)


def _converted(folder: Path) -> Path:
    config, weights = folder / "config.json", folder / "model.safetensors"
    if not config.is_file() or _model_type(config) != "whisper" or not weights.is_file():
        raise ModelLoadError(
            f"{folder} holds neither a CTranslate2 Whisper model (model.bin) nor a transformers "
            "Whisper checkpoint (config.json of model_type whisper and model.safetensors)",
            path=str(folder),
        )
    digest = hashlib.sha256(config.read_bytes() + sha256_of(weights).encode()).hexdigest()[:20]
    out = converted_dir() / digest
    with _CONVERTING:
        if not (out / "model.bin").is_file():
            _convert(folder, out)
    return out


def _model_type(config: Path) -> str | None:
    try:
        value = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _convert(folder: Path, out: Path) -> None:
    """Convert into a temporary sibling of ``out``, then move it in place (atomic for readers)."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        raise MissingDependencyError(
            "whisper transcription needs ctranslate2; "
            "install it with `pip install 'omnidex[whisper]'`",
            dependency="ctranslate2",
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        converter = TransformersConverter(
            str(folder), copy_files=[name for name in _COPIED if (folder / name).is_file()]
        )
        converter.convert(str(work / "model"), quantization="float16", force=True)
        if not (work / "model" / "tokenizer.json").is_file():
            _write_tokenizer_json(folder, work / "model")
        try:
            (work / "model").rename(out)
        except OSError:
            if not (out / "model.bin").is_file():  # not another process that finished first
                raise
    except ImportError as exc:
        raise MissingDependencyError(
            f"converting a Whisper checkpoint needs transformers and torch ({exc}); "
            "install them with `pip install 'omnidex[models]'`",
            dependency="transformers",
        ) from None
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelLoadError(
            f"cannot convert the Whisper checkpoint in {folder} to CTranslate2: {exc}",
            path=str(folder),
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_tokenizer_json(folder: Path, out: Path) -> None:
    """``tokenizer.json`` from the checkpoint's tokenizer (faster-whisper reads only that file)."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(folder)).backend_tokenizer.save(str(out / "tokenizer.json"))
