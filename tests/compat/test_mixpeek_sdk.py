"""The official ``mixpeek`` SDK against a live omnidex server (uvicorn on 127.0.0.1) through the
Mixpeek layer under ``/mixpeek``: the quickstart flow end to end, every answer parsed by the SDK's
own models; namespace walls; bad requests as the SDK's typed exceptions with useful messages."""

from __future__ import annotations

import base64
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

from mixpeek import exceptions as exc  # noqa: E402
from mixpeek import models as m  # noqa: E402
from mixpeek._client.client import MixpeekAPIError  # noqa: E402
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
    """Serves the test's media; ``/to-metadata`` redirects to the cloud metadata address."""

    def do_GET(self) -> None:
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        super().do_GET()

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
                        property="image",
                        type="image",
                        data=m.Data(f"{live.files}/sign.png"),
                        metadata={"shop": "corner"},
                    )
                ],
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
        first = docs.results[0]
        one = mixpeek.CollectionDocumentsApi(api).get_document(
            collection.collection_id, first.document_id
        )
        assert isinstance(one, m.DocumentResponse) and one.document_id == first.document_id
        thumb = httpx.get(scenes[0]["thumbnail_url"], timeout=30)  # signed: no key sent
        assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
        moment = httpx.get(scenes[1]["source_url"], headers={"Range": "bytes=0-99"}, timeout=30)
        assert moment.status_code == 206 and len(moment.content) == 100
        forged = scenes[0]["thumbnail_url"][:-4] + "AAAA"
        assert httpx.get(forged, timeout=30).status_code == 401

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
        assert late.documents[0]["metadata"]["shop"] == "corner"
        plan = retrievers.explain_retriever_execution_id_execute(
            retriever.retriever_id, m.ExplainRetrieverRequest(inputs={"query": "invoice"})
        )
        assert isinstance(plan, m.ExplainRetrieverResponse)
        assert [s.stage_name for s in plan.execution_plan] == ["words"]
        assert retrievers.get_retriever("find").stages[0].stage_name == "words"


def image_bucket(api: Any, name: str = "pics") -> m.BucketResponse:
    return mixpeek.BucketsApi(api).create_bucket(
        m.BucketCreateRequest(
            bucket_name=name,
            bucket_schema=m.BucketSchemaInput(
                properties={
                    "image": m.BucketSchemaFieldInput(type=m.BucketSchemaFieldType.IMAGE),
                    "note": m.BucketSchemaFieldInput(type=m.BucketSchemaFieldType.TEXT),
                }
            ),
        )
    )


def inline_image(text: str, tmp: Path) -> m.Data:
    path = tmp / f"{text}.png"
    make_text_image(text, (300, 110)).save(path)
    return m.Data({"base64": base64.b64encode(path.read_bytes()).decode(), "filename": path.name})


def text_collection(api: Any, bucket_id: str, embedder: Path, name: str = "pics") -> Any:
    return mixpeek.CollectionsApi(api).create_collection(
        m.CreateCollectionRequest(
            collection_name=name,
            source=m.SourceConfigInput(type=m.SourceType.BUCKET, bucket_ids=[bucket_id]),
            feature_extractor=m.SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                feature_extractor_name="image_extractor",
                version="v1",
                params={"text_embedding": {"model_id": str(embedder)}},
            ),
        )
    )


