"""One behaviour suite, run on both interfaces: the embedded API (``omnidex.connect``) and the
remote client (``omnidex.Client``) against a real server with auth on, over real HTTP.

Each test runs once per interface and asserts the same things; typed errors are compared with
those of a reference embedded database, so the two must raise the same class with the same message
and context. The CLI runs the same commands with ``--data`` and with ``--server``. What differs by
design (see :mod:`omnidex.remote.collection`) is tested on the remote client alone, at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import omnidex
from omnidex.cli.main import app
from omnidex.embedded import Database
from omnidex.errors import (
    AuthenticationError,
    InvalidFilterError,
    InvalidSpecError,
    NotFoundError,
    OmnidexError,
    PermissionDeniedError,
    RateLimitedError,
    UnknownExtractorError,
)
from omnidex.remote import Client, ServerUnreachableError
from omnidex.samples import make_text_image
from omnidex.types import IngestResult, IngestStatus, ObjectStatus, RetrievalResult

from .server.conftest import free_port, start_server

pytestmark = pytest.mark.usefixtures("needs_tesseract")

TEXT_ONLY = ["page_text@v1"]


@dataclass
class Backend:
    kind: str
    api: Database | Client
    cli_args: list[str]
    """The global options that point the CLI at the same data."""
    url: str = ""
    read_key: str = ""


@pytest.fixture(scope="module", params=["embedded", "remote"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    home = tmp_path_factory.mktemp(request.param) / "data"
    if request.param == "embedded":
        with omnidex.connect(home) as db:
            yield Backend("embedded", db, ["--data", str(home)])
        return
    with omnidex.connect(home) as db:
        _, write_key = db.create_key("tests", "write")
        _, read_key = db.create_key("reader", "read")
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    try:
        with omnidex.Client(url, write_key) as client:
            cli_args = ["--server", url, "--api-key", write_key]
            yield Backend("remote", client, cli_args, url, read_key)
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """An embedded database whose errors the backend's must equal."""
    with omnidex.connect(tmp_path_factory.mktemp("reference")) as db:
        db.create_collection("docs", TEXT_ONLY)
        yield db


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("files")
    (folder / "notes").mkdir()
    (folder / "notes" / "ferry.txt").write_text("The harbor ferry leaves at seven every morning.")
    (folder / "recipe.txt").write_text("Lentil soup. Simmer red lentils with cumin and lemon.")
    make_text_image("HARBOR BAKERY\nSOURDOUGH DAILY", (900, 360)).save(folder / "sign.png")
    return folder


@dataclass
class Corpus:
    results: list[IngestResult]
    ids: dict[str, str]
    """Object id by file name."""


@pytest.fixture(scope="module")
def corpus(backend: Backend, files: Path, tiny_extractors: list[Any]) -> Corpus:
    """Collection ``docs`` (text, OCR, tiny embedder) with the two text files and the image."""
    collection = backend.api.create_collection("docs", tiny_extractors)
    results = collection.ingest(files, metadata={"team": "ops"})
    ids = {Path(r.source).name: r.object_id or "" for r in results}
    return Corpus(results, ids)


def same_error(
    backend: Backend, reference: Database, call: Callable[[Database | Client], Any]
) -> OmnidexError:
    """The error ``call`` raises on the backend, checked equal to the reference database's."""
    with pytest.raises(OmnidexError) as expected:
        call(reference)
    with pytest.raises(OmnidexError) as raised:
        call(backend.api)
    got, want = raised.value, expected.value
    assert (type(got), got.code, got.message, got.context) == (
        type(want),
        want.code,
        want.message,
        want.context,
    )
    return got


# --- collections ----------------------------------------------------------------------------------


def test_create_list_get_update_drop_a_collection(backend: Backend) -> None:
    api = backend.api
    created = api.create_collection("scratch", TEXT_ONLY, {"split": "time", "window_s": 5})
    assert created.name == "scratch" and created.info.spec_version == 1
    assert created.info.spec.segmentation.window_s == 5
    assert [f.address for f in created.info.features] == ["page_text@v1/text"]
    assert "scratch" in [info.name for info in api.collections()]
    assert api.collection("scratch").info == created.info

    updated = api.update_collection("scratch", ["page_text@v1", "ocr@v1"])
    assert updated.info.spec_version == 2
    assert [e.name for e in updated.info.spec.extractors] == ["page_text@v1", "ocr@v1"]
    assert updated.info.spec.segmentation.window_s == 5  # kept when not given

    api.drop_collection("scratch")
    assert "scratch" not in [info.name for info in api.collections()]
    with pytest.raises(NotFoundError):
        api.collection("scratch")


