"""Tiny SigLIP and CLIP dual encoders for tests, built with the real transformers classes.

:func:`build_dual_encoder` saves a random checkpoint (config, weights, an image processor and a
BERT word-piece tokenizer over :data:`WORDS`) to a folder that ``AutoModel``/``AutoProcessor``
load exactly as they load a hub download. :func:`train` then teaches one, in seconds, to match
pictures of coloured shapes (:func:`shape_image`) with their captions ("a red circle"), through
the same processor, so retrieval quality can be checked for real.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220)}
SHAPES = ("circle", "square", "triangle")
WORDS = ["a", "an", "of", "the", "picture", "photo", *COLOURS, *SHAPES, "cat", "chart"]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SIZE = 32

Family = Literal["siglip", "clip"]


def build_dual_encoder(root: Path, family: Family, seed: int = 0) -> Path:
    """A random tiny ``family`` checkpoint with its processor, saved under ``root/family``."""
    import torch
    from transformers import (
        BertTokenizerFast,
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
        SiglipProcessor,
    )

    root.mkdir(parents=True, exist_ok=True)
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join([*SPECIAL_TOKENS, *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocab))
    towers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    text = {**towers, "num_attention_heads": 2, "vocab_size": len(tokenizer)}
    text |= {"max_position_embeddings": 12, "pad_token_id": 0, "bos_token_id": 2}
    text |= {"eos_token_id": 3}
    vision = {**towers, "num_attention_heads": 2, "image_size": SIZE, "patch_size": 8}
    torch.manual_seed(seed)
    folder = root / family
    if family == "siglip":
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
        image_processor = SiglipImageProcessor(size={"height": SIZE, "width": SIZE})
        processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    else:
        config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)
        model = CLIPModel(config)
        image_processor = CLIPImageProcessor(
            size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE}
        )
        processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def shape_image(colour: str, shape: str, rng: random.Random, size: int = 64) -> Image.Image:
    """A ``colour`` ``shape`` of random size and place on a light background with a little noise."""
    grey = rng.randint(200, 255)
    image = Image.new("RGB", (size, size), (grey, grey, grey))
    draw = ImageDraw.Draw(image)
    side = rng.randint(size // 2, size * 4 // 5)
    x, y = rng.randint(0, size - side), rng.randint(0, size - side)
    fill = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in COLOURS[colour])
    if shape == "circle":
        draw.ellipse((x, y, x + side, y + side), fill=fill)
    elif shape == "square":
        draw.rectangle((x, y, x + side, y + side), fill=fill)
    else:
        draw.polygon([(x + side // 2, y), (x, y + side), (x + side, y + side)], fill=fill)
    return image


PICTURES = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
"""The pictures of :func:`shapes_collection`, one file each (``red-circle.png``…)."""


def shapes_collection(db: Any, folder: Path, image_model: Path, text_model: Path) -> Any:
    """Collection ``shapes`` of ``db``, ingested from ``folder``: the :data:`PICTURES` as PNGs, a
    one-page PDF about solar panels, and a 4 s video of two scenes (a red square, then a green
    circle), with page text, the text embedder and image_embedding@v1 on ``image_model``."""
    from omnidex.samples import make_pdf

    from .media.conftest import make_video

    for colour, shape in PICTURES:
        shape_image(colour, shape, random.Random(1)).save(folder / f"{colour}-{shape}.png")
    make_pdf(folder / "manual.pdf", pages=["Solar panel maintenance. Rinse the panels."])
    scenes = [
        shape_image("red", "square", random.Random(2), 128),
        shape_image("green", "circle", random.Random(3), 128),
    ]
    frames = [np.asarray(scenes[i // 50].resize((160, 128))) for i in range(100)]
    make_video(folder / "shapes.mp4", frames, fps=25)
    collection = db.create_collection(
        "shapes",
        extractors=[
            "page_text@v1",
            {"name": "text_embedding@v1", "params": {"model_id": str(text_model)}},
            {"name": "image_embedding@v1", "params": {"model_id": str(image_model)}},
        ],
    )
    results = collection.ingest(folder)
    assert len(results) == 5 and all(r.error is None for r in results), results
    return collection


def caption(colour: str, shape: str) -> str:
    return f"a {colour} {shape}"


def train(folder: Path, steps: int = 300, seed: int = 0, lr: float = 3e-3) -> None:
    """Contrastive training (the model's own loss: sigmoid for SigLIP, softmax for CLIP) on
    generated shapes and captions, through the saved processor; saved back to ``folder``."""
    import torch
    from transformers import AutoModel, AutoProcessor

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = AutoModel.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    siglip = model.config.model_type.startswith("siglip")
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        batch = rng.sample(pairs, len(pairs))  # each caption once: no false negatives
        inputs = processor(
            text=[caption(*p) for p in batch],
            images=[shape_image(*p, rng) for p in batch],
            padding="max_length" if siglip else True,
            max_length=12,
            truncation=True,
            return_tensors="pt",
        )
        inputs.pop("token_type_ids", None)
        loss = model(**inputs, return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(folder)
