"""The in-process Phi-4-multimodal runtime on a tiny random checkpoint built with the real classes.

The checkpoint (``tiny_phi4mm_path``) is loaded by path through the code that loads the hub id;
its answers are compared token for token with transformers + PEFT called directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")

import torch
from PIL import Image

from omnidex.errors import ModelLoadError
from omnidex.models.phi4mm import (
    DEFAULT_MODEL_ID,
    TRANSFORMERS_REVISION,
    Phi4Multimodal,
    chat_text,
    default_revision,
    fit_image,
    get_phi4mm,
)
from omnidex.models.prompts import Prompt

RNG = np.random.default_rng(7)


def noise_image(width: int, height: int) -> Image.Image:
    return Image.fromarray(RNG.integers(0, 256, (height, width, 3), dtype=np.uint8))


def noise_audio(seconds: float) -> np.ndarray:
    return (0.1 * RNG.standard_normal(round(seconds * 16_000))).astype(np.float32)


IMAGES = [noise_image(896, 504), noise_image(300, 300), noise_image(200, 100)]
AUDIO = [noise_audio(2.0), noise_audio(4.5)]


@pytest.fixture(scope="module")
def runtime(tiny_phi4mm_path: Path) -> Phi4Multimodal:
    return get_phi4mm(str(tiny_phi4mm_path), device="cpu")


def reference_ids(path: Path, prompt: Prompt, adapter: str | None) -> list[int]:
    """The new tokens of ``prompt`` from transformers and PEFT called directly, one prompt."""
    from peft import PeftModel
    from transformers import AutoProcessor, Phi4MultimodalForCausalLM

    processor = AutoProcessor.from_pretrained(path)
    model = Phi4MultimodalForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(path / f"{adapter}-lora")).eval()
    extra: dict[str, object] = {}
    if prompt.images:
        extra = {"images": list(prompt.images), "dynamic_hd": prompt.max_crops}
    if prompt.audio is not None:
        extra = {"audio": [prompt.audio], "sampling_rate": 16_000}
    inputs = processor(text=[chat_text(prompt)], return_tensors="pt", **extra)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=prompt.max_new_tokens, do_sample=False)
    ids: list[int] = output[0, inputs["input_ids"].shape[1] :].tolist()
    while ids and ids[-1] == processor.tokenizer.pad_token_id:
        ids.pop()
    return ids


@pytest.mark.parametrize(
    ("prompt", "adapter"),
    [
        (
            Prompt(
                "Describe the image in detail.", images=(IMAGES[0],), max_new_tokens=8, max_crops=4
            ),
            "vision",
        ),
        (
            Prompt("Transcribe the audio clip into text.", audio=AUDIO[0], max_new_tokens=8),
            "speech",
        ),
        (Prompt("Hello world, this is omnidex.", max_new_tokens=8), None),
    ],
    ids=["image", "audio", "text"],
)
def test_tokens_equal_a_direct_transformers_generate(
    runtime: Phi4Multimodal, tiny_phi4mm_path: Path, prompt: Prompt, adapter: str | None
) -> None:
    assert runtime.generate_ids([prompt]) == [reference_ids(tiny_phi4mm_path, prompt, adapter)]


def test_batched_equals_one_by_one(runtime: Phi4Multimodal) -> None:
    prompts = [
        Prompt("Describe the image in detail.", images=(IMAGES[0],), max_new_tokens=6),
        Prompt("Transcribe the audio clip into text.", audio=AUDIO[0], max_new_tokens=6),
        Prompt("A slide.", images=(IMAGES[1],), max_new_tokens=6),
        Prompt("Hello world", max_new_tokens=6),
        Prompt("Describe the image.", images=(IMAGES[2], IMAGES[1]), max_new_tokens=6),
        Prompt("Transcribe", audio=AUDIO[1], max_new_tokens=6),
        Prompt("The cat sits on the mat.", max_new_tokens=6),
    ]
    batched = runtime.generate_ids(prompts)
    assert batched == [runtime.generate_ids([p])[0] for p in prompts]
    assert runtime.generate(prompts) == [runtime.generate([p])[0] for p in prompts]
    assert all(batched), "every prompt gets an answer"


def last_logits(runtime: Phi4Multimodal, prompt: Prompt, adapter: str | None) -> torch.Tensor:
    with torch.inference_mode(), runtime.active(adapter) as model:  # type: ignore[arg-type]
        return model(**runtime.inputs([prompt])).logits[0, -1]


def test_each_modality_runs_with_its_own_adapter(runtime: Phi4Multimodal) -> None:
    image = Prompt("Describe the image.", images=(IMAGES[1],), max_new_tokens=4)
    audio = Prompt("Transcribe the audio clip into text.", audio=AUDIO[0], max_new_tokens=4)
    assert image.adapter == "vision" and audio.adapter == "speech"
    vision, speech, bare = (last_logits(runtime, image, a) for a in ("vision", "speech", None))
    assert not torch.allclose(vision, speech)
    assert not torch.allclose(vision, bare)
    # generate() picks the adapter from the prompt: its first token is the vision argmax
    assert runtime.generate_ids([image])[0][0] == int(vision.argmax())
    speech_first = last_logits(runtime, audio, "speech")
    assert runtime.generate_ids([audio])[0][0] == int(speech_first.argmax())


def test_config_comes_from_the_checkpoint(runtime: Phi4Multimodal) -> None:
    config = runtime.model.config
    assert config.num_attention_heads == 4  # the default config says 32
    assert config.vision_config.image_token_id == runtime.processor.tokenizer.image_token_id
    assert runtime.dtype == torch.float32 and runtime.attention == "sdpa"


def test_one_runtime_per_model_device_and_dtype(
    runtime: Phi4Multimodal, tiny_phi4mm_path: Path
) -> None:
    assert get_phi4mm(str(tiny_phi4mm_path), device="cpu") is runtime
    half = get_phi4mm(str(tiny_phi4mm_path), device="cpu", dtype="bfloat16")
    assert half is not runtime and half.dtype == torch.bfloat16
    assert half.generate([Prompt("Hello", max_new_tokens=2)])[0] is not None


def test_a_missing_adapter_is_a_clear_error(tiny_phi4mm_path: Path, tmp_path: Path) -> None:
    partial = tmp_path / "no-speech"
    shutil.copytree(tiny_phi4mm_path, partial, ignore=shutil.ignore_patterns("speech-lora"))
    runtime = get_phi4mm(str(partial), device="cpu")
    runtime.check(["vision"])
    with pytest.raises(ModelLoadError, match="speech LoRA adapter is missing") as caught:
        runtime.generate([Prompt("Transcribe", audio=AUDIO[0], max_new_tokens=2)])
    assert caught.value.context["adapter"] == "speech"
    assert "speech-lora" in caught.value.context["path"]


def test_a_folder_that_is_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="cannot load Phi-4-multimodal"):
        get_phi4mm(str(tmp_path), device="cpu")


def test_the_hub_id_loads_the_transformers_revision(
    tiny_phi4mm_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub cache holding the model at refs/pr/70 only: the hub id loads it, offline."""
    assert default_revision(DEFAULT_MODEL_ID) == TRANSFORMERS_REVISION == "refs/pr/70"
    assert default_revision("someone/fine-tune") is None
    repo = tmp_path / "hub" / "models--microsoft--Phi-4-multimodal-instruct"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_phi4mm_path, repo / "snapshots" / commit)
    (repo / "refs" / "refs" / "pr").mkdir(parents=True)
    (repo / "refs" / "refs" / "pr" / "70").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runtime = get_phi4mm(DEFAULT_MODEL_ID, device="cpu")
    assert runtime.folder == repo / "snapshots" / commit
    with pytest.raises(ModelLoadError, match="at revision main"):
        get_phi4mm(DEFAULT_MODEL_ID, revision="main", device="cpu")


def test_fit_image_downscales_and_never_enlarges() -> None:
    wide = fit_image(Image.new("RGBA", (1920, 1080)), 896)
    assert wide.size == (896, 504) and wide.mode == "RGB"
    assert fit_image(Image.new("L", (300, 200)), 896).size == (300, 200)


def test_image_crops_are_capped(runtime: Phi4Multimodal) -> None:
    def image_tokens(image: Image.Image, crops: int) -> int:
        prompt = Prompt("Describe.", images=(image,), max_crops=crops)
        ids = runtime.inputs([prompt])["input_ids"][0]
        return int((ids == runtime.processor.tokenizer.image_token_id).sum())

    full_hd = noise_image(1920, 1080)
    assert image_tokens(full_hd, 1) < image_tokens(full_hd, 4) < image_tokens(full_hd, 16)
    assert image_tokens(IMAGES[0], 4) == 867  # 896×504, as the released model counts it


def test_prompts_hold_one_modality() -> None:
    with pytest.raises(ValueError, match="images or audio"):
        Prompt("x", images=(IMAGES[1],), audio=AUDIO[0])
    with pytest.raises(ValueError, match="max_new_tokens"):
        Prompt("x", max_new_tokens=0)
