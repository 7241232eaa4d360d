"""ocr@v1 with tesseract on generated images: words, boxes, confidence, order, missing program,
missing language packs refused when a collection is made."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

import omnidex
from omnidex.errors import InvalidSpecError, MissingDependencyError
from omnidex.extractors.ocr import Ocr
from omnidex.types import CollectionSpec, ExtractorSpec, FeatureType, Segment

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")


def render(lines: list[str]) -> Image.Image:
    font = ImageFont.load_default(size=48)
    image = Image.new("RGB", (900, 90 * len(lines) + 60), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 90 * i), line, fill="black", font=font)
    return image


def _segment(key: str, image: Image.Image | None) -> Segment:
    return Segment(
        object_id="o",
        kind="image",
        key=key,
        source="x.png",
        image=(lambda: image) if image is not None else None,
    )


def test_features() -> None:
    features = {f.name: f.type for f in Ocr().features()}
    assert features == {
        "text": FeatureType.TEXT,
        "words": FeatureType.JSON,
        "confidence": FeatureType.NUMBER,
    }


def test_unknown_engine_is_a_spec_error() -> None:
    with pytest.raises(InvalidSpecError) as info:
        Ocr({"engine": "magic"})
    assert info.value.context["field"] == "params.engine"


@needs_tesseract
def test_reads_words_with_boxes_and_confidence() -> None:
    [result] = Ocr().extract([_segment("0", render(["HELLO WORLD", "omnidex search"]))])
    assert [line for line in result["text"].splitlines() if line] == [
        "HELLO WORLD",
        "omnidex search",
    ]
    assert [w["text"] for w in result["words"]] == ["HELLO", "WORLD", "omnidex", "search"]
    hello = result["words"][0]
    x, y, w, h = hello["box"]
    assert 30 <= x <= 60 and 30 <= y <= 70 and w > 100 and 20 < h < 80
    assert 50 < result["confidence"] <= 100
    assert all(0 <= w["conf"] <= 100 for w in result["words"])


@needs_tesseract
def test_batch_keeps_order_and_skips_blank_and_imageless() -> None:
    segments = [
        _segment("0", render(["FIRST PAGE"])),
        _segment("1", Image.new("L", (300, 200), "white")),
        _segment("2", None),
        _segment("3", render(["THIRD PAGE"])),
    ]
    results = Ocr().extract(segments)
    assert [r.get("text") for r in results] == ["FIRST PAGE", None, None, "THIRD PAGE"]


@needs_tesseract
def test_min_confidence_drops_words_and_rebuilds_text() -> None:
    segment = _segment("0", render(["HELLO WORLD", "omnidex search"]))
    [full] = Ocr().extract([segment])
    weakest = min(full["words"], key=lambda w: w["conf"])
    [kept] = Ocr({"min_confidence": weakest["conf"] + 1e-3}).extract([segment])
    assert weakest["text"] not in kept["text"].split()
    assert all(w["conf"] > weakest["conf"] for w in kept["words"])
    mean = sum(w["conf"] for w in kept["words"]) / len(kept["words"])
    assert kept["confidence"] == pytest.approx(mean)


def test_missing_tesseract_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    extractor = Ocr()
    with pytest.raises(MissingDependencyError, match="apt-get install tesseract-ocr"):
        extractor.load()


@needs_tesseract
def test_missing_language_names_the_package() -> None:
    with pytest.raises(MissingDependencyError, match="tesseract-ocr-zzz") as info:
        Ocr({"languages": "eng+zzz"}).load()
    assert info.value.context["languages"] == ["zzz"]


@needs_tesseract
def test_missing_language_is_refused_when_the_collection_is_made(tmp_path: Path) -> None:
    ocr = {"name": "ocr@v1", "params": {"languages": "eng+xyz"}}
    with omnidex.connect(tmp_path / "data") as db:
        with pytest.raises(InvalidSpecError, match="no language pack for xyz") as made:
            db.create_collection("scans", ["page_text@v1", ocr])
        assert made.value.context["field"] == "extractors[1].params.languages"
        assert made.value.context["languages"] == ["xyz"]
        assert db.collections() == []
        db.create_collection("scans", ["page_text@v1"])
        with pytest.raises(InvalidSpecError, match="no language pack for xyz"):
            db.update_collection("scans", ["page_text@v1", ocr])
        assert [e.name for e in db.collection("scans").info.spec.extractors] == ["page_text@v1"]
        # Checked when a spec is new, not when one is opened: a collection made where the pack
        # was installed stays readable here.
        spec = CollectionSpec(
            extractors=[ExtractorSpec(name="ocr@v1", params={"languages": "xyz"})]
        )
        db.catalog.create_collection(db.namespace, "old", spec, Ocr({"languages": "xyz"}).columns())
        assert db.collection("old").count_objects() == 0


def test_bad_language_syntax_is_a_spec_error() -> None:
    with pytest.raises(InvalidSpecError, match="languages") as info:
        Ocr({"languages": "eng+"})
    assert info.value.context["field"] == "params.languages"
