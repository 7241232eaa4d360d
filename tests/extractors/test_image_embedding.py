"""image_embedding@v1 on tiny SigLIP and CLIP checkpoints: dims from the config, what each
segment kind embeds, pooling, batching, both query towers, and ranking with a trained model."""

from __future__ import annotations

import io
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omnidex.errors import InvalidSpecError, ModelLoadError
from omnidex.extractors.image_embedding import ImageEmbedding
from omnidex.models import image_text
from omnidex.models.image_text import get_dual_encoder
from omnidex.types import FeatureType, Segment

from ..image_checkpoints import caption, shape_image


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def picture(colour: str, shape: str, seed: int = 0) -> Image.Image:
    return shape_image(colour, shape, random.Random(seed))


@pytest.fixture
def siglip(tiny_siglip_path: Path) -> ImageEmbedding:
    return ImageEmbedding({"model_id": str(tiny_siglip_path), "device": "cpu", "batch_size": 2})


def test_dim_comes_from_the_config_without_loading_weights(
    tiny_siglip_path: Path, tiny_clip_path: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(tiny_siglip_path, tmp_path / "siglip")
    [column] = ImageEmbedding({"model_id": str(copy)}).columns()
    assert (column.address, column.type, column.dim) == (
        "image_embedding@v1/vector",
        FeatureType.VECTOR,
        32,
    )
    assert not any(path == copy for path, _ in image_text._ENCODERS._by_path)
    [clip] = ImageEmbedding({"model_id": str(tiny_clip_path)}).columns()
    assert clip.dim == 24  # CLIP's projection_dim, not its hidden size


def test_a_model_that_is_not_a_dual_encoder_is_refused(tiny_embedder_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        ImageEmbedding({"model_id": str(tiny_embedder_path)}).columns()


def test_bad_params_are_refused() -> None:
    with pytest.raises(InvalidSpecError) as info:
        ImageEmbedding({"frames": 0})
    assert info.value.context["field"] == "params.frames"


def test_each_segment_kind_embeds_its_picture(siglip: ImageEmbedding) -> None:
    red, blue, green = (
        picture("red", "circle"),
        picture("blue", "square"),
        picture("green", "circle"),
    )
    thumbnail = jpeg(green)
    segments = [
        Segment("o", "image", "image", "a.png", image=lambda: red),
        Segment("p", "page", "page=0001", "a.pdf", page=1, image=lambda: blue),
        Segment("p", "text", "page=0002/chunk=000", "a.pdf", page=2, thumbnail=thumbnail),
        Segment("p", "text", "page=0002/chunk=001", "a.pdf", page=2, thumbnail=thumbnail),
        Segment("v", "scene", "scene=0000", "a.mp4", image=lambda: blue, thumbnail=thumbnail),
    ]
    assert all(siglip.accepts_segment(s) for s in segments)
    assert not siglip.accepts_segment(Segment("t", "text", "chunk=000", "a.txt", text="hi"))
    assert not siglip.accepts_segment(Segment("a", "audio", "audio=0000", "a.wav"))
    results = siglip.extract(segments)
    vectors = np.vstack([r["vector"] for r in results])
    assert vectors.dtype == np.float32 and vectors.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    decoded = Image.open(io.BytesIO(thumbnail)).convert("RGB")
    expected = siglip.encoder().encode_images([red, blue, decoded, decoded, blue])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)  # the model sees the pixels


def test_scene_frames_are_pooled(tiny_siglip_path: Path) -> None:
    frames = [
        picture("red", "circle", 1),
        picture("blue", "square", 2),
        picture("green", "triangle", 3),
    ]
    extractor = ImageEmbedding({"model_id": str(tiny_siglip_path), "device": "cpu", "frames": 3})
    asked: list[int] = []

    def spread(n: int) -> list[Image.Image]:
        asked.append(n)
        return frames[:n]

    scene = Segment("v", "scene", "scene=0000", "a.mp4", image=lambda: frames[0], frames=spread)
    [result] = extractor.extract([scene])
    assert asked == [3]
    each = extractor.encoder().encode_images(frames)
    mean = each.mean(axis=0)
    np.testing.assert_allclose(result["vector"], mean / np.linalg.norm(mean), atol=1e-5)


def test_batching_equals_one_by_one(siglip: ImageEmbedding) -> None:
    images = [
        picture(c, s, i)
        for i, (c, s) in enumerate(
            [
                ("red", "circle"),
                ("blue", "square"),
                ("green", "triangle"),
                ("red", "square"),
                ("blue", "circle"),
            ]
        )
    ]
    segments = [
        Segment("o", "image", str(i), f"{i}.png", image=lambda im=im: im)
        for i, im in enumerate(images)
    ]
    batched = np.vstack([r["vector"] for r in siglip.extract(segments)])
    single = np.vstack([siglip.extract([s])[0]["vector"] for s in segments])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert siglip.extract([]) == []


def test_queries_use_the_tower_of_their_kind(siglip: ImageEmbedding, tiny_clip_path: Path) -> None:
    assert siglip.query_kinds() == {"text", "image"}
    red = picture("red", "circle")
    vectors = siglip.embed_queries(["a red circle", red, "a blue square"])
    encoder = siglip.encoder()
    np.testing.assert_allclose(
        vectors[[0, 2]], encoder.encode_texts(["a red circle", "a blue square"]), atol=1e-5
    )
    np.testing.assert_allclose(vectors[1], encoder.encode_images([red])[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert siglip.embed_queries([]).shape == (0, 32)
    with pytest.raises(InvalidSpecError, match="text and image"):
        siglip.embed_queries([3])
    clip = ImageEmbedding({"model_id": str(tiny_clip_path), "device": "cpu"})
    assert clip.embed_queries(["a cat", red]).shape == (2, 24)


def test_one_model_per_process(tiny_siglip_path: Path) -> None:
    one = ImageEmbedding({"model_id": str(tiny_siglip_path), "device": "cpu"})
    two = ImageEmbedding({"model_id": str(tiny_siglip_path), "device": "cpu", "frames": 4})
    assert one.encoder() is two.encoder() is get_dual_encoder(f"{tiny_siglip_path}/", "cpu")


def test_a_trained_model_matches_pictures_and_captions(trained_clip_path: Path) -> None:
    extractor = ImageEmbedding({"model_id": str(trained_clip_path), "device": "cpu"})
    items = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
    segments = [
        Segment("o", "image", f"{c}-{s}", f"{c}-{s}.png", image=lambda c=c, s=s: picture(c, s, 7))
        for c, s in items
    ]
    indexed = np.vstack([r["vector"] for r in extractor.extract(segments)])
    texts = extractor.embed_queries([caption(c, s) for c, s in items])
    examples = extractor.embed_queries([picture(c, s, 99) for c, s in items])
    assert list((texts @ indexed.T).argmax(axis=1)) == [0, 1, 2]
    assert list((examples @ indexed.T).argmax(axis=1)) == [0, 1, 2]


@pytest.fixture
def no_default_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty Hugging Face cache, the hub off, and the per-process answer forgotten."""
    from omnidex.extractors.image_embedding import default_model_missing

    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    default_model_missing.cache_clear()
    yield cache
    default_model_missing.cache_clear()


def test_default_collection_leaves_image_search_out_offline_with_a_notice(
    no_default_answer: Path, tmp_path: Path
) -> None:
    import omnidex

    collection = omnidex.connect(tmp_path / "data").create_collection("docs")
    assert "image_embedding@v1" not in [e.name for e in collection.info.spec.extractors]
    assert collection.notice is not None and "image_embedding@v1" in collection.notice
    assert "\n" not in collection.notice


def test_default_collection_includes_image_search_when_the_model_is_cached(
    no_default_answer: Path, tiny_siglip_path: Path, tmp_path: Path
) -> None:
    import omnidex
    from omnidex.extractors.image_embedding import DEFAULT_IMAGE_MODEL

    repo = no_default_answer / ("models--" + DEFAULT_IMAGE_MODEL.replace("/", "--"))
    shutil.copytree(tiny_siglip_path, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    collection = omnidex.connect(tmp_path / "data").create_collection("docs")
    assert collection.info.spec.extractors[-1].name == "image_embedding@v1"
    assert collection.notice is None
    assert collection.info.feature("image_embedding@v1/vector").dim == 32  # type: ignore[union-attr]
