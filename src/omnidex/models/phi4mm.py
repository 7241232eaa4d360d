"""Phi-4-multimodal-instruct in this process, through transformers' native classes.

:func:`get_phi4mm` returns the process-wide :class:`Phi4Multimodal` for a model id (the hub id or a
local folder), device and dtype, loaded once and shared by every extractor that names it. The hub
id resolves to the transformers-format revision ``refs/pr/70`` unless told otherwise (the main
branch holds the original format, which needs ``trust_remote_code`` and is what vLLM serves); the
config always comes from the checkpoint, never from defaults (the default config has 32 attention
heads, the released model 24).

The released model carries two PEFT LoRA adapters, ``vision-lora/`` and ``speech-lora/``. Each
loads on first use, and each request runs with the one its modality needs — vision for images,
speech for audio, none for text alone; an absent adapter is a :class:`ModelLoadError`, never a
silent fall back to the bare model. :meth:`Phi4Multimodal.generate` groups prompts by adapter and
token budget, runs them in left-padded batches, greedily, and returns the answers in order.

Image tokens dominate the cost: a 448×448 crop is ~256 tokens plus separators, so a 1080p frame is
~3,900 tokens and 896×504 ~870. :func:`fit_image` downscales an image to a longest side, and a
prompt's ``max_crops`` caps the number of high-resolution crops the processor cuts.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from omnidex.errors import MissingDependencyError, ModelLoadError
from omnidex.models.hub import resolve_model
from omnidex.models.loaded import default_device
from omnidex.models.prompts import SAMPLE_RATE, Adapter, Prompt

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "microsoft/Phi-4-multimodal-instruct"
TRANSFORMERS_REVISION = "refs/pr/70"
"""The hub revision of :data:`DEFAULT_MODEL_ID` in transformers' native format."""
ADAPTER_FOLDERS: dict[Adapter, str] = {"vision": "vision-lora", "speech": "speech-lora"}
DEFAULT_MAX_CROPS = 4
"""HD crops per image unless a prompt says otherwise (the processor's own default is 36)."""
DEFAULT_BATCH_SIZE = 8

Dtype = Literal["auto", "bfloat16", "float16", "float32"]
INSTALL_HINT = "pip install 'omnidex[models]'"


def default_revision(model_id: str) -> str | None:
    """``refs/pr/70`` for the released hub id (its transformers-format revision), else None."""
    return TRANSFORMERS_REVISION if model_id == DEFAULT_MODEL_ID else None