def test_a_second_namespace_sees_nothing_of_the_first(live: Live, tmp_path: Path) -> None:
    with live.api() as api:
        bucket = image_bucket(api)
        obj = mixpeek.BucketObjectsApi(api).create_object_buckets(
            bucket.bucket_id,
            m.CreateObjectRequest(
                blobs=[m.CreateBlobRequest(property="note", type="text", data=m.Data("hello"))]
            ),
        )
    with live.api(live.other_key, namespace="ns_other") as other:
        buckets = mixpeek.BucketsApi(other)
        assert buckets.list_buckets_get().results == []
        for call in (
            lambda: buckets.get_bucket(bucket.bucket_id),
            lambda: buckets.get_bucket("pics"),
            lambda: mixpeek.BucketObjectsApi(other).get_object_buckets(
                bucket.bucket_id, obj.object_id
            ),
            lambda: buckets.delete_bucket(bucket.bucket_id),
        ):
            with pytest.raises(exc.NotFoundException) as caught:
                call()
            assert error_of(caught.value).error.type == "NotFoundError"
        spaces = mixpeek.NamespacesApi(other)
        assert [n.namespace_name for n in spaces.list_namespaces().results] == ["other"]
        with pytest.raises(exc.NotFoundException):
            spaces.get_namespace("default")
    with live.api(live.other_key, namespace="default") as crossing:  # its key, another wall
        with pytest.raises(exc.ForbiddenException) as caught:
            mixpeek.BucketsApi(crossing).list_buckets_get()
        assert "belongs to namespace 'other'" in error_of(caught.value).error.message


def test_bad_requests_are_the_sdks_typed_exceptions_with_a_useful_message(
    live: Live, tiny_embedder_path: Path
) -> None:
    with live.api() as api:
        bucket = image_bucket(api)
        collections = mixpeek.CollectionsApi(api)
        with pytest.raises(exc.UnprocessableEntityException) as caught:
            collections.create_collection(
                m.CreateCollectionRequest(
                    collection_name="c",
                    source=m.SourceConfigInput(
                        type=m.SourceType.BUCKET, bucket_ids=[bucket.bucket_id]
                    ),
                    feature_extractor=m.SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                        feature_extractor_name="face_extractor", version="v1"
                    ),
                )
            )
        error = error_of(caught.value)
        assert (error.status, error.error.code) == (422, "unknown_extractor")
        assert "face_extractor" in error.error.message
        assert (
            "multimodal_extractor" in error.error.message
            and "text_extractor" in error.error.message
        )

        objects = mixpeek.BucketObjectsApi(api)
        with pytest.raises(exc.UnprocessableEntityException) as refused:
            objects.create_object_buckets(
                bucket.bucket_id,
                m.CreateObjectRequest(
                    blobs=[
                        m.CreateBlobRequest(
                            property="image",
                            type="image",
                            data=m.Data("http://169.254.169.254/latest/meta-data/"),
                        )
                    ]
                ),
            )
        unsafe = error_of(refused.value).error
        assert unsafe.code == "unsafe_url" and "169.254.169.254" in unsafe.message
        with pytest.raises(exc.UnprocessableEntityException) as wrong:
            objects.create_object_buckets(
                bucket.bucket_id,
                m.CreateObjectRequest(
                    blobs=[m.CreateBlobRequest(property="video", type="video", data=m.Data("x"))]
                ),
            )
        assert "file properties: image, note" in error_of(wrong.value).error.message

        text_collection(api, bucket.bucket_id, tiny_embedder_path)
        retrievers = mixpeek.RetrieversApi(api)
        with pytest.raises(exc.UnprocessableEntityException) as unknown:
            retrievers.create_retriever(
                m.CreateRetrieverRequest(
                    retriever_name="r",
                    stages=[
                        m.StageConfigInput(
                            stage_name="ask", config={"stage_id": "llm_filter", "parameters": {}}
                        )
                    ],
                )
            )
        message = error_of(unknown.value).error.message
        assert "'llm_filter'" in message and "feature_search" in message and "group_by" in message

        with pytest.raises(exc.NotFoundException):
            mixpeek.TasksApi(api).get_task("tsk_nope")
    with live.api(live.read_key) as reader:
        with pytest.raises(exc.ForbiddenException) as read_only:
            image_bucket(reader, "more")
        assert "may only read" in error_of(read_only.value).error.message
    no_key = mixpeek.ApiClient(mixpeek.Configuration(host=f"{live.url}/mixpeek"))
    with pytest.raises(exc.UnauthorizedException) as anonymous:
        mixpeek.BucketsApi(no_key).list_buckets_get()
    assert "API key is required" in error_of(anonymous.value).error.message
    with live.api() as api, pytest.raises(exc.ForbiddenException) as elsewhere:
        mixpeek.NamespacesApi(api).create_namespace(
            m.CreateNamespaceRequest(namespace_name="brand-new")
        )
    assert "omnidex namespace create brand-new" in error_of(elsewhere.value).error.message


