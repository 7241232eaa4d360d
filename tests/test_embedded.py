"""The embedded engine end to end: real SQLite, LanceDB, tesseract and a tiny random embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

import omnidex
from omnidex.embedded import Collection, Database
from omnidex.errors import AlreadyExistsError, InvalidFilterError, NotFoundError
from omnidex.samples import make_pdf, make_text_image
from omnidex.types import IngestStatus, ObjectStatus, TaskState

pytestmark = pytest.mark.usefixtures("needs_tesseract")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return omnidex.connect(tmp_path / "data")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "meeting.md").write_text(
        "# Weekly sync\n\nThe team agreed to move the launch date to the first week of March.\n\n"
        "Marta will prepare the migration checklist before Friday."
    )
    (folder / "recipe.txt").write_text(
        "Lentil soup. Simmer red lentils with cumin, garlic and lemon for twenty minutes."
    )
    make_text_image("HARBOR BAKERY\nSOURDOUGH DAILY", (900, 360)).save(folder / "sign.png")
    make_pdf(
        folder / "manual.pdf",
        pages=[
            "Solar panel maintenance. Rinse the panels with water every spring.",
            "Warranty. The inverter is covered for ten years from installation.",
        ],
        scanned_pages=["INVOICE TOTAL DUE 420 EUROS"],
    )
    return folder


def test_ingest_a_folder_and_find_each_modality(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    results = collection.ingest(corpus)
    assert [r.status for r in results] == [IngestStatus.INGESTED] * 4, results
    by_name = {Path(r.source).name: r for r in results}
    assert by_name["manual.pdf"].documents == 3  # two text pages (one chunk each), one scan

    pages = {d.page: d for d in collection.documents(where="source contains 'manual.pdf'")}
    assert set(pages) == {1, 2, 3}
    assert pages[3].kind == "page" and "INVOICE" in pages[3].features["ocr@v1/text"].upper()
    assert pages[1].kind == "text" and "Rinse the panels" in pages[1].features["page_text@v1/text"]
    assert pages[3].thumbnail and pages[3].thumbnail[:2] == b"\xff\xd8"  # a JPEG
    assert pages[1].features["text_embedding@v1/vector"] is not None

    assert collection.search("sourdough bakery", k=1)[0].source.endswith("sign.png")
    invoice = collection.search("invoice total due", k=1)[0]
    assert invoice.source.endswith("manual.pdf") and invoice.page == 3
    warranty = collection.search("inverter warranty years", k=1)[0]
    assert warranty.page == 2 and "inverter" in warranty.snippet
    assert collection.search("launch date March", k=1)[0].source.endswith("meeting.md")


def test_hits_carry_scores_and_provenance(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    collection.ingest(corpus)
    hits = collection.search("lentil soup cumin", k=3)
    assert hits[0].source.endswith("recipe.txt")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    provenance = hits[0].provenance
    assert {"search", "search/bm25", "search/text_embedding@v1/vector"} <= set(provenance)
    assert provenance["search/bm25"].rank == 1 and provenance["search"].rank == 1
    assert set(hits[0].matched) == {"bm25", "text_embedding@v1/vector"}
    assert hits[0].evidence and "cumin" in hits[0].evidence[0].text.lower()


def test_same_file_twice_adds_nothing(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    collection.ingest(corpus)
    before = sorted(d.id for d in collection.documents(limit=1000))
    again = collection.ingest([corpus / "recipe.txt", corpus / "sign.png"])
    assert [r.status for r in again] == [IngestStatus.UNCHANGED] * 2
    copy = corpus.parent / "copy-of-recipe.txt"
    copy.write_bytes((corpus / "recipe.txt").read_bytes())
    assert collection.ingest(copy)[0].status is IngestStatus.UNCHANGED
    assert sorted(d.id for d in collection.documents(limit=1000)) == before


def test_new_metadata_reingests_with_the_same_document_ids(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    collection.ingest(corpus / "recipe.txt")
    ids = [d.id for d in collection.documents()]
    result = collection.ingest(corpus / "recipe.txt", metadata={"team": "kitchen", "year": 2026})
    assert result[0].status is IngestStatus.INGESTED
    assert [d.id for d in collection.documents()] == ids
    assert collection.count("team = 'kitchen' and year >= 2026") == len(ids)
    assert collection.search("lentil", where="team = 'garden'") == []


def test_where_filters_search_results(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    collection.ingest(corpus)
    hits = collection.search("panels warranty invoice", k=10, where="page >= 2")
    assert hits and all(h.page is not None and h.page >= 2 for h in hits)
    only_images = collection.search("bakery", where="kind = 'image'")
    assert [h.kind for h in only_images] == ["image"]
    with pytest.raises(InvalidFilterError):
        collection.search("x", where="page > 'two'")


def test_delete_object_removes_its_documents(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    results = collection.ingest(corpus)
    pdf = next(r for r in results if r.source.endswith("manual.pdf"))
    assert pdf.object_id is not None
    total = collection.count()
    assert collection.delete_object(pdf.object_id) == 3
    assert collection.count() == total - 3
    assert all(o.id != pdf.object_id for o in collection.objects())
    assert all(not h.source.endswith("manual.pdf") for h in collection.search("invoice", k=10))
    with pytest.raises(NotFoundError):
        collection.delete_object(pdf.object_id)


def test_objects_and_tasks_are_recorded(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    collection.ingest(corpus)
    objects = collection.objects()
    assert len(objects) == 4 and {o.status for o in objects} == {ObjectStatus.SUCCEEDED}
    assert {o.kind for o in objects} == {"text", "image", "pdf"}
    tasks = db.catalog.list_tasks(collection.info.id)
    assert len(tasks) == 4
    assert {t.state for t in tasks} == {TaskState.SUCCEEDED}
    assert all(t.progress == 1.0 and t.attempts == 1 for t in tasks)


def test_collections_lifecycle(db: Database, tiny_extractors: list[object], tmp_path: Path) -> None:
    collection = db.create_collection("a", extractors=tiny_extractors)
    db.create_collection("b", extractors=tiny_extractors)
    assert [c.name for c in db.collections()] == ["a", "b"]
    with pytest.raises(AlreadyExistsError):
        db.create_collection("a", extractors=tiny_extractors)
    reopened = omnidex.connect(db.path).collection("a")
    assert isinstance(reopened, Collection)
    assert reopened.info.features == collection.info.features
    dim = reopened.info.feature("text_embedding@v1/vector")
    assert dim is not None and dim.dim == 32
    db.drop_collection("a")
    assert [c.name for c in db.collections()] == ["b"]
    with pytest.raises(NotFoundError):
        db.collection("a")


def test_a_reopened_collection_searches_with_the_stored_model(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    db.create_collection("docs", extractors=tiny_extractors).ingest(corpus)
    again = omnidex.connect(db.path).collection("docs")
    assert again.search("lentil soup", k=1)[0].source.endswith("recipe.txt")
    assert "search/text_embedding@v1/vector" in again.search("lentil soup", k=1)[0].provenance


def test_get_returns_the_whole_document_and_globs_ingest(
    db: Database, corpus: Path, tiny_extractors: list[object]
) -> None:
    collection = db.create_collection("docs", extractors=tiny_extractors)
    results = collection.ingest(str(corpus / "**" / "*.md"))
    assert [Path(r.source).name for r in results] == ["meeting.md"]
    hit = collection.search("migration checklist", k=1)[0]
    document = collection.get(hit.id)
    assert document.object_id == hit.object_id == results[0].object_id
    assert "Marta" in document.features["page_text@v1/text"]
    assert len(document.features["text_embedding@v1/vector"]) == 32
    assert document.extractors == ["page_text@v1", "ocr@v1", "text_embedding@v1"]
    with pytest.raises(NotFoundError):
        collection.get("doc_missing")