def fit_image(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` in RGB with its longest side at most ``max_side`` pixels (never enlarged)."""
    from PIL import Image as PILImage

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = max_side / max(rgb.size)
    if scale >= 1:
        return rgb
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, PILImage.Resampling.BICUBIC)


@dataclass(frozen=True)
class _Batch:
    indices: list[int]
    prompts: list[Prompt]


def _batches(prompts: Sequence[Prompt], batch_size: int) -> Iterator[_Batch]:
    """Prompts grouped by (adapter, token budget, crops), cut into batches of ``batch_size``."""

    def key(i: int) -> tuple[str, int, int]:
        p = prompts[i]
        return (p.adapter or "", p.max_new_tokens, p.max_crops or 0)

    for _, group in itertools.groupby(sorted(range(len(prompts)), key=key), key=key):
        indices = list(group)
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            yield _Batch(chunk, [prompts[i] for i in chunk])


class Phi4Multimodal:
    """A loaded Phi-4-multimodal model and processor; :meth:`generate` answers prompts.

    Built by :func:`get_phi4mm`; thread-safe (one generation at a time, since the active adapter
    is the model's state).
    """

    def __init__(
        self, folder: Path, device: str, dtype: Dtype = "auto", batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self.folder = folder
        self.device = device
        self.batch_size = batch_size
        torch, transformers = _import_runtime()
        self.dtype = _torch_dtype(torch, dtype, device)
        self.attention = _attention_implementation(device)
        transformers.utils.logging.disable_progress_bar()
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(folder)
            self.model = transformers.Phi4MultimodalForCausalLM.from_pretrained(
                folder, dtype=self.dtype, attn_implementation=self.attention
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(
                f"cannot load Phi-4-multimodal from {folder}: {exc}. It needs the "
                f"transformers-format checkpoint (hub revision {TRANSFORMERS_REVISION}).",
                path=str(folder),
            ) from exc
        self.processor.tokenizer.padding_side = "left"
        self.model.to(device).eval()
        self._peft: PeftModel | None = None
        """The model wrapped with its loaded adapters, once one is loaded."""
        self._adapters: set[Adapter] = set()
        self._lock = threading.RLock()

    def require(self, adapter: Adapter) -> None:
        """Load ``adapter`` if it is not yet; ModelLoadError when its folder is absent."""
        with self._lock:
            if adapter not in self._adapters:
                self._load_adapter(adapter)

    def _load_adapter(self, adapter: Adapter) -> None:
        folder = self.folder / ADAPTER_FOLDERS[adapter]
        if not (folder / "adapter_config.json").is_file():
            raise ModelLoadError(
                f"the {adapter} LoRA adapter is missing: {folder} has no adapter_config.json. "
                f"Phi-4-multimodal answers {adapter} requests only with it; use the full "
                f"checkpoint ({DEFAULT_MODEL_ID} at revision {TRANSFORMERS_REVISION} has "
                f"{', '.join(f'{name}/' for name in ADAPTER_FOLDERS.values())}).",
                path=str(folder),
                adapter=adapter,
            )
        from peft import PeftModel

        try:
            if self._peft is None:
                self._peft = PeftModel.from_pretrained(
                    self.model, str(folder), adapter_name=adapter
                )
            else:
                self._peft.load_adapter(str(folder), adapter_name=adapter)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(
                f"cannot load the {adapter} LoRA adapter from {folder}: {exc}",
                path=str(folder),
                adapter=adapter,
            ) from exc
        # The adapter in the model's dtype: left to PEFT, it runs every LoRA product of a bfloat16
        # model in float32.
        for name, parameter in self._peft.named_parameters():
            if f".{adapter}" in name and "lora_" in name:
                parameter.data = parameter.data.to(self.dtype)
        self._peft.to(self.device).eval()
        self._adapters.add(adapter)

    def check(self, adapters: Iterable[Adapter]) -> None:
        """Load each of ``adapters``; ModelLoadError when one is missing."""
        for adapter in adapters:
            self.require(adapter)

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        """The answer to each prompt, in order: greedy, batched by adapter and token budget."""
        decode = self.processor.tokenizer.decode
        return [decode(ids, skip_special_tokens=True).strip() for ids in self.generate_ids(prompts)]

    def generate_ids(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        """The new token ids of each prompt's answer, in order (special tokens included)."""
        self.check({p.adapter for p in prompts if p.adapter is not None})
        answers: list[list[int]] = [[] for _ in prompts]
        for batch in _batches(prompts, self.batch_size):
            for index, ids in zip(batch.indices, self._generate_batch(batch.prompts), strict=True):
                answers[index] = ids
        return answers

    def inputs(self, prompts: Sequence[Prompt]) -> dict[str, Any]:
        """The processor's tensors for prompts of one adapter and crop cap, on the device."""
        first = prompts[0]
        kwargs: dict[str, Any] = {"text": [chat_text(p) for p in prompts], "padding": True}
        if first.adapter == "vision":
            kwargs["images"] = [image for p in prompts for image in p.images]
            kwargs["dynamic_hd"] = first.max_crops or DEFAULT_MAX_CROPS
        elif first.adapter == "speech":
            kwargs["audio"] = [p.audio for p in prompts]
            kwargs["sampling_rate"] = SAMPLE_RATE
        features = self.processor(**kwargs, return_tensors="pt")
        return {
            name: value.to(self.device, self.dtype)
            if value.is_floating_point()
            else value.to(self.device)
            for name, value in features.items()
        }

    @contextmanager
    def active(self, adapter: Adapter | None) -> Iterator[Any]:
        """The model to call with ``adapter`` active; None runs the bare language model."""
        if adapter is not None:
            self.require(adapter)
            assert self._peft is not None
            self._peft.set_adapter(adapter)
            yield self._peft
        elif self._peft is not None:
            with self._peft.disable_adapter():
                yield self._peft
        else:
            yield self.model

    def _generate_batch(self, prompts: list[Prompt]) -> list[list[int]]:
        import torch

        with self._lock, torch.inference_mode(), self.active(prompts[0].adapter) as model:
            inputs = self.inputs(prompts)
            output = model.generate(
                **inputs,
                max_new_tokens=prompts[0].max_new_tokens,
                do_sample=False,
                pad_token_id=self.processor.tokenizer.pad_token_id,
            )
        pad = self.processor.tokenizer.pad_token_id
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        return [_strip_padding(ids, pad) for ids in new_tokens]


def _strip_padding(ids: list[int], pad: int | None) -> list[int]:
    """Ids without the padding ``generate`` appends to answers that ended before the longest."""
    end = len(ids)
    while end > 0 and ids[end - 1] == pad:
        end -= 1
    return ids[:end]


def chat_text(prompt: Prompt) -> str:
    """The chat-formatted text of a prompt, with one placeholder per image or audio clip."""
    placeholders = "<|image|>" * len(prompt.images) + (
        "<|audio|>" if prompt.audio is not None else ""
    )
    return f"<|user|>{placeholders}{prompt.instruction}<|end|><|assistant|>"


def _import_runtime() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise MissingDependencyError(
            f"Phi-4-multimodal in process needs torch and transformers: {INSTALL_HINT}",
            dependency="transformers",
        ) from None
    if not hasattr(transformers, "Phi4MultimodalForCausalLM"):
        raise MissingDependencyError(
            f"transformers {transformers.__version__} has no Phi4MultimodalForCausalLM; "
            "upgrade it: pip install -U 'transformers>=5'",
            dependency="transformers",
        )
    if importlib.util.find_spec("peft") is None:
        raise MissingDependencyError(
            f"Phi-4-multimodal's LoRA adapters need peft: {INSTALL_HINT}", dependency="peft"
        )
    return torch, transformers


def _torch_dtype(torch: Any, dtype: Dtype, device: str) -> torch.dtype:
    """bfloat16 on CUDA and float32 elsewhere for ``auto``; else the named dtype."""
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def _attention_implementation(device: str) -> str:
    """flash-attention 2 on CUDA when the package is installed, else PyTorch's SDPA."""
    if device.startswith("cuda") and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


_RUNTIMES: dict[tuple[Path, str, str], Phi4Multimodal] = {}
_RUNTIMES_LOCK = threading.Lock()


def get_phi4mm(
    model_id: str = DEFAULT_MODEL_ID,
    *,
    revision: str | None = None,
    device: str | None = None,
    dtype: Dtype = "auto",
) -> Phi4Multimodal:
    """The process-wide runtime for ``model_id`` on ``device`` in ``dtype``, loaded on first use.

    ``revision`` defaults to :func:`default_revision`; a local folder ignores it.
    """
    folder = resolve_model(model_id, revision or default_revision(model_id))
    key = (folder, device or default_device(), dtype)
    with _RUNTIMES_LOCK:
        if key not in _RUNTIMES:
            log.info("loading Phi-4-multimodal from %s on %s (%s)", folder, key[1], dtype)
            _RUNTIMES[key] = Phi4Multimodal(folder, key[1], dtype)
        return _RUNTIMES[key]
