"""The official ``mixpeek`` SDK against a live omnidex server (uvicorn on 127.0.0.1) through the
Mixpeek layer under ``/mixpeek``: the quickstart flow end to end, every answer parsed by the SDK's
own models; namespace walls; bad requests as the SDK's typed exceptions with useful messages."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

mixpeek = pytest.importorskip("mixpeek")

from mixpeek import models as m  # noqa: E402
from mixpeek.exceptions import ApiException  # noqa: E402

import omnidex  # noqa: E402
from omnidex.samples import make_pdf, make_text_image, sample_meeting  # noqa: E402

from ..server.conftest import start_server  # noqa: E402


@dataclass
class Live:
    url: str
    key: str
    read_key: str
    other_key: str
    files: str
    """Where the local file server serves the test's media."""

    def api(self, key: str | None = None, namespace: str | None = "default") -> Any:
        config = mixpeek.Configuration(host=f"{self.url}/mixpeek", access_token=key or self.key)
        if namespace:
            config.api_key["NamespaceHeader"] = namespace
        return mixpeek.ApiClient(config)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    make_text_image("OPEN LATE", (320, 120)).save(folder / "sign.png")
    make_pdf(folder / "report.pdf", ["Quarterly invoice totals for the harbour office"])
    sample_meeting(folder)
    return folder


@pytest.fixture
def live(tmp_path: Path, media: Path) -> Iterator[Live]:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("writer", "write")
    _, read_key = db.create_key("reader", "read")
    db.catalog.create_namespace("other")
    _, other_key = omnidex.connect(home, namespace="other").create_key("other", "write")
    db.close()
    handler = partial(QuietHandler, directory=str(media))
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    server, thread, url = start_server(
        home,
        workers=1,
        rate_per_minute=100_000,
        rate_burst=1000,
        url_allow_hosts=["127.0.0.1"],
    )
    try:
        yield Live(url, key, read_key, other_key, f"http://127.0.0.1:{files.server_port}")
    finally:
        server.should_exit = True
        thread.join(30)
        files.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def error_of(exc: ApiException) -> m.ErrorResponse:
    """The error body, parsed by the SDK's own model."""
    return m.ErrorResponse.from_json(exc.body)


def upload(api: Any, bucket_id: str, path: Path, content_type: str, prop: str) -> str:
    """Mixpeek's presigned flow: create, PUT the bytes to the presigned URL, confirm."""
    uploads = mixpeek.BucketUploadsApi(api)
    created = uploads.create_upload_buckets(
        bucket_id,
        m.CreateUploadRequest(filename=path.name, content_type=content_type, blob_property=prop),
    )
    assert isinstance(created, m.UploadResponse) and created.presigned_url
    put = httpx.put(created.presigned_url, content=path.read_bytes(), timeout=60)
    assert put.status_code == 200, put.text
    confirmed = uploads.confirm_upload_buckets(bucket_id, created.upload_id)
    assert isinstance(confirmed, m.ConfirmUploadResponse)
    assert confirmed.status == m.TaskStatusEnum.COMPLETED and confirmed.object_id
    return confirmed.object_id


def wait_task(api: Any, task_id: str, timeout_s: float = 600) -> m.TaskResponse:
    tasks = mixpeek.TasksApi(api)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        task = tasks.get_task(task_id)
        if task.status not in (m.TaskStatusEnum.QUEUED, m.TaskStatusEnum.PROCESSING):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} still {task.status} after {timeout_s} s")


