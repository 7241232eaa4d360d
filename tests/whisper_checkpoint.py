"""Random Whisper checkpoints with the real transformers classes, laid out like the hub's.

:func:`build_checkpoint` writes what the hub's Whisper repositories hold for omnidex —
``config.json``, ``generation_config.json`` (with ``lang_to_id``), ``model.safetensors``,
``preprocessor_config.json`` from a real ``WhisperFeatureExtractor`` and ``tokenizer.json`` from a
real ``WhisperTokenizerFast`` — with random weights, so omnidex resolves, converts (CTranslate2's
own converter) and loads it by path through exactly the code that handles ``openai/whisper-base``.

The tokenizer is a byte-level BPE trained here on a few sentences, padded with unused entries to
the released 50 257 text tokens (the last one empty, as in the released multilingual vocabularies:
that is how CTranslate2 tells a multilingual model), then Whisper's special tokens in their
released order (the languages, the tasks, ``<|notimestamps|>``) and the 1 501 timestamps, so
language detection runs as with the released models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = """
the quarterly budget review is on thursday. hello world, this is a meeting about sales.
we will ship the new release next week. la réunion commence à neuf heures.
"""
TEXT_TOKENS = 50_257
TIMESTAMPS = 1_501


def special_tokens() -> list[str]:
    """Whisper's special tokens in the released order, languages included."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in LANGUAGES),
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]


def train_tokenizer(folder: Path) -> Any:
    """A WhisperTokenizerFast with the released vocabulary layout, saved in ``folder``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import WhisperTokenizerFast

    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    trained.train_from_iterator(CORPUS.split("."), trainer)
    vocab = trained.get_vocab()
    vocab |= {f"<unused{n}>": n for n in range(len(vocab), TEXT_TOKENS - 1)}
    vocab[""] = TEXT_TOKENS - 1  # the released multilingual vocabularies end with an empty token
    merges = [tuple(pair) for pair in _merges(trained)]
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in special_tokens()]
    )
    timestamps = ["<|%.2f|>" % (n * 0.02) for n in range(TIMESTAMPS)]
    bpe.add_tokens([AddedToken(t, special=False, normalized=False) for t in timestamps])
    bpe.save(str(folder / "tokenizer.json"))
    tokenizer = WhisperTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"),
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def _merges(tokenizer: Any) -> list[list[str]]:
    import json

    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    return [m.split(" ") if isinstance(m, str) else m for m in merges]


def build_checkpoint(folder: Path, seed: int = 0) -> Path:
    """A two-layer Whisper (d_model 32, 80 mel bins) with its processor, saved in ``folder``."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    ids = tokenizer.convert_tokens_to_ids
    end = ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=ids("<|startoftranscript|>"),
        suppress_tokens=[],
        begin_suppress_tokens=[end],
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    languages = [t for t in special_tokens()[2:] if t not in _NOT_LANGUAGES]
    model.generation_config.lang_to_id = {token: ids(token) for token in languages}
    model.generation_config.is_multilingual = True
    model.generation_config._from_model_config = False  # as released: read back, not rederived
    model.save_pretrained(folder)
    return folder


_NOT_LANGUAGES = {
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
}
