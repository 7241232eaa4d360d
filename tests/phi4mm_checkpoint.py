"""Random Phi-4-multimodal checkpoints with the real transformers classes, saved like the hub's.

:func:`build_checkpoint` writes what ``microsoft/Phi-4-multimodal-instruct`` at revision
``refs/pr/70`` holds — ``config.json``, weights, the processor (image processor, audio feature
extractor, tokenizer) and the PEFT adapters in ``vision-lora/`` and ``speech-lora/`` — with random
weights, so that omnidex loads it by path through exactly the code that loads the hub id. The
tokenizer is a byte-level BPE trained here on a few sentences, with the chat and placeholder tokens
the processor needs. :func:`tiny_config` is small enough for CPU tests; the caption benchmark
passes the released shape instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ADAPTER_TARGETS = (
    r"model\.layers\.\d+\.(self_attn\.(qkv_proj|o_proj)|mlp\.(gate_up_proj|down_proj))"
)
"""The language-model projections the released LoRA adapters wrap."""
SPECIAL_TOKENS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", "<|system|>"]
PLACEHOLDERS = {"image_token": "<|image|>", "audio_token": "<|audio|>"}
CORPUS = """
Describe the image in detail. Transcribe the audio clip into text. Summarize the audio.
Read all the text in the image, line by line. A slide with a chart of quarterly revenue.
A person speaks in a meeting room. The cat sits on the mat. Answer the question about the image.
Return JSON that matches this schema. The total is 42. Hello world, this is omnidex.
"""


def train_tokenizer(vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer with Phi-4's chat tokens and image and audio placeholders."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*SPECIAL_TOKENS, *PLACEHOLDERS.values()],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(CORPUS.split("."), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=PLACEHOLDERS,
    )


def tiny_config(tokenizer: Any) -> Any:
    """A two-layer language model, vision and audio encoders with hidden sizes of 32 to 64.

    Image size 448, patch size 14 and audio input size 80 stay as released: the processor assumes
    them.
    """
    return released_like_config(
        tokenizer,
        language={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        },
        vision={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
        audio={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_blocks": 2,
            "num_attention_heads": 2,
            "ext_pw_out_channel": 32,
            "depthwise_separable_out_channel": 32,
            "nemo_conv_channels": 32,
        },
    )


def released_like_config(
    tokenizer: Any,
    language: dict[str, Any],
    vision: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
    vocab_size: int | None = None,
) -> Any:
    """A Phi4MultimodalConfig whose token ids are the tokenizer's."""
    from transformers import Phi4MultimodalConfig

    end = tokenizer.convert_tokens_to_ids("<|end|>")
    return Phi4MultimodalConfig(
        **language,
        vocab_size=vocab_size or len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, end],
        vision_config={**(vision or {}), "image_token_id": tokenizer.image_token_id},
        audio_config={**(audio or {}), "audio_token_id": tokenizer.audio_token_id},
    )


def build_checkpoint(
    out: Path,
    config: Any | None = None,
    tokenizer: Any | None = None,
    adapters: tuple[str, ...] = ("vision", "speech"),
    lora_rank: int = 4,
    seed: int = 0,
    device: str = "cpu",
    dtype: Any = None,
) -> Path:
    """Save a random Phi-4-multimodal checkpoint with its processor and LoRA adapters to ``out``.

    The weights are made on ``device`` in ``dtype`` (a torch dtype; None: float32): the released
    shape is built on a GPU in bfloat16, in seconds and without a float32 copy.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        Phi4MultimodalFeatureExtractor,
        Phi4MultimodalForCausalLM,
        Phi4MultimodalImageProcessor,
        Phi4MultimodalProcessor,
    )

    tokenizer = tokenizer or train_tokenizer()
    config = config or tiny_config(tokenizer)
    torch.manual_seed(seed)
    with _made_on(device, dtype):
        model = Phi4MultimodalForCausalLM(config).eval()
    model.save_pretrained(out)
    del model
    Phi4MultimodalProcessor(
        Phi4MultimodalImageProcessor(),
        Phi4MultimodalFeatureExtractor(sampling_rate=16_000),
        tokenizer,
    ).save_pretrained(out)
    for index, adapter in enumerate(adapters):
        torch.manual_seed(seed + 1 + index)
        lora = LoraConfig(
            r=lora_rank,
            lora_alpha=2 * lora_rank,
            target_modules=ADAPTER_TARGETS,
            init_lora_weights=False,  # random B as well as A: an adapter that changes the output
            task_type="CAUSAL_LM",
        )
        with _made_on(device, dtype):  # no autocast: the adapter in the model's dtype, as released
            peft_model = get_peft_model(
                Phi4MultimodalForCausalLM(config), lora, autocast_adapter_dtype=False
            )
        peft_model.save_pretrained(str(out / f"{adapter}-lora"))
        del peft_model
    return out


@contextmanager
def _made_on(device: str, dtype: Any) -> Iterator[None]:
    """New tensors on ``device``, floating ones in ``dtype`` (None: the default) while inside."""
    import torch

    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype or default)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(default)