def test_stages_map_onto_omnidex_filters_groups_limits_and_reranks(
    live: Live,
    tmp_path: Path,
    tiny_embedder_path: Path,
    tiny_cross_encoder_path: Path,
    needs_tesseract: None,
) -> None:
    with live.api() as api:
        bucket = image_bucket(api)
        objects = mixpeek.BucketObjectsApi(api)
        made = {}
        for word, shop in (("BAKERY", "north"), ("BUTCHER", "south"), ("BARBER", "north")):
            made[word] = objects.create_object_buckets(
                bucket.bucket_id,
                m.CreateObjectRequest(
                    blobs=[
                        m.CreateBlobRequest(
                            property="image",
                            type="image",
                            data=inline_image(word, tmp_path),
                            metadata={"shop": shop},
                        )
                    ],
                ),
            ).object_id
        second = objects.list_objects_get_buckets(bucket.bucket_id, limit=2, page=2)
        assert [o.object_id for o in second.results] == [made["BARBER"]]
        assert (second.pagination.total, second.pagination.total_pages) == (3, 2)
        first = objects.list_objects_buckets(bucket.bucket_id, page_size=2, offset=0)
        assert [o.object_id for o in first.results] == [made["BAKERY"], made["BUTCHER"]]
        collection = text_collection(api, bucket.bucket_id, tiny_embedder_path)
        batches = mixpeek.BucketBatchesApi(api)
        batch = batches.create_batch_buckets_batches(
            bucket.bucket_id, m.CreateBatchRequest(object_ids=list(made.values()), auto_submit=True)
        )
        assert wait_task(api, batch.task_id).status == m.TaskStatusEnum.COMPLETED
        assert mixpeek.BatchesApi(api).get_batch_by_id_batches(batch.batch_id).status == (
            m.TaskStatusEnum.COMPLETED
        )
        assert [t.task_id for t in mixpeek.TasksApi(api).list_tasks().results] == [batch.task_id]

        def search(query: dict[str, Any], lexical: bool = True) -> dict[str, Any]:
            return {
                "stage_id": "feature_search",
                "parameters": {
                    "searches": [
                        {
                            "feature_uri": "mixpeek://image_extractor@v1/embedding",
                            "query": query,
                            "lexical": lexical,
                            "top_k": 10,
                        }
                    ],
                    "final_top_k": 10,
                },
            }

        retrievers = mixpeek.RetrieversApi(api)
        stages = [
            m.StageConfigInput(
                stage_name="north_only",
                stage_type="filter",
                config={
                    "stage_id": "attribute_filter",
                    "parameters": {
                        "field": "metadata.shop",
                        "operator": "eq",
                        "value": "{{INPUT.shop}}",
                    },
                },
            ),
            m.StageConfigInput(
                stage_name="dense",
                stage_type="filter",
                config=search({"input_mode": "text", "value": "{{INPUT.query}}"}, lexical=False),
            ),
            m.StageConfigInput(
                stage_name="rerank",
                stage_type="sort",
                config={
                    "stage_id": "rerank",
                    "parameters": {
                        "inference_name": str(tiny_cross_encoder_path),
                        "query": "{{INPUT.query}}",
                        "top_k": 5,
                    },
                },
            ),
            m.StageConfigInput(
                stage_name="one_per_object",
                stage_type="reduce",
                config={
                    "stage_id": "group_by",
                    "parameters": {"group_by_field": "source_object_id", "max_per_group": 1},
                },
            ),
            m.StageConfigInput(
                stage_name="top",
                stage_type="reduce",
                config={"stage_id": "limit", "parameters": {"limit": 5}},
            ),
        ]
        retriever = retrievers.create_retriever(
            m.CreateRetrieverRequest(
                retriever_name="north",
                collection_identifiers=["pics"],
                stages=stages,
                input_schema={
                    "query": m.RetrieverInputSchemaFieldInput(type="text"),
                    "shop": m.RetrieverInputSchemaFieldInput(type="string"),
                },
            )
        )
        assert retriever.collection_identifiers == [collection.collection_id]
        hits = retrievers.execute_retriever(
            "north", m.ExecuteRetrieverRequest(inputs={"query": "shop sign", "shop": "north"})
        ).documents
        assert {h["source_object_id"] for h in hits} == {made["BAKERY"], made["BARBER"]}
        assert all(set(h["stage_scores"]) >= {"dense", "rerank"} for h in hits)
        plan = retrievers.explain_retriever_execution_id_execute(
            "north", m.ExplainRetrieverRequest(inputs={"query": "shop sign", "shop": "south"})
        ).execution_plan
        assert [p.stage_name for p in plan] == [
            "north_only",
            "dense",
            "rerank",
            "one_per_object",
            "top",
        ]
        assert plan[-1].estimated_output == 1

        words = retrievers.create_retriever(
            m.CreateRetrieverRequest(
                retriever_name="words",
                stages=[
                    m.StageConfigInput(
                        stage_name="bm25",
                        config=search({"input_mode": "text", "value": "{{INPUT.q}}"}),
                    )
                ],
            )
        )
        assert list(words.input_schema) == ["q"]
        found = retrievers.execute_retriever(
            words.retriever_id, m.ExecuteRetrieverRequest(inputs={"q": "butcher"})
        )
        assert found.documents[0]["source_object_id"] == made["BUTCHER"]
        assert found.documents[0]["metadata"]["shop"] == "south"
        either = m.ExecuteRetrieverRequest(inputs={"q": "bakery butcher"})
        both = retrievers.execute_retriever("words", either).documents
        assert {d["source_object_id"] for d in both} == {made["BAKERY"], made["BUTCHER"]}
        either.filters = {"AND": [{"field": "metadata.shop", "operator": "eq", "value": "south"}]}
        south = retrievers.execute_retriever("words", either).documents
        assert [d["source_object_id"] for d in south] == [made["BUTCHER"]]
        assert [r.retriever_name for r in retrievers.list_retrievers().results] == [
            "north",
            "words",
        ]
        retrievers.delete_retriever("words")
        with pytest.raises(exc.NotFoundException):
            retrievers.get_retriever(words.retriever_id)


