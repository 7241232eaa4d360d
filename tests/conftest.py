"""Session fixtures shared by every test: tiny models built with the real classes, a Ray cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TINY_VOCAB_TEXT = """
the a an and or of to in on at by for with from is are was were be been it this that these those
i you he she we they my your his her our their not no yes all any some one two three four five
cat cats kitten kittens dog dogs puppy mat rug sofa chair table sits sat lies lying sleeps runs
quarterly revenue grew growth profit sales market stock price report earnings company annual
hello world omnidex search engine retrieval image images video page pages text document documents
scene scenes caption speech audio slide slides vector vectors embedding query queries hit hits
red green blue black white big small fast slow good bad new old first last next day night year
invoice total amount paid due date number name address city street country phone email
"""
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_bert(root: Path, seed: int, **config: Any) -> tuple[Any, Any]:
    """A BERT tokenizer over :data:`TINY_VOCAB_TEXT` and a tiny config (hidden size 32)."""
    import torch
    from transformers import BertConfig, BertTokenizerFast

    vocab = root / "vocab.txt"
    vocab.write_text("\n".join([*SPECIAL_TOKENS, *dict.fromkeys(TINY_VOCAB_TEXT.split())]) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocab))
    torch.manual_seed(seed)
    bert = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        **config,
    )
    return tokenizer, bert


@pytest.fixture(scope="session")
def tiny_embedder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT sentence-transformers model (dim 32) saved to a folder.

    Load it by path through ``resolve_model``/``get_embedder``, exactly as a hub id is once
    resolved. Its vocabulary is :data:`TINY_VOCAB_TEXT`; other words become ``[UNK]``.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertModel

    root = tmp_path_factory.mktemp("tiny_embedder")
    tokenizer, config = tiny_bert(root, seed=0)
    hf_dir = root / "bert"
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), "mean")
    model_dir = root / "sentence_transformer"
    SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu").save(
        str(model_dir)
    )
    return model_dir


@pytest.fixture(scope="session")
def needs_tesseract() -> None:
    """Skip, saying why, where the tesseract program is absent (CI installs it)."""
    import shutil

    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (run scripts/install-system-deps)")


@pytest.fixture(scope="session")
def tiny_extractors(tiny_embedder_path: Path) -> list[object]:
    """The default pipeline with the tiny embedder in place of the real one."""
    return [
        "page_text@v1",
        "ocr@v1",
        {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
    ]


@pytest.fixture(scope="session")
def tiny_cross_encoder_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT cross-encoder (one relevance logit) saved as a sentence-transformers
    ``CrossEncoder`` folder: load it by path, as a hub id is once resolved."""
    from transformers import BertForSequenceClassification

    root = tmp_path_factory.mktemp("tiny_cross_encoder")
    tokenizer, config = tiny_bert(root, seed=1, num_labels=1)
    model_dir = root / "model"
    BertForSequenceClassification(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir


@pytest.fixture(scope="session")
def tiny_siglip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP checkpoint (dim 32) with its processor, saved to a folder: load it
    by path, as a hub id is once resolved (``tests/image_checkpoints.py``)."""
    from .image_checkpoints import build_dual_encoder

    return build_dual_encoder(tmp_path_factory.mktemp("tiny_siglip"), "siglip")


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP checkpoint (projection dim 24) with its processor, saved to a folder."""
    from .image_checkpoints import build_dual_encoder

    return build_dual_encoder(tmp_path_factory.mktemp("tiny_clip"), "clip")


@pytest.fixture(scope="session")
def trained_clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP trained here for seconds to match pictures of coloured shapes with their
    captions ("a red circle"): its towers mean something, so ranking can be checked."""
    from .image_checkpoints import build_dual_encoder, train

    folder = build_dual_encoder(tmp_path_factory.mktemp("trained_clip"), "clip")
    train(folder, steps=800)
    return folder


@pytest.fixture(scope="session")
def tiny_phi4mm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Phi-4-multimodal checkpoint saved like the hub's transformers revision:
    config, weights, processor with a tokenizer trained here, and PEFT adapters in
    ``vision-lora/`` and ``speech-lora/`` (see ``tests/phi4mm_checkpoint.py``)."""
    from .phi4mm_checkpoint import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny_phi4mm"))


@pytest.fixture(scope="session")
def tiny_whisper_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random multilingual Whisper checkpoint in transformers format, laid out like
    ``openai/whisper-base`` (see ``tests/whisper_checkpoint.py``); omnidex converts it to
    CTranslate2 on first load, as it does the hub's."""
    pytest.importorskip(
        "faster_whisper", reason="needs faster-whisper: pip install 'omnidex[whisper]'"
    )
    from .whisper_checkpoint import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny_whisper"))


@pytest.fixture
def whisper_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A Hugging Face cache of this test session (converted Whisper models land beside it), with
    the hub switched off: nothing is fetched, nothing is written to the real cache."""
    root = tmp_path_factory.getbasetemp() / "whisper_hf_home"
    (root / "hub").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(root / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root / "hub"


@pytest.fixture(scope="session")
def crashing_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin folder with ``crashing@v1``, an extractor that kills its worker process on text
    that says "crash" (see ``tests/crashing_plugin.py``)."""
    from .crashing_plugin import write_plugin

    return write_plugin(tmp_path_factory.mktemp("crashing_plugin"))


@pytest.fixture
def crashing_extractor(crashing_plugin: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``crashing@v1`` registered in this process for one test; Ray's workers always see it."""
    from omnidex.extractors import registry

    monkeypatch.syspath_prepend(str(crashing_plugin))
    registry.available.cache_clear()
    yield "crashing@v1"
    registry.available.cache_clear()


@pytest.fixture(scope="session")
def ray_cluster(crashing_plugin: Path) -> Iterator[Any]:
    """Ray started in this process; the runner joins it. Yields its GCS address, which other
    processes (a driver that is killed, a second node) use to join the same cluster. Its workers
    have the crashing plugin on their path."""
    ray = pytest.importorskip("ray", reason="the Ray runner needs Ray: pip install 'omnidex[ray]'")
    path = os.pathsep.join(filter(None, [str(crashing_plugin), os.environ.get("PYTHONPATH")]))
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=200 * 1024**2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _started_cluster() -> Iterator[Any]:
    pytest.importorskip("psycopg", reason="a PostgreSQL catalog needs omnidex[postgres]")
    from .postgres_cluster import PostgresCluster, unavailable

    if (reason := unavailable()) is not None:
        pytest.skip(reason)
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the session (:mod:`tests.postgres_cluster`); tests make
    their own database in it with ``create_database()``. Skipped, with the reason, where
    PostgreSQL cannot run."""
    yield from _started_cluster()


@pytest.fixture
def own_postgres_cluster() -> Iterator[Any]:
    """A cluster of the test's own, for a test that stops and starts it."""
    yield from _started_cluster()
