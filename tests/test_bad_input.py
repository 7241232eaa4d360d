"""Bad input through the public API: each gets a typed error or a failed result with its reason,
and nothing is half-written."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest

import omnidex
from omnidex.embedded import Database
from omnidex.errors import InvalidSpecError, SourceNotFoundError, UnknownExtractorError
from omnidex.samples import make_encrypted_pdf, make_pdf, make_text_image
from omnidex.types import IngestStatus, ObjectStatus

pytestmark = pytest.mark.usefixtures("needs_tesseract")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return omnidex.connect(tmp_path / "data")


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with a tiny body: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("The harbor ferry leaves at seven every morning.")
    make_text_image("GOOD IMAGE", (600, 200)).save(folder / "good.png")
    (folder / "empty.txt").write_bytes(b"")
    with zipfile.ZipFile(folder / "slides.docx", "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> garbage")
    make_encrypted_pdf(folder / "locked.pdf", password="s3cret")
    (folder / "bomb.png").write_bytes(png_declaring(100_000, 100_000))
    (folder / "binary.txt").write_bytes(b"text\x00\x01\x02 with NULs")
    return folder


EXPECTED_FAILURES = {
    "empty.txt": "empty_file",
    "slides.docx": "unsupported_media",
    "broken.pdf": "corrupt_media",
    "locked.pdf": "encrypted_media",
    "bomb.png": "limit_exceeded",
    "binary.txt": "unsupported_media",
}


def test_a_folder_with_bad_files_lands_the_good_ones(
    db: Database, mixed_folder: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    results = {Path(r.source).name: r for r in collection.ingest(mixed_folder)}
    assert results["good.txt"].status is IngestStatus.INGESTED
    assert results["good.png"].status is IngestStatus.INGESTED
    for name, code in EXPECTED_FAILURES.items():
        result = results[name]
        assert result.status is IngestStatus.FAILED, name
        assert result.error_code == code, (name, result.error)
        assert name in (result.error or ""), result.error  # the reason names the file
    assert collection.count() == 2  # only the good files' documents
    sources = {Path(d.source).name for d in collection.documents()}
    assert sources == {"good.txt", "good.png"}
    failed = [o for o in collection.objects() if o.status is ObjectStatus.FAILED]
    assert all(o.error for o in failed)
    assert collection.search("ferry harbor", k=1)[0].source.endswith("good.txt")


def test_the_bomb_is_refused_before_its_pixels_are_decoded(
    db: Database, tmp_path: Path, tiny_extractors: list[object]
) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(100_000, 100_000))
    result = db.create_collection("docs", extractors=tiny_extractors).ingest(bomb)[0]
    assert result.error_code == "limit_exceeded"
    assert "100000" in (result.error or "")


def test_a_pdf_over_the_page_limit_is_refused(
    tmp_path: Path, tiny_extractors: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIDEX_MAX_PDF_PAGES", "2")
    db = omnidex.connect(tmp_path / "data")
    make_pdf(tmp_path / "long.pdf", pages=["one", "two", "three"])
    result = db.create_collection("docs", extractors=tiny_extractors).ingest(tmp_path / "long.pdf")
    assert result[0].error_code == "limit_exceeded"
    assert db.collection("docs").count() == 0


def test_a_missing_path_is_a_typed_error(db: Database, tiny_extractors: list[object]) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    with pytest.raises(SourceNotFoundError, match="nowhere"):
        collection.ingest("/nowhere/at/all.pdf")


def test_unknown_extractor_is_rejected_when_the_collection_is_created(db: Database) -> None:
    with pytest.raises(UnknownExtractorError) as info:
        db.create_collection("docs", extractors=["page_text@v1", "teleport@v1"])
    assert info.value.context["field"] == "extractors[1].name"
    assert "page_text@v1" in info.value.message  # lists what exists
    assert db.collections() == []


@pytest.mark.parametrize(
    ("extractor", "field"),
    [
        (
            {"name": "page_text@v1", "params": {"chunk_tokens": -5}},
            "extractors[0].params.chunk_tokens",
        ),
        (
            {"name": "page_text@v1", "params": {"chunk_size": 100}},
            "extractors[0].params.chunk_size",
        ),
        ({"name": "ocr@v1", "params": {"engine": "magic"}}, "extractors[0].params.engine"),
        ({"name": "ocr v1"}, "extractors[0]"),
    ],
)
def test_bad_params_are_rejected_naming_the_field(
    db: Database, extractor: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidSpecError) as info:
        db.create_collection("docs", extractors=[extractor])
    assert info.value.context["field"] == field
    assert db.collections() == []


def test_embedding_features_that_do_not_exist_are_rejected(
    db: Database, tiny_embedder_path: Path
) -> None:
    embed = {
        "name": "text_embedding@v1",
        "params": {"model_id": str(tiny_embedder_path), "features": ["ocr@v1/nope"]},
    }
    with pytest.raises(InvalidSpecError) as info:
        db.create_collection("docs", extractors=["ocr@v1", embed])
    assert info.value.context["field"].startswith("extractors[1].params.features")
    assert "ocr@v1/nope" in info.value.message


def test_an_extractor_that_fails_on_one_object_fails_only_that_object(
    db: Database, tmp_path: Path, tiny_extractors: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnidex.extractors.page_text import PageText

    original = PageText.extract

    def flaky(self: PageText, segments: list) -> list:  # type: ignore[type-arg]
        if any("poison" in (s.text or "") for s in segments):
            raise RuntimeError("simulated crash inside an extractor")
        return original(self, segments)

    monkeypatch.setattr(PageText, "extract", flaky)
    for name, text in [
        ("a.txt", "alpha harbor"),
        ("b.txt", "poison pill"),
        ("c.txt", "gamma ferry"),
    ]:
        (tmp_path / name).write_text(text)
    collection = db.create_collection("docs", extractors=tiny_extractors)
    results = {Path(r.source).name: r for r in collection.ingest(sorted(tmp_path.glob("*.txt")))}
    assert results["b.txt"].status is IngestStatus.FAILED
    assert "simulated crash" in (results["b.txt"].error or "")
    assert results["a.txt"].status is results["c.txt"].status is IngestStatus.INGESTED
    assert {Path(d.source).name for d in collection.documents()} == {"a.txt", "c.txt"}


def test_a_missing_ocr_program_fails_only_the_images_saying_how_to_install_it(
    db: Database, tmp_path: Path, tiny_extractors: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_text_image("NO OCR HERE", (400, 200)).save(tmp_path / "sign.png")
    (tmp_path / "note.txt").write_text("plain text needs no OCR")
    collection = db.create_collection("docs", extractors=tiny_extractors)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    note, sign = collection.ingest([tmp_path / "note.txt", tmp_path / "sign.png"])
    assert note.status is IngestStatus.INGESTED  # text needs no OCR
    assert sign.error_code == "missing_dependency"
    assert "apt-get install tesseract-ocr" in (sign.error or "")
    assert collection.object(sign.object_id or "").status is ObjectStatus.FAILED
    assert {Path(d.source).name for d in collection.documents()} == {"note.txt"}