def test_a_canceled_batch_leaves_its_objects_unprocessed(
    tmp_path: Path, tiny_embedder_path: Path
) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.close()
    server, thread, url = start_server(home, workers=0)  # nothing takes the queued tasks
    try:
        live = Live(url, key, key, key, "")
        with live.api() as api:
            bucket = image_bucket(api)
            objects = mixpeek.BucketObjectsApi(api)
            obj = objects.create_object_buckets(
                bucket.bucket_id,
                m.CreateObjectRequest(
                    blobs=[m.CreateBlobRequest(property="note", type="text", data=m.Data("a note"))]
                ),
            )
            text_collection(api, bucket.bucket_id, tiny_embedder_path)
            batches = mixpeek.BucketBatchesApi(api)
            batch = batches.create_batch_buckets_batches(
                bucket.bucket_id, m.CreateBatchRequest(object_ids=[obj.object_id])
            )
            queued = batches.submit_batch_buckets_batches(bucket.bucket_id, batch.batch_id)
            assert queued.status == m.TaskStatusEnum.QUEUED
            with pytest.raises(exc.ConflictException):  # submitted once only
                batches.submit_batch_buckets_batches(bucket.bucket_id, batch.batch_id)
            canceled = batches.cancel_batch_buckets_batches(bucket.bucket_id, batch.batch_id)
            assert canceled.status == m.TaskStatusEnum.CANCELED
            assert (
                mixpeek.TasksApi(api).get_task(queued.task_id).status == m.TaskStatusEnum.CANCELED
            )
            docs = mixpeek.CollectionDocumentsApi(api).list_documents_0("pics")
            assert docs.results == [] and docs.total_documents == 0

            objects.delete_object_buckets(bucket.bucket_id, obj.object_id)
            assert objects.list_objects_get_buckets(bucket.bucket_id).results == []
            text_collection(api, bucket.bucket_id, tiny_embedder_path, name="other")
            dropped = httpx.delete(
                f"{url}/v1/collections/other", headers={"Authorization": f"Bearer {key}"}
            )
            assert dropped.status_code == 204  # through omnidex's own API
            listed = mixpeek.CollectionsApi(api).list_collections_get().results
            assert [c.collection_name for c in listed] == ["pics"]
            mixpeek.CollectionsApi(api).delete_collection("pics")
            assert mixpeek.CollectionsApi(api).list_collections_get().results == []
            mixpeek.BucketsApi(api).delete_bucket(bucket.bucket_id)
            with pytest.raises(exc.NotFoundException):
                mixpeek.BucketsApi(api).get_bucket(bucket.bucket_id)
    finally:
        server.should_exit = True
        thread.join(30)


