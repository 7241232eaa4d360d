"""Visual search end to end: images, PDF pages and video scenes embedded by image_embedding@v1 (a
tiny CLIP trained on coloured shapes), found by text through its text tower and by example."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image

import omnidex
from omnidex.embedded import Collection, Database
from omnidex.errors import CorruptMediaError, InvalidSpecError, LimitExceededError

from .image_checkpoints import PICTURES, shape_image, shapes_collection

VECTOR = "image_embedding@v1/vector"


def picture(colour: str, shape: str, seed: int, size: int = 64) -> Image.Image:
    return shape_image(colour, shape, random.Random(seed), size)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return omnidex.connect(tmp_path_factory.mktemp("image_search") / "data")


@pytest.fixture(scope="module")
def shapes(
    db: Database,
    tmp_path_factory: pytest.TempPathFactory,
    trained_clip_path: Path,
    tiny_embedder_path: Path,
) -> Collection:
    return shapes_collection(
        db, tmp_path_factory.mktemp("shapes"), trained_clip_path, tiny_embedder_path
    )


def top(hits: list[omnidex.types.Hit]) -> str:
    return Path(hits[0].source).name


@pytest.mark.parametrize(("colour", "shape"), PICTURES)
def test_text_finds_the_picture_nothing_was_said_about(
    shapes: Collection, colour: str, shape: str
) -> None:
    hits = shapes.search(f"a {colour} {shape}", where="kind = 'image'")
    assert top(hits) == f"{colour}-{shape}.png"
    assert "search/" + VECTOR in hits[0].provenance


@pytest.mark.parametrize(("colour", "shape"), PICTURES)
def test_a_picture_finds_pictures_like_it(
    shapes: Collection, colour: str, shape: str, tmp_path: Path
) -> None:
    example = picture(colour, shape, seed=50)
    example.save(tmp_path / "shot.png")
    for given in (tmp_path / "shot.png", str(tmp_path / "shot.png"), png(example), example):
        hits = shapes.search(image=given, where="kind = 'image'")
        assert top(hits) == f"{colour}-{shape}.png"
        assert f"search/{VECTOR}:image" in hits[0].provenance
        assert "search/bm25" not in hits[0].provenance


def test_video_scenes_are_found_at_their_moment(shapes: Collection) -> None:
    [first, second] = sorted(shapes.documents(where="kind = 'scene'"), key=lambda d: d.key)
    assert first.features.get(VECTOR) is not None and second.features.get(VECTOR) is not None
    hit = shapes.search("a green circle", where="kind = 'scene'")[0]
    assert hit.key == second.key and hit.start_s is not None and hit.start_s >= 1.5
    hit = shapes.search(image=picture("red", "square", 60), where="kind = 'scene'")[0]
    assert hit.key == first.key


def test_pdf_pages_have_image_vectors(shapes: Collection) -> None:
    pages = shapes.documents(where="kind = 'text'")
    assert pages and all(len(d.features[VECTOR]) == 24 for d in pages)


def test_text_and_image_together_are_fused(shapes: Collection) -> None:
    result = shapes.explain("solar panel", image=picture("blue", "square", 70))
    by_source = {Path(h.source).name: h for h in result.hits}
    assert "search/bm25" in by_source["manual.pdf"].provenance
    assert f"search/{VECTOR}:image" in by_source["blue-square.png"].provenance
    assert "search/" + VECTOR in by_source["blue-square.png"].provenance  # the text, too


def test_bad_query_images_are_refused_clearly(shapes: Collection, db: Database) -> None:
    with pytest.raises(InvalidSpecError, match="text query, an image"):
        shapes.search()
    with pytest.raises(CorruptMediaError, match="query image"):
        shapes.search(image=b"not an image at all")
    with omnidex.connect(db.path) as small:
        small.settings.limits.max_image_pixels = 100
        with pytest.raises(LimitExceededError, match="max_image_pixels"):
            small.collection("shapes").search(image=picture("red", "circle", 1))


def test_a_saved_retriever_takes_an_image_input(db: Database, shapes: Collection) -> None:
    db.create_retriever(
        {
            "name": "by-photo",
            "collections": ["shapes"],
            "inputs": {"photo": {"type": "image"}},
            "stages": [
                {
                    "type": "feature_search",
                    "params": {"searches": [{"feature": VECTOR, "query": "{{inputs.photo}}"}]},
                },
                {"type": "attribute_filter", "params": {"where": "kind = 'image'"}},
            ],
        }
    )
    example = png(picture("green", "triangle", 80))
    hits = db.retriever("by-photo").run({"photo": example}).hits
    assert top(hits) == "green-triangle.png"
    import base64

    encoded = base64.b64encode(example).decode()
    assert top(db.retriever("by-photo").run({"photo": encoded}).hits) == "green-triangle.png"
    with pytest.raises(InvalidSpecError, match="photo"):
        db.retriever("by-photo").run({"photo": 3})


def test_an_image_query_needs_an_extractor_that_embeds_images(
    db: Database, tiny_embedder_path: Path
) -> None:
    db.create_collection(
        "words",
        extractors=[
            "page_text@v1",
            {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
        ],
    )
    with pytest.raises(InvalidSpecError, match="embeds text queries") as info:
        db.create_retriever(
            {
                "name": "words-by-photo",
                "collections": ["words"],
                "inputs": {"photo": {"type": "image"}},
                "stages": [
                    {
                        "type": "feature_search",
                        "params": {
                            "searches": [
                                {"feature": "text_embedding@v1/vector", "query": "{{inputs.photo}}"}
                            ]
                        },
                    }
                ],
            }
        )
    assert info.value.context["field"] == "stages[0].params.searches[0].query"