# --- ingest ---------------------------------------------------------------------------------------


def test_ingest_a_folder_of_text_and_an_image(corpus: Corpus, files: Path) -> None:
    by_name = {Path(r.source).name: r for r in corpus.results}
    assert sorted(by_name) == ["ferry.txt", "recipe.txt", "sign.png"]
    assert {r.status for r in corpus.results} == {IngestStatus.INGESTED}
    assert all(r.documents == 1 and r.object_id for r in corpus.results)
    assert by_name["ferry.txt"].source == str(files / "notes" / "ferry.txt")  # the caller's path


def test_ingesting_the_same_files_again_changes_nothing(
    backend: Backend, corpus: Corpus, files: Path
) -> None:
    seen: list[IngestResult] = []
    again = backend.api.collection("docs").ingest(
        [files / "recipe.txt", files / "notes"], metadata={"team": "ops"}, progress=seen.append
    )
    assert [r.status for r in again] == [IngestStatus.UNCHANGED] * 2
    assert [(Path(r.source).name, r.object_id) for r in again] == [
        ("ferry.txt", corpus.ids["ferry.txt"]),
        ("recipe.txt", corpus.ids["recipe.txt"]),
    ]
    assert all(r.documents == 1 for r in again) and sorted(seen, key=str) == sorted(again, key=str)


def bad_files(folder: Path) -> Path:
    folder.mkdir()
    (folder / "ok.txt").write_text("fine words")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n" + b"garbage " * 50)
    return folder


def test_bad_files_fail_alone_with_the_reason(backend: Backend, tmp_path: Path) -> None:
    collection = backend.api.create_collection("mixed", TEXT_ONLY)
    broken, empty, ok = collection.ingest(bad_files(tmp_path / "in"))
    assert ok.status is IngestStatus.INGESTED and ok.documents == 1
    assert empty.status is IngestStatus.FAILED and empty.source == str(tmp_path / "in/empty.txt")
    assert empty.error_code == "empty_file" and "the file is empty" in (empty.error or "")
    assert broken.status is IngestStatus.FAILED and "cannot open" in (broken.error or "")
    assert broken.object_id and collection.object(broken.object_id).status == "failed"
    assert collection.count() == 1


def test_a_file_that_fails_in_extraction_names_its_error_code(
    backend: Backend, tmp_path: Path
) -> None:
    collection = backend.api.create_collection("coded", TEXT_ONLY)
    (broken, _, _) = collection.ingest(bad_files(tmp_path / "in"))
    assert broken.error_code == "corrupt_media"


def test_missing_sources_are_an_error_before_anything_is_sent(
    backend: Backend, reference: Database, corpus: Corpus
) -> None:
    same_error(backend, reference, lambda api: api.collection("docs").ingest("/no/such/file.txt"))


# --- search and documents -------------------------------------------------------------------------