def test_fields_omnidex_does_not_act_on_are_named_in_a_header(live: Live) -> None:
    with live.api() as api:
        answer = mixpeek.BucketsApi(api).create_bucket_with_http_info(
            m.BucketCreateRequest(
                bucket_name="tiered",
                bucket_schema=m.BucketSchemaInput(
                    properties={
                        "image": m.BucketSchemaFieldInput(type=m.BucketSchemaFieldType.IMAGE)
                    }
                ),
                storage_class=m.StorageClass.COLDLINE,
                unique_key=m.UniqueKeyConfig(fields=["image"]),
            )
        )
        assert isinstance(answer.data, m.BucketResponse)
        headers = {k.lower(): v for k, v in (answer.headers or {}).items()}
        assert headers["x-omnidex-ignored"] == "storage_class, unique_key"
        collection = mixpeek.CollectionsApi(api).create_collection_with_http_info(
            m.CreateCollectionRequest(
                collection_name="tiered",
                source=m.SourceConfigInput(type=m.SourceType.BUCKET, bucket_ids=["tiered"]),
                feature_extractor=m.SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                    feature_extractor_name="text_extractor", version="v1", params={"dims": 768}
                ),
                enabled=True,
            )
        )
        assert isinstance(collection.data, m.CollectionResponse)
        headers = {k.lower(): v for k, v in (collection.headers or {}).items()}
        assert headers["x-omnidex-ignored"] == "enabled, feature_extractor.params.dims"
        with pytest.raises(exc.ConflictException) as twice:
            image_bucket(api, "tiered")
        assert error_of(twice.value).error.message == "bucket 'tiered' already exists"


