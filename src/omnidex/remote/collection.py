"""A collection on an omnidex server: the methods of the embedded ``Collection``, over HTTP.

Where the wire makes a method differ, it says so:

- ``ingest`` uploads each file and waits for its task; a file whose content, metadata and spec
  version the server already holds is not uploaded at all (``unchanged``).
- Objects, documents and hits name the server's copy of an uploaded file as their ``source``
  (a generated name), not the client's path; ``IngestResult.source`` is the client's path.
- Documents come without vectors unless asked for (``vectors=True``) and without their thumbnail
  (``Document.thumbnail`` is None): fetch it with :meth:`RemoteCollection.thumbnail`.
- ``where`` is an expression string; a parsed ``Filter`` cannot be sent.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

if TYPE_CHECKING:
    from PIL import Image

from omnidex.errors import (
    InvalidSpecError,
    NotFoundError,
    OmnidexError,
    PayloadTooLargeError,
    SourceError,
    SourceNotFoundError,
)
from omnidex.metadata import check_change
from omnidex.remote.http import Transport, segment
from omnidex.sources.local import expand_sources, sha256_file
from omnidex.types import (
    CollectionInfo,
    DeletedObjects,
    Document,
    ExtractorSpec,
    Hit,
    IngestResult,
    IngestStatus,
    ObjectRecord,
    ObjectStatus,
    ReembedReport,
    RetrievalResult,
    TaskRecord,
    TaskState,
)

HITS = TypeAdapter(list[Hit])
OBJECTS = TypeAdapter(list[ObjectRecord])
PAGE_LIMIT = 1000
"""The most documents the API returns in one page."""
POLL_FIRST_S = 0.05
POLL_MAX_S = 1.0
DONE = {TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELED}


class RemoteCollection:
    """One collection of the server: ingest into it, search it, read its objects and documents."""

    def __init__(self, http: Transport, info: CollectionInfo) -> None:
        self._http = http
        self.info = info

    @property
    def name(self) -> str:
        return self.info.name

    def __repr__(self) -> str:
        refs = [e.name for e in self.info.spec.extractors]
        return f"RemoteCollection({self.name!r}, extractors={refs}, url={self._http.url!r})"

    @property
    def _path(self) -> str:
        return f"/v1/collections/{segment(self.name)}"

    # --- ingest ---------------------------------------------------------------------------------

    def ingest(
        self,
        sources: str | Path | Sequence[str | Path],
        metadata: dict[str, Any] | None = None,
        progress: Callable[[IngestResult], None] | None = None,
    ) -> list[IngestResult]:
        """Ingest local files, directories (recursively) and glob patterns: each file is uploaded
        and its task waited for. Returns one result per file, in order: ingested, unchanged
        (the server holds the same content with the same spec version and metadata, so it was
        not sent) or failed, with the reason. A bad file never stops the others; ``progress`` is
        called with each result as it is known. Interrupting leaves uploaded tasks running."""
        items = [sources] if isinstance(sources, str | Path) else list(sources)
        paths = expand_sources(items)
        self.info = CollectionInfo.model_validate(self._http.json("GET", self._path))
        wanted = json.loads(json.dumps(metadata or {}))
        results: dict[int, IngestResult] = {}
        queued: list[tuple[int, Path, TaskRecord]] = []

        def finish(index: int, result: IngestResult) -> None:
            results[index] = result
            if progress is not None:
                progress(result)

        for index, path in enumerate(paths):
            sent = self._send(path, wanted)
            if isinstance(sent, IngestResult):
                finish(index, sent)
            else:
                queued.append((index, path, sent))
        for index, path, task in queued:
            finish(index, self._settled(path, self._wait(task)))
        return [results[index] for index in range(len(paths))]

    def _send(self, path: Path, metadata: dict[str, Any]) -> TaskRecord | IngestResult:
        """Upload one file: its task, or its result when it is unchanged or refused."""
        from omnidex.pipeline.steps import is_current

        stored = self._stored(path)
        if stored is not None and is_current(
            stored, self.info, metadata, self.count(f"object_id = '{stored.id}'")
        ):
            return _unchanged(path, stored)
        fields = {"metadata": json.dumps(metadata)}
        try:
            task = self._http.upload(f"{self._path}/objects", path, fields)
        except OmnidexError as exc:
            if not _about_the_file(exc):
                raise
            return _failed(path, exc.message, exc.code)
        return TaskRecord.model_validate(task)

    def _stored(self, path: Path) -> ObjectRecord | None:
        """The server's object with this file's content, if it has one."""
        from omnidex.pipeline.steps import object_id_for

        try:
            return self.object(object_id_for(sha256_file(path)))
        except NotFoundError:
            return None

    def _wait(self, task: TaskRecord) -> TaskRecord:
        pause = POLL_FIRST_S
        while task.state not in DONE:
            time.sleep(pause)
            pause = min(pause * 1.5, POLL_MAX_S)
            task = TaskRecord.model_validate(self._http.json("GET", f"/v1/tasks/{task.id}"))
        return task

    def _settled(self, path: Path, task: TaskRecord) -> IngestResult:
        if task.state is TaskState.SUCCEEDED and task.object_id is not None:
            stored = self.object(task.object_id)
            return IngestResult(
                source=str(path),
                status=IngestStatus.INGESTED,
                object_id=stored.id,
                documents=stored.document_count,
            )
        reason = task.error or f"the ingest task {task.id} was {task.state.value}"
        return _failed(path, reason, task.error_code, task.object_id)

    # --- reading --------------------------------------------------------------------------------

    def add_extractor(
        self,
        extractor: str | dict[str, Any] | ExtractorSpec,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> ReembedReport:
        """Add an extractor that works from what is stored and run it over the documents there
        (the server's ``Collection.add_extractor``); the request waits for it, however long.
        ``progress`` is called once, at the end, with the objects' totals (the server does
        not stream them)."""
        body = {"extractor": _spec_json(extractor)}
        report = ReembedReport.model_validate(
            self._http.json("POST", f"{self._path}/extractors", json=body, timeout=None)
        )
        self.info = CollectionInfo.model_validate(self._http.json("GET", self._path))
        if progress is not None:
            total = report.embedded + report.already_done + len(report.failed)
            progress(total, total, "")
        return report

    def search(
        self,
        query: str | None = None,
        k: int = 10,
        where: str | None = None,
        *,
        image: str | Path | bytes | Image.Image | None = None,
    ) -> list[Hit]:
        """Hybrid search, the collection's default retriever (vectors and BM25, fused); ``image``
        (a path, an image file's bytes, a PIL image) is sent base64-encoded."""
        body = _search_body(query, k, where, image)
        return HITS.validate_python(self._http.json("POST", f"{self._path}/search", json=body))

    def explain(
        self,
        query: str | None = None,
        k: int = 10,
        where: str | None = None,
        *,
        image: str | Path | bytes | Image.Image | None = None,
    ) -> RetrievalResult:
        """:meth:`search` with each stage's timing and candidate counts."""
        body = _search_body(query, k, where, image)
        path = f"{self._path}/search/explain"
        return RetrievalResult.model_validate(self._http.json("POST", path, json=body))

    def get(self, doc_id: str, *, vectors: bool = False) -> Document:
        """One document; its vector features only with ``vectors=True``, its thumbnail never
        (see :meth:`thumbnail`)."""
        path = f"{self._path}/documents/{segment(doc_id)}"
        return Document.model_validate(self._http.json("GET", path, params={"vectors": vectors}))

    def thumbnail(self, doc_id: str) -> bytes:
        """The document's keyframe or page thumbnail (JPEG); NotFoundError if it has none.
        Remote only: an embedded document carries it as ``Document.thumbnail``."""
        path = f"{self._path}/documents/{segment(doc_id)}/thumbnail"
        return self._http.request("GET", path).content

    def documents(
        self, where: str | None = None, limit: int = 100, offset: int = 0, *, vectors: bool = False
    ) -> list[Document]:
        """Documents in store order, filtered by ``where``; fetched in pages of at most
        1000, so any ``limit`` works as it does embedded."""
        documents: list[Document] = []
        while len(documents) < limit:
            page = self._page(where, min(PAGE_LIMIT, limit - len(documents)), offset, vectors)
            documents.extend(Document.model_validate(d) for d in page["documents"])
            offset += len(page["documents"])
            if len(page["documents"]) < PAGE_LIMIT or offset >= page["total"]:
                break
        return documents

    def count(self, where: str | None = None) -> int:
        return int(self._page(where, 1, 0, False)["total"])

    def _page(self, where: str | None, limit: int, offset: int, vectors: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset, "vectors": vectors}
        if where is not None:
            params["where"] = where
        page: dict[str, Any] = self._http.json("GET", f"{self._path}/documents", params=params)
        return page

    def ask(self, doc_id: str, question: str, max_new_tokens: int = 256) -> str:
        """Ask the collection's Phi-4-multimodal model about one image, page or scene."""
        body = {
            "collection": self.name,
            "document_id": doc_id,
            "question": question,
            "max_new_tokens": max_new_tokens,
        }
        return str(self._http.json("POST", "/v1/ask", json=body)["answer"])

    # --- objects --------------------------------------------------------------------------------

    def objects(
        self, status: ObjectStatus | str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[ObjectRecord]:
        """The collection's objects in order of ingest from ``offset``: all of them, or
        ``limit``; fetched in pages of at most 1000, as embedded."""
        records: list[ObjectRecord] = []
        while limit is None or len(records) < limit:
            wanted = PAGE_LIMIT if limit is None else min(PAGE_LIMIT, limit - len(records))
            page, total = self._objects_page(status, wanted, offset)
            records.extend(page)
            offset += len(page)
            if not page or offset >= total:
                break
        return records

    def count_objects(self, status: ObjectStatus | str | None = None) -> int:
        """How many objects the collection holds (with ``status``, if given)."""
        return self._objects_page(status, 1, 0)[1]

    def _objects_page(
        self, status: ObjectStatus | str | None, limit: int, offset: int
    ) -> tuple[list[ObjectRecord], int]:
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = str(status)
        answer = self._http.request("GET", f"{self._path}/objects", params=params)
        return OBJECTS.validate_python(answer.json()), int(answer.headers["X-Total-Count"])

    def object(self, object_id: str) -> ObjectRecord:
        path = f"{self._path}/objects/{segment(object_id)}"
        return ObjectRecord.model_validate(self._http.json("GET", path))

    def update_metadata(
        self,
        object_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> ObjectRecord:
        """Merge ``metadata`` into an object's metadata and drop the keys in ``remove``, without
        extracting again; returns the updated object."""
        body = {"metadata": check_change(metadata, remove), "remove": list(remove)}
        path = f"{self._path}/objects/{segment(object_id)}"
        return ObjectRecord.model_validate(self._http.json("PATCH", path, json=body))

    def delete_object(self, object_id: str) -> int:
        """Remove an object and all its documents (and the server's copy of the file); returns
        how many documents it had."""
        documents = self.object(object_id).document_count
        self._http.request("DELETE", f"{self._path}/objects/{segment(object_id)}")
        return documents

    def delete_objects(self, where: str | None, *, dry_run: bool = False) -> DeletedObjects:
        """Remove every object that has a document matching ``where`` (and the server's copies
        of their files); with ``dry_run``, only say which. An empty filter is refused."""
        params: dict[str, Any] = {"dry_run": dry_run}
        if where is not None:
            params["where"] = where
        path = f"{self._path}/objects"
        return DeletedObjects.model_validate(self._http.json("DELETE", path, params=params))


def _about_the_file(error: OmnidexError) -> bool:
    """Whether the server refused an upload for the file itself (empty, unsupported, too big, a
    name it will not take), so that the file fails alone, as a bad file does embedded."""
    if isinstance(error, InvalidSpecError):
        return error.context.get("field") == "file"
    return isinstance(error, SourceError | PayloadTooLargeError)


def _unchanged(path: Path, stored: ObjectRecord) -> IngestResult:
    return IngestResult(
        source=str(path),
        status=IngestStatus.UNCHANGED,
        object_id=stored.id,
        documents=stored.document_count,
    )


def _failed(path: Path, error: str, code: str | None, object_id: str | None = None) -> IngestResult:
    return IngestResult(
        source=str(path),
        status=IngestStatus.FAILED,
        object_id=object_id,
        error=error,
        error_code=code,
    )


def _search_body(
    query: str | None, k: int, where: str | None, image: str | Path | bytes | Image.Image | None
) -> dict[str, Any]:
    if not query and image is None:
        raise InvalidSpecError("give a text query, an image, or both", field="query")
    body: dict[str, Any] = {"query": query or None, "k": k, "where": where}
    if image is not None:
        body["image"] = base64.b64encode(_image_bytes(image)).decode("ascii")
    return body


def _image_bytes(image: str | Path | bytes | Image.Image) -> bytes:
    """The bytes of an image file: read from a path, kept, or a PIL image written as PNG."""
    if isinstance(image, bytes):
        return image
    if isinstance(image, str | Path):
        try:
            return Path(image).expanduser().read_bytes()
        except OSError as exc:
            raise SourceNotFoundError(f"{image}: {exc.strerror}", source=str(image)) from None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _spec_json(extractor: str | dict[str, Any] | ExtractorSpec) -> Any:
    if isinstance(extractor, ExtractorSpec):
        return extractor.model_dump(mode="json")
    return extractor