def test_search_finds_text_and_the_words_in_an_image(backend: Backend, corpus: Corpus) -> None:
    docs = backend.api.collection("docs")
    (ferry,) = docs.search("ferry leaves every morning", k=1)
    assert ferry.object_id == corpus.ids["ferry.txt"] and "ferry" in ferry.snippet
    assert ferry.metadata == {"team": "ops"} and ferry.collection == "docs"
    assert {"search", "search/bm25"} <= set(ferry.provenance)
    (sign,) = docs.search("sourdough bakery", k=1, where="kind = 'image'")
    assert sign.object_id == corpus.ids["sign.png"] and sign.kind == "image"
    hits = docs.search("lentil soup cumin", k=3)
    assert hits[0].object_id == corpus.ids["recipe.txt"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert docs.search("harbor", where="team = 'nobody'") == []


def test_documents_list_get_and_count_with_where_filters(backend: Backend, corpus: Corpus) -> None:
    docs = backend.api.collection("docs")
    assert docs.count() == 3 and docs.count(where="team = 'ops'") == 3
    assert docs.count(where="kind = 'text'") == 2
    (image,) = docs.documents(where="kind = 'image'")
    assert image.object_id == corpus.ids["sign.png"] and image.metadata == {"team": "ops"}
    assert "BAKERY" in image.features["ocr@v1/text"].upper()
    everything = docs.documents()
    assert len(everything) == 3 and docs.documents(limit=2, offset=1) == everything[1:]
    text = next(d for d in everything if d.object_id == corpus.ids["recipe.txt"])
    assert "Lentil" in text.features["page_text@v1/text"]
    fetched = docs.get(text.id)
    assert (fetched.id, fetched.key, fetched.features["page_text@v1/text"]) == (
        text.id,
        text.key,
        text.features["page_text@v1/text"],
    )


# --- objects ----------------------------------------------------------------------------------


def test_objects_get_list_and_delete(
    backend: Backend, reference: Database, corpus: Corpus, tmp_path: Path
) -> None:
    collection = backend.api.create_collection("objs", TEXT_ONLY)
    (tmp_path / "a.txt").write_text("alpha words")
    (tmp_path / "b.txt").write_text("beta words")
    first, second = collection.ingest(tmp_path, metadata={"batch": 1})
    records = collection.objects()
    assert sorted(r.id for r in records) == sorted([first.object_id, second.object_id])
    assert collection.objects(ObjectStatus.SUCCEEDED) == records
    assert collection.objects("failed") == []
    record = collection.object(first.object_id or "")
    assert (record.kind, record.status, record.document_count) == ("text", "succeeded", 1)
    assert record.metadata == {"batch": 1}

    assert collection.delete_object(record.id) == 1
    assert [r.id for r in collection.objects()] == [second.object_id]
    assert collection.count() == 1
    with pytest.raises(NotFoundError):
        collection.object(record.id)
    same_error(backend, reference, lambda api: api.collection("docs").objects("bogus"))


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many segments page_text@v1 has extracted (the real extractor runs; it is counted)."""
    from omnidex.extractors.page_text import PageText

    calls: list[int] = []
    original = PageText.extract

    def counted(self: PageText, segments: Any) -> list[dict[str, Any]]:
        calls.append(len(segments))
        return original(self, segments)

    monkeypatch.setattr(PageText, "extract", counted)
    return calls


def test_metadata_is_changed_without_extracting_again(
    backend: Backend, reference: Database, corpus: Corpus, tmp_path: Path, extracted: list[int]
) -> None:
    collection = backend.api.create_collection("meta", TEXT_ONLY)
    (tmp_path / "a.txt").write_text("alpha words")
    (tmp_path / "b.txt").write_text("beta words")
    first, second = collection.ingest(tmp_path, metadata={"team": "ops", "draft": True})
    assert sum(extracted) == 2
    before = collection.documents()
    object_id = first.object_id or ""

    record = collection.update_metadata(object_id, {"team": "dev", "year": 2024}, remove=["draft"])
    assert record.id == object_id and record.metadata == {"team": "dev", "year": 2024}
    assert collection.object(object_id).metadata == record.metadata
    assert sum(extracted) == 2  # nothing was extracted again
    after = collection.documents()
    assert [(d.id, d.features) for d in after] == [(d.id, d.features) for d in before]
    changed = next(d for d in after if d.object_id == object_id)
    assert changed.metadata == {"team": "dev", "year": 2024}
    assert collection.count("team = 'dev'") == 1 and collection.count("year >= 2024") == 1
    assert collection.count("team = 'ops'") == 1 and collection.count("draft = true") == 1
    (hit,) = collection.search("alpha words", where="team = 'dev'")
    assert hit.object_id == object_id and hit.metadata == record.metadata

    again = collection.ingest(tmp_path / "a.txt", metadata={"team": "dev", "year": 2024})
    assert [r.status for r in again] == [IngestStatus.UNCHANGED] and sum(extracted) == 2
    assert collection.update_metadata(second.object_id or "", remove=["team"]).metadata == {
        "draft": True
    }
    assert collection.count("team = 'ops'") == 0

    same_error(
        backend, reference, lambda api: api.collection("docs").update_metadata("obj_x", {"a": 1})
    )
    same_error(
        backend,
        reference,
        lambda api: api.collection("docs").update_metadata(object_id, {"a": 1}, remove=["a"]),
    )
    same_error(backend, reference, lambda api: api.collection("docs").update_metadata(object_id))


def test_objects_are_deleted_by_filter_after_a_dry_run(
    backend: Backend, reference: Database, corpus: Corpus, tmp_path: Path
) -> None:
    collection = backend.api.create_collection("purge", TEXT_ONLY)
    for name, team in (("a", "ops"), ("b", "ops"), ("c", "dev")):
        (tmp_path / team).mkdir(exist_ok=True)
        (tmp_path / team / f"{name}.txt").write_text(f"{name} words about harbors")
    ops = collection.ingest(tmp_path / "ops", metadata={"team": "ops"})
    (dev,) = collection.ingest(tmp_path / "dev", metadata={"team": "dev"})
    stored = {r.id: r.source for r in collection.objects()}

    preview = collection.delete_objects("team = 'ops'", dry_run=True)
    assert preview.dry_run and preview.documents == 2
    assert sorted(r.id for r in preview.objects) == sorted(r.object_id for r in ops)
    assert collection.count() == 3 and len(collection.objects()) == 3

    deleted = collection.delete_objects("team = 'ops'")
    assert not deleted.dry_run and deleted.documents == 2
    assert sorted(r.id for r in deleted.objects) == sorted(r.object_id for r in ops)
    assert [r.id for r in collection.objects()] == [dev.object_id]
    assert collection.count() == 1 and collection.search("harbors", where="team = 'ops'") == []
    if backend.kind == "remote":  # the server's copies of the files went with them
        assert [Path(stored[r.id]).exists() for r in deleted.objects] == [False, False]
        assert Path(stored[dev.object_id or ""]).exists()
    nothing = collection.delete_objects("team = 'nobody'")
    assert (nothing.objects, nothing.documents) == ([], 0)

    for empty in (None, "", "  "):
        guard = same_error(
            backend, reference, lambda api, e=empty: api.collection("docs").delete_objects(e)
        )
        assert isinstance(guard, InvalidSpecError) and guard.context["field"] == "where"
    bad = same_error(
        backend, reference, lambda api: api.collection("docs").delete_objects("team =")
    )
    assert isinstance(bad, InvalidFilterError)
    assert collection.count() == 1


# --- retrievers -----------------------------------------------------------------------------------

WORDS = {
    "name": "words",
    "collections": ["docs"],
    "inputs": {"query": {"type": "text"}},
    "stages": [
        {
            "type": "feature_search",
            "params": {"searches": [{"feature": "page_text@v1/text", "query": "{{inputs.query}}"}]},
        },
        {"type": "limit", "params": {"limit": 2}},
    ],
}


def test_retrievers_saved_run_explained_and_ad_hoc(backend: Backend, corpus: Corpus) -> None:
    api = backend.api
    info = api.create_retriever(WORDS)
    assert (info.name, info.version) == ("words", 1)
    assert api.create_retriever(WORDS).version == 1  # the same spec is the same version
    assert api.create_retriever({**WORDS, "description": "words"}).version == 2
    assert "words" in [r.name for r in api.retrievers()]

    saved = api.retriever("words", version=1)
    assert saved.name == "words" and saved.info.version == 1 and saved.info.spec.description == ""
    ran = saved.run({"query": "lentil soup"})
    assert ran.hits[0].object_id == corpus.ids["recipe.txt"]
    explained = saved.explain({"query": "lentil soup"})
    assert [s.type for s in explained.stages or []] == ["feature_search", "limit"]
    assert [h.id for h in explained.hits] == [h.id for h in ran.hits]

    ad_hoc = api.retrieve({**WORDS, "name": "once"}, {"query": "ferry morning"})
    assert ad_hoc.hits[0].object_id == corpus.ids["ferry.txt"]
    assert "once" not in [r.name for r in api.retrievers()]
    ad_hoc_explained = api.retrieve({**WORDS, "name": "once"}, {"query": "ferry"}, explain=True)
    assert [s.type for s in ad_hoc_explained.stages or []] == ["feature_search", "limit"]
    # one shape for every run; explaining adds the stage reports and nothing else
    for result in (ran, explained, ad_hoc, ad_hoc_explained):
        assert type(result) is RetrievalResult and result.total_ms > 0
    assert ran.stages is None and ad_hoc.stages is None
    assert set(RetrievalResult.model_fields) == {"hits", "total_ms", "stages"}

    api.delete_retriever("words")
    with pytest.raises(NotFoundError):
        api.retriever("words")


# --- errors -------------------------------------------------------------------------------------


def test_typed_errors_are_the_same_on_both_sides(
    backend: Backend, reference: Database, corpus: Corpus
) -> None:
    missing = same_error(backend, reference, lambda api: api.collection("missing"))
    assert isinstance(missing, NotFoundError) and missing.context["collection"] == "missing"
    unknown = same_error(
        backend, reference, lambda api: api.create_collection("bad", ["teleport@v1"])
    )
    assert isinstance(unknown, UnknownExtractorError)
    bad_params = same_error(
        backend,
        reference,
        lambda api: api.create_collection(
            "bad", [{"name": "page_text@v1", "params": {"chunk_tokens": 0}}]
        ),
    )
    assert type(bad_params) is InvalidSpecError
    assert bad_params.context["field"] == "extractors[0].params.chunk_tokens"
    same_error(backend, reference, lambda api: api.create_collection("docs", TEXT_ONLY))
    bad_filter = same_error(
        backend, reference, lambda api: api.collection("docs").search("x", where="page >")
    )
    assert isinstance(bad_filter, InvalidFilterError)
    same_error(backend, reference, lambda api: api.collection("docs").get("doc_nope"))
    same_error(backend, reference, lambda api: api.retriever("nope"))


def test_requests_the_server_refuses_early_keep_their_class_and_field(
    backend: Backend, corpus: Corpus
) -> None:
    """The server checks some arguments before the engine sees them: the class and the field
    are the same, the wording may differ."""
    with pytest.raises(InvalidSpecError) as raised:
        backend.api.collection("docs").search("x", k=0)
    assert raised.value.context["field"] == "k"
    with pytest.raises(InvalidSpecError) as raised:
        backend.api.create_retriever({**WORDS, "stages": []})
    assert raised.value.context["field"] == "stages"


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli(backend: Backend) -> Callable[..., str]:
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, [*backend.cli_args, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_the_cli_works_the_same_on_both(
    cli: Callable[..., str],
    backend: Backend,
    files: Path,
    tiny_extractors: list[Any],
    tmp_path: Path,
) -> None:
    embed = json.dumps(tiny_extractors[-1])
    out = cli("collection", "create", "clidocs", "-e", "page_text@v1", "-e", "ocr@v1", "-e", embed)
    assert "created collection clidocs" in out and "text_embedding@v1" in out
    results = json.loads(cli("ingest", str(files), "-c", "clidocs", "-m", "team=cli", "--json"))
    assert [r["status"] for r in results] == ["ingested"] * 3
    hits = json.loads(cli("search", "ferry morning", "-c", "clidocs", "--json", "-k", "1"))
    assert hits[0]["metadata"] == {"team": "cli"} and "ferry" in hits[0]["snippet"]
    assert "clidocs" in cli("collection", "list")
    assert "documents: 3  objects: 3" in cli("collection", "show", "clidocs")

    objects = json.loads(cli("object", "list", "-c", "clidocs", "--json"))
    image = next(o for o in objects if o["kind"] == "image")
    updated = cli("object", "update", image["id"], "-c", "clidocs", "-m", "year=2024", "-r", "team")
    assert f'updated {image["id"]}: metadata {{"year": 2024}}' in updated
    found = json.loads(cli("search", "bakery", "-c", "clidocs", "--json", "--where", "year = 2024"))
    assert [h["object_id"] for h in found] == [image["id"]] and found[0]["metadata"] == {
        "year": 2024
    }
    assert "its 1 documents" in cli("object", "delete", image["id"], "-c", "clidocs")

    spec = tmp_path / "words.json"
    spec.write_text(json.dumps({**WORDS, "name": "cliwords", "collections": ["clidocs"]}))
    assert "saved retriever cliwords version 1" in cli("retriever", "create", str(spec))
    ran = json.loads(cli("retriever", "run", "cliwords", "-i", "query=lentil", "--json"))
    assert "Lentil" in ran[0]["snippet"]
    cli("retriever", "delete", "cliwords")

    text = "kind = 'text'"
    preview = json.loads(
        cli("object", "delete", "-c", "clidocs", "--where", text, "--dry-run", "--json")
    )
    assert preview["dry_run"] and len(preview["objects"]) == 2 and preview["documents"] == 2
    assert "would delete 2 objects and their 2 documents" in cli(
        "object", "delete", "-c", "clidocs", "--where", text, "--dry-run"
    )
    refused = CliRunner().invoke(
        app, [*backend.cli_args, "object", "delete", "-c", "clidocs", "--where", text], input="n\n"
    )
    assert (
        refused.exit_code == 1 and "Delete these 2 objects and their 2 documents?" in refused.output
    )
    assert "documents: 2  objects: 2" in cli("collection", "show", "clidocs")
    out = cli("object", "delete", "-c", "clidocs", "--where", text, "--yes")
    assert "deleted 2 objects and their 2 documents" in out
    assert "documents: 0  objects: 0" in cli("collection", "show", "clidocs")
    with pytest.raises(InvalidSpecError, match="empty one would delete every object"):
        cli("object", "delete", "-c", "clidocs", "--where", "")
    cli("collection", "drop", "clidocs", "--yes")
    assert "clidocs" not in cli("collection", "list", "--json")


def test_cli_errors_are_the_typed_errors(cli: Callable[..., str]) -> None:
    with pytest.raises(NotFoundError):
        cli("search", "x", "-c", "missing")


# --- what only the remote client has to say --------------------------------------------------


remote_only = pytest.mark.parametrize("backend", ["remote"], indirect=True)


@remote_only
def test_remote_documents_leave_vectors_and_thumbnails_out_unless_asked(
    backend: Backend, corpus: Corpus
) -> None:
    docs = backend.api.collection("docs")
    assert isinstance(docs, omnidex.remote.RemoteCollection)
    (image,) = docs.documents(where="kind = 'image'")
    assert image.thumbnail is None and "text_embedding@v1/vector" not in image.features
    (with_vectors,) = docs.documents(where="kind = 'image'", vectors=True)
    assert len(with_vectors.features["text_embedding@v1/vector"]) == 32
    assert docs.get(image.id, vectors=True).features == with_vectors.features
    assert docs.thumbnail(image.id)[:2] == b"\xff\xd8"  # a JPEG


@remote_only
def test_remote_keys_are_checked(backend: Backend, corpus: Corpus) -> None:
    with Client(backend.url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.collections()
    with Client(backend.url, backend.read_key) as reader:
        assert "docs" in [c.name for c in reader.collections()]
        with pytest.raises(PermissionDeniedError):
            reader.create_collection("nope", TEXT_ONLY)


@remote_only
def test_a_file_name_the_server_refuses_fails_alone(backend: Backend, tmp_path: Path) -> None:
    collection = backend.api.create_collection("names", TEXT_ONLY)
    (tmp_path / "..odd.txt").write_text("odd words")
    (tmp_path / "fine.txt").write_text("fine words")
    odd, fine = collection.ingest([tmp_path / "..odd.txt", tmp_path / "fine.txt"])
    assert (odd.status, odd.error_code) == (IngestStatus.FAILED, "invalid_spec")
    assert fine.status is IngestStatus.INGESTED


def test_rate_limited_requests_wait_and_go_again(tmp_path: Path) -> None:
    with omnidex.connect(tmp_path) as db:
        _, key = db.create_key("tests", "read")
    server, thread, url = start_server(tmp_path, workers=0, rate_per_minute=600, rate_burst=1)
    try:
        with Client(url, key) as patient:
            assert [patient.collections() for _ in range(3)] == [[], [], []]
        with Client(url, key, max_retries=0) as hasty, pytest.raises(RateLimitedError) as raised:
            hasty.collections()
            hasty.collections()
        assert 0 < raised.value.context["retry_after_s"] <= 0.1
    finally:
        server.should_exit = True
        thread.join(30)


def test_an_unreachable_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "key") as client, pytest.raises(ServerUnreachableError) as raised:
        client.collections()
    assert raised.value.context == {"url": url, "reason": "connect"}
    assert f"cannot reach the omnidex server at {url}" in raised.value.message


@remote_only
def test_local_only_commands_refuse_a_server(backend: Backend) -> None:
    result = CliRunner().invoke(app, [*backend.cli_args, "key", "list"])
    assert isinstance(result.exception, InvalidSpecError)
    assert "without --server" in str(result.exception)


@remote_only
def test_the_installed_command_prints_remote_errors_in_one_line(backend: Backend) -> None:
    env = {**os.environ, "OMNIDEX_API_KEY": backend.cli_args[-1]}
    script = Path(sys.executable).with_name("omnidex")
    args = [str(script), "--server", backend.url, "search", "x", "-c", "missing"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.lower().startswith("error: collection 'missing' does not exist")


def test_a_search_explains_its_stages(backend: Backend, corpus: Corpus) -> None:
    result = backend.api.collection("docs").explain("ferry leaves every morning", k=3)
    assert [s.type for s in result.stages][:1] == ["feature_search"]
    assert result.hits == backend.api.collection("docs").search("ferry leaves every morning", k=3)