def test_the_sdks_one_line_client_runs_its_own_helpers(
    live: Live, tiny_embedder_path: Path, needs_tesseract: None
) -> None:
    client = mixpeek.Mixpeek(live.key, namespace="default", base_url=f"{live.url}/mixpeek/v1")
    bucket = client.buckets.create(
        bucket_name="signs", bucket_schema={"properties": {"image": {"type": "image"}}}
    )
    assert [b.bucket_name for b in client.buckets.list()["results"]] == ["signs"]
    client.collections.create(
        collection_name="signs",
        source={"type": "bucket", "bucket_ids": [bucket["bucket_id"]]},
        feature_extractor={
            "feature_extractor_name": "image_extractor",
            "version": "v1",
            "params": {"text_embedding": {"model_id": str(tiny_embedder_path)}},
        },
    )
    # index(): the bucket's file property from its schema, the object, then the collection's
    # trigger, which submits a batch of the bucket's objects
    made = client.index(f"{live.files}/sign.png", collection="signs")
    assert made.blobs[0]["property"] == "image"
    with live.api() as api:
        (task,) = mixpeek.TasksApi(api).list_tasks().results
        assert wait_task(api, task.task_id).status == m.TaskStatusEnum.COMPLETED
        again = mixpeek.CollectionsApi(api).trigger_collection(
            "signs", m.TriggerCollectionRequest(object_ids=[made.object_id])
        )
        assert isinstance(again, m.TriggerCollectionResponse) and again.object_count == 1
        assert wait_task(api, again.task_id).status == m.TaskStatusEnum.COMPLETED
        with pytest.raises(exc.UnprocessableEntityException):
            mixpeek.CollectionsApi(api).trigger_collection(
                "signs", m.TriggerCollectionRequest(object_ids=["obj_none"])
            )
    retriever = client.retrievers.create(
        retriever_name="signs",
        stages=[
            {
                "stage_name": "words",
                "config": {
                    "stage_id": "feature_search",
                    "parameters": {
                        "searches": [
                            {
                                "feature_uri": "mixpeek://image_extractor@v1/embedding",
                                "query": "{{INPUT.query}}",
                                "lexical": True,
                            }
                        ]
                    },
                },
            }
        ],
    )
    found = client.retrievers.execute(retriever.retriever_id, inputs={"query": "late"})
    assert found.documents[0].source_object_id == made.object_id
    with pytest.raises(MixpeekAPIError) as caught:
        client.buckets.get("nope")
    assert caught.value.status == 404


def test_a_redirect_to_a_private_address_fails_its_object_not_the_batch(
    live: Live, tiny_embedder_path: Path, needs_tesseract: None
) -> None:
    with live.api() as api:
        bucket = image_bucket(api)
        objects = mixpeek.BucketObjectsApi(api)
        ids = [
            objects.create_object_buckets(
                bucket.bucket_id,
                m.CreateObjectRequest(
                    blobs=[m.CreateBlobRequest(property="image", type="image", data=m.Data(url))]
                ),
            ).object_id
            for url in (f"{live.files}/sign.png", f"{live.files}/to-metadata")
        ]
        text_collection(api, bucket.bucket_id, tiny_embedder_path)
        batches = mixpeek.BucketBatchesApi(api)
        batch = batches.create_batch_buckets_batches(
            bucket.bucket_id, m.CreateBatchRequest(object_ids=ids, auto_submit=True)
        )
        task = wait_task(api, batch.task_id)
        assert task.status == m.TaskStatusEnum.COMPLETED_WITH_ERRORS
        assert "unsafe_url" in task.error and "169.254.169.254" in task.error
        assert task.additional_data["ingest_tasks"] == {"COMPLETED": 1, "FAILED": 1}
        report = batches.get_batch_buckets_batches(bucket.bucket_id, batch.batch_id)
        assert (report.failed_object_count, report.error_summary) == (1, {"unsafe_url": 1})
        docs = mixpeek.CollectionDocumentsApi(api).list_documents("pics")
        assert [d.additional_properties["source_object_id"] for d in docs.results] == [ids[0]]