def test_quickstart_flow_runs_unchanged_through_the_sdk(
    live: Live, media: Path, tiny_embedder_path: Path, needs_tesseract: None
) -> None:
    with live.api() as api:
        spaces = mixpeek.NamespacesApi(api)
        made = spaces.create_namespace(m.CreateNamespaceRequest(namespace_name="default"))
        assert (made.namespace_id, made.namespace_name) == ("ns_default", "default")
        assert spaces.get_namespace("ns_default").namespace_name == "default"
        assert [n.namespace_name for n in spaces.list_namespaces_get().results] == ["default"]

        buckets = mixpeek.BucketsApi(api)
        bucket = buckets.create_bucket(
            m.BucketCreateRequest(
                bucket_name="media",
                bucket_schema=m.BucketSchemaInput(
                    properties={
                        "image": m.BucketSchemaFieldInput(type=m.BucketSchemaFieldType.IMAGE),
                        "document": m.BucketSchemaFieldInput(type=m.BucketSchemaFieldType.PDF),
                        "video": m.BucketSchemaFieldInput(type=m.BucketSchemaFieldType.VIDEO),
                    }
                ),
            )
        )
        assert isinstance(bucket, m.BucketResponse) and bucket.bucket_id.startswith("bkt_")

        objects = mixpeek.BucketObjectsApi(api)
        by_url = objects.create_object_buckets(
            bucket.bucket_id,
            m.CreateObjectRequest(
                blobs=[
                    m.CreateBlobRequest(
                        property="image", type="image", data=m.Data(f"{live.files}/sign.png")
                    )
                ],
                metadata={"shop": "corner"},
            ),
        )
        assert isinstance(by_url, m.ObjectResponse) and by_url.blobs[0].var_property == "image"
        pdf_id = upload(api, bucket.bucket_id, media / "report.pdf", "application/pdf", "document")
        video_id = upload(api, bucket.bucket_id, media / "meeting.mp4", "video/mp4", "video")
        listed = objects.list_objects_buckets(bucket.bucket_id)
        assert {o.object_id for o in listed.results} == {by_url.object_id, pdf_id, video_id}
        assert objects.get_object_buckets(bucket.bucket_id, pdf_id).bucket_id == bucket.bucket_id

        collections = mixpeek.CollectionsApi(api)
        collection = collections.create_collection(
            m.CreateCollectionRequest(
                collection_name="everything",
                source=m.SourceConfigInput(type=m.SourceType.BUCKET, bucket_ids=[bucket.bucket_id]),
                feature_extractor=m.SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                    feature_extractor_name="multimodal_extractor",
                    version="v1",
                    params={"text_embedding": {"model_id": str(tiny_embedder_path)}},
                ),
            )
        )
        assert isinstance(collection, m.CollectionResponse)
        assert collection.source.bucket_ids == [bucket.bucket_id]
        assert collections.get_collection("everything").collection_id == collection.collection_id
        assert [c.collection_name for c in collections.list_collections().results] == ["everything"]

        batches = mixpeek.BucketBatchesApi(api)
        batch = batches.create_batch_buckets_batches(
            bucket.bucket_id,
            m.CreateBatchRequest(object_ids=[by_url.object_id, pdf_id, video_id]),
        )
        assert isinstance(batch, m.BatchModel) and batch.status == m.TaskStatusEnum.DRAFT
        task = batches.submit_batch_buckets_batches(bucket.bucket_id, batch.batch_id)
        assert isinstance(task, m.TaskResponse)
        done = wait_task(api, task.task_id)
        assert done.status == m.TaskStatusEnum.COMPLETED, done.error
        again = batches.get_batch_buckets_batches(bucket.bucket_id, batch.batch_id)
        assert again.status == m.TaskStatusEnum.COMPLETED

        docs = mixpeek.CollectionDocumentsApi(api).list_documents_0(
            collection.collection_id, limit=500
        )
        assert isinstance(docs, m.ListDocumentsResponse)
        extra = [d.additional_properties for d in docs.results]
        objects_seen = {e["source_object_id"] for e in extra}
        assert objects_seen == {by_url.object_id, pdf_id, video_id}
        scenes = [e for e in extra if e["source_object_id"] == video_id]
        assert len(scenes) >= 3
        assert all(e["end_time"] > e["start_time"] >= 0 for e in scenes)
        assert max(e["end_time"] for e in scenes) == pytest.approx(78.1, abs=1.0)
        thumb = httpx.get(scenes[0]["thumbnail_url"], timeout=30)  # signed: no key sent
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"

        retrievers = mixpeek.RetrieversApi(api)
        retriever = retrievers.create_retriever(
            m.CreateRetrieverRequest(
                retriever_name="find",
                collection_identifiers=[collection.collection_id],
                stages=[
                    m.StageConfigInput(
                        stage_name="words",
                        stage_type="filter",
                        config={
                            "stage_id": "feature_search",
                            "parameters": {
                                "searches": [
                                    {
                                        "feature_uri": "mixpeek://multimodal_extractor@v1/embedding",
                                        "query": {"input_mode": "text", "value": "{{INPUT.query}}"},
                                        "lexical": True,
                                        "top_k": 20,
                                    }
                                ],
                                "final_top_k": 10,
                            },
                        },
                    ),
                ],
            )
        )
        assert isinstance(retriever, m.RetrieverConfig) and retriever.retriever_id
        found = retrievers.execute_retriever(
            retriever.retriever_id, m.ExecuteRetrieverRequest(inputs={"query": "invoice harbour"})
        )
        assert isinstance(found, m.ExecuteRetrieverResponse) and found.documents
        assert found.documents[0]["source_object_id"] == pdf_id
        late = retrievers.execute_retriever(
            "find", m.ExecuteRetrieverRequest(inputs={"query": "open late"})
        )
        assert late.documents[0]["source_object_id"] == by_url.object_id
        plan = retrievers.explain_retriever_execution_id_execute(
            retriever.retriever_id, m.ExplainRetrieverRequest(inputs={"query": "invoice"})
        )
        assert isinstance(plan, m.ExplainRetrieverResponse)
        assert [s.stage_name for s in plan.execution_plan] == ["words"]
        assert retrievers.get_retriever("find").stages[0].stage_name == "words"