def test_rate_limits_answer_429_in_mixpeeks_shape(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.close()
    server, thread, url = start_server(home, workers=0, rate_per_minute=1, rate_burst=2)
    try:
        # retries=0: urllib3 would otherwise wait out Retry-After and try again.
        config = mixpeek.Configuration(host=f"{url}/mixpeek", access_token=key, retries=0)
        with mixpeek.ApiClient(config) as api:
            buckets = mixpeek.BucketsApi(api)
            buckets.list_buckets_get()
            buckets.list_buckets_get()
            with pytest.raises(ApiException) as caught:
                buckets.list_buckets_get()
        assert caught.value.status == 429
        assert int(caught.value.headers["Retry-After"]) >= 1
        error = error_of(caught.value)
        assert (error.error.type, error.error.code) == ("TooManyRequestsError", "rate_limited")
    finally:
        server.should_exit = True
        thread.join(30)


def test_presigned_uploads_are_signed_once_only_and_capped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.close()
    server, thread, url = start_server(home, workers=0, max_upload_bytes=2000)
    try:
        with Live(url, key, key, key, "").api() as api:
            bucket = image_bucket(api)
            uploads = mixpeek.BucketUploadsApi(api)

            def create(name: str) -> m.UploadResponse:
                return uploads.create_upload_buckets(
                    bucket.bucket_id,
                    m.CreateUploadRequest(
                        filename=name, content_type="text/plain", blob_property="note"
                    ),
                )

            first = create("a.txt")
            assert first.presigned_url and first.presigned_url.startswith(f"{url}/mixpeek/")
            with pytest.raises(exc.ConflictException):  # nothing sent yet
                uploads.confirm_upload_buckets(bucket.bucket_id, first.upload_id)
            assert httpx.put(first.presigned_url, content=b"x" * 2001).status_code == 413
            assert httpx.put(first.presigned_url[:-3] + "abc", content=b"hi").status_code == 401
            assert httpx.put(first.presigned_url, content=b"a short note").status_code == 200
            assert httpx.put(first.presigned_url, content=b"again").status_code == 409
            done = uploads.confirm_upload_buckets(bucket.bucket_id, first.upload_id)
            obj = mixpeek.BucketObjectsApi(api).get_object_buckets(bucket.bucket_id, done.object_id)
            assert obj.blobs[0].properties["size_bytes"] == len(b"a short note")

            lying = create("b.png")  # the bytes must be what the name says
            with pytest.raises(exc.UnprocessableEntityException):
                uploads.create_upload_buckets(
                    bucket.bucket_id,
                    m.CreateUploadRequest(
                        filename="c.txt", content_type="text/plain", blob_property="video"
                    ),
                )
            assert httpx.put(lying.presigned_url, content=b"not an image").status_code == 200
            with pytest.raises(ApiException) as refused:
                uploads.confirm_upload_buckets(bucket.bucket_id, lying.upload_id)
            message = error_of(refused.value).error.message
            assert message.startswith("b.png: ") and str(home) not in message
    finally:
        server.should_exit = True
        thread.join(30)


def test_scene_caption_runs_phi4_multimodal_on_its_model_server(
    live: Live, tmp_path: Path, tiny_embedder_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ..models.openai_server import BASE_MODEL, openai_server

    with openai_server() as phi4, live.api() as api:
        monkeypatch.setenv("OMNIDEX_MODEL_ENDPOINTS", phi4.url)  # the operator's model server
        bucket = image_bucket(api)
        obj = mixpeek.BucketObjectsApi(api).create_object_buckets(
            bucket.bucket_id,
            m.CreateObjectRequest(
                blobs=[
                    m.CreateBlobRequest(
                        property="image", type="image", data=inline_image("ROADMAP", tmp_path)
                    )
                ]
            ),
        )
        mixpeek.CollectionsApi(api).create_collection(
            m.CreateCollectionRequest(
                collection_name="captions",
                source=m.SourceConfigInput(type=m.SourceType.BUCKET, bucket_ids=[bucket.bucket_id]),
                feature_extractor=m.SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                    feature_extractor_name="scene_caption",
                    version="v1",
                    params={
                        "model_id": BASE_MODEL,
                        "scene_caption": {"backend": "openai", "base_url": phi4.url},
                        "text_embedding": {"model_id": str(tiny_embedder_path)},
                    },
                ),
            )
        )
        batch = mixpeek.BucketBatchesApi(api).create_batch_buckets_batches(
            bucket.bucket_id, m.CreateBatchRequest(object_ids=[obj.object_id], auto_submit=True)
        )
        assert wait_task(api, batch.task_id).status == m.TaskStatusEnum.COMPLETED
        (doc,) = mixpeek.CollectionDocumentsApi(api).list_documents_0("captions").results
        caption = doc.additional_properties["features"]["scene_caption@v1/caption"]
        assert caption.startswith("model=vision images=1 sizes=300x110")


def test_a_dev_server_creates_the_namespaces_it_is_asked_for(tmp_path: Path) -> None:
    server, thread, url = start_server(tmp_path / "home", workers=0, dev=True)
    try:
        live = Live(url, "unused", "unused", "unused", "")
        with live.api() as api:
            made = mixpeek.NamespacesApi(api).create_namespace(
                m.CreateNamespaceRequest(namespace_name="team-a", description="the A team")
            )
            assert (made.namespace_id, made.description) == ("ns_team-a", "the A team")
        with live.api(namespace=made.namespace_id) as team:
            image_bucket(team, "theirs")
            names = [
                n.namespace_name for n in mixpeek.NamespacesApi(team).list_namespaces_get().results
            ]
            assert {"default", "team-a"} <= set(names)
            spaces = mixpeek.NamespacesApi(team)
            assert spaces.get_namespace("team-a").bucket_count == 1
            assert spaces.get_namespace("default").bucket_count == 0
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.mark.timeout(900)  # the session's trained CLIP takes a while on a loaded host
def test_clip_extractor_searches_pixels_with_words(
    live: Live, tmp_path: Path, tiny_embedder_path: Path, trained_clip_path: Path
) -> None:
    import random

    from ..image_checkpoints import PICTURES, caption, shape_image

    with live.api() as api:
        bucket = image_bucket(api)
        objects = mixpeek.BucketObjectsApi(api)
        made = {}
        for colour, shape in PICTURES:
            path = tmp_path / f"{colour}-{shape}.png"
            shape_image(colour, shape, random.Random(1)).save(path)
            data = m.Data(
                {"base64": base64.b64encode(path.read_bytes()).decode(), "filename": path.name}
            )
            made[caption(colour, shape)] = objects.create_object_buckets(
                bucket.bucket_id,
                m.CreateObjectRequest(
                    blobs=[m.CreateBlobRequest(property="image", type="image", data=data)]
                ),
            ).object_id
        mixpeek.CollectionsApi(api).create_collection(
            m.CreateCollectionRequest(
                collection_name="shapes",
                source=m.SourceConfigInput(type=m.SourceType.BUCKET, bucket_ids=[bucket.bucket_id]),
                feature_extractor=m.SharedCollectionFeaturesExtractorsModelsFeatureExtractorConfigInput(
                    feature_extractor_name="clip_extractor",
                    version="v1",
                    params={
                        "model_id": str(trained_clip_path),
                        "text_embedding": {"model_id": str(tiny_embedder_path)},
                    },
                ),
            )
        )
        trigger = mixpeek.CollectionsApi(api).trigger_collection("shapes")
        assert wait_task(api, trigger.task_id).status == m.TaskStatusEnum.COMPLETED
        retrievers = mixpeek.RetrieversApi(api)
        retrievers.create_retriever(
            m.CreateRetrieverRequest(
                retriever_name="look",
                stages=[
                    m.StageConfigInput(
                        stage_name="pixels",
                        config={
                            "stage_id": "feature_search",
                            "parameters": {
                                "searches": [
                                    {
                                        "feature_uri": "mixpeek://clip_extractor@v1/image_embedding",
                                        "query": {"input_mode": "text", "value": "{{INPUT.query}}"},
                                    }
                                ]
                            },
                        },
                    )
                ],
            )
        )
        for words, object_id in made.items():
            found = retrievers.execute_retriever(
                "look", m.ExecuteRetrieverRequest(inputs={"query": words})
            ).documents
            assert found[0]["source_object_id"] == object_id, words
