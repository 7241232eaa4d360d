"""The Catalog conformance suite: every implementation listed in ``conftest.CATALOGS`` passes it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from omnidex.errors import (
    AlreadyExistsError,
    AuthenticationError,
    InvalidSpecError,
    NotFoundError,
    PermissionDeniedError,
    TaskStateError,
)
from omnidex.store.api_keys import authenticate, authorize, hash_key, key_id_of, new_key
from omnidex.store.catalog import DEFAULT_NAMESPACE, Catalog
from omnidex.types import (
    ApiKeyInfo,
    CollectionInfo,
    CollectionSpec,
    DeliveryState,
    ExtractorSpec,
    FeatureColumn,
    FeatureType,
    InputSpec,
    KeyRole,
    ObjectRecord,
    ObjectStatus,
    RetrieverSpec,
    StageSpec,
    TaskState,
    WebhookEvent,
    WebhookEventType,
)

from .conftest import Backend

SPEC = CollectionSpec(extractors=[ExtractorSpec(name="text_embedding@v1")])
FEATURES = [
    FeatureColumn(
        name="vector", type=FeatureType.VECTOR, dim=8, address="text_embedding@v1/vector"
    ),
    FeatureColumn(name="text", type=FeatureType.TEXT, address="text_embedding@v1/text"),
]


def make_collection(catalog: Catalog, name: str = "docs") -> CollectionInfo:
    return catalog.create_collection(DEFAULT_NAMESPACE, name, SPEC, FEATURES)


def make_object(collection_id: str, object_id: str, **fields: object) -> ObjectRecord:
    values: dict[str, object] = {
        "id": object_id,
        "collection_id": collection_id,
        "sha256": "ab" * 32,
        "source": f"/data/{object_id}.txt",
        "size": 12,
        "kind": "text",
        "metadata": {"team": "red", "tags": ["a", "b"], "nested": {"x": 1}},
    }
    return ObjectRecord.model_validate(values | fields)


# --- namespaces ----------------------------------------------------------------------------------


def test_default_namespace_exists(catalog: Catalog) -> None:
    assert catalog.list_namespaces() == [DEFAULT_NAMESPACE]


def test_create_namespace(catalog: Catalog) -> None:
    catalog.create_namespace("acme")
    assert sorted(catalog.list_namespaces()) == ["acme", "default"]
    with pytest.raises(AlreadyExistsError):
        catalog.create_namespace("acme")


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "../etc", "a/b", "naïve", "x'--"])
def test_bad_names_are_refused(catalog: Catalog, name: str) -> None:
    with pytest.raises(InvalidSpecError) as namespace_error:
        catalog.create_namespace(name)
    assert namespace_error.value.context["field"] == "name"
    with pytest.raises(InvalidSpecError) as collection_error:
        catalog.create_collection(DEFAULT_NAMESPACE, name, SPEC, FEATURES)
    assert collection_error.value.context["field"] == "name"


# --- collections ---------------------------------------------------------------------------------


def test_create_and_get_collection(catalog: Catalog) -> None:
    info = make_collection(catalog)
    assert info.id.startswith("col_") and len(info.id) == 20
    assert (info.namespace, info.name, info.spec_version) == (DEFAULT_NAMESPACE, "docs", 1)
    assert info.spec == SPEC and info.features == FEATURES
    assert isinstance(info.created_at, datetime) and info.created_at.tzinfo is not None
    assert catalog.get_collection(DEFAULT_NAMESPACE, "docs") == info


def test_collection_errors(catalog: Catalog) -> None:
    make_collection(catalog)
    with pytest.raises(AlreadyExistsError) as exists:
        make_collection(catalog)
    assert exists.value.context["collection"] == "docs"
    with pytest.raises(NotFoundError):
        catalog.create_collection("nowhere", "docs", SPEC, FEATURES)
    with pytest.raises(NotFoundError) as missing:
        catalog.get_collection(DEFAULT_NAMESPACE, "missing")
    assert missing.value.context["collection"] == "missing"
    with pytest.raises(NotFoundError):
        catalog.update_collection(DEFAULT_NAMESPACE, "missing", SPEC, FEATURES)
    with pytest.raises(NotFoundError):
        catalog.drop_collection(DEFAULT_NAMESPACE, "missing")


def test_same_name_in_two_namespaces(catalog: Catalog) -> None:
    catalog.create_namespace("acme")
    first = make_collection(catalog)
    second = catalog.create_collection("acme", "docs", SPEC, FEATURES)
    assert first.id != second.id
    assert [c.name for c in catalog.list_collections("acme")] == ["docs"]


def test_list_collections_sorted_by_name(catalog: Catalog) -> None:
    for name in ["zeta", "alpha", "Mid.v2"]:
        make_collection(catalog, name)
    assert [c.name for c in catalog.list_collections(DEFAULT_NAMESPACE)] == [
        "Mid.v2",
        "alpha",
        "zeta",
    ]
    assert catalog.list_collections("nowhere") == []


def test_update_collection_bumps_spec_version(catalog: Catalog) -> None:
    info = make_collection(catalog)
    spec = CollectionSpec(extractors=[ExtractorSpec(name="ocr@v1", params={"lang": "en"})])
    features = [FeatureColumn(name="text", type=FeatureType.TEXT, address="ocr@v1/text")]
    updated = catalog.update_collection(DEFAULT_NAMESPACE, "docs", spec, features)
    assert (updated.id, updated.spec_version, updated.spec) == (info.id, 2, spec)
    assert updated.features == features and updated.created_at == info.created_at
    assert catalog.get_collection(DEFAULT_NAMESPACE, "docs").spec_version == 2


def test_drop_collection_removes_objects_and_tasks(catalog: Catalog) -> None:
    info = make_collection(catalog)
    catalog.put_object(make_object(info.id, "o1"))
    task = catalog.create_task(info.id, "o1")
    catalog.drop_collection(DEFAULT_NAMESPACE, "docs")
    with pytest.raises(NotFoundError):
        catalog.get_collection(DEFAULT_NAMESPACE, "docs")
    assert catalog.get_object(info.id, "o1") is None
    assert catalog.count_objects(info.id) == 0
    with pytest.raises(NotFoundError):
        catalog.get_task(task.id)
    assert make_collection(catalog).id != info.id


# --- objects -------------------------------------------------------------------------------------


def test_put_and_get_object(catalog: Catalog) -> None:
    info = make_collection(catalog)
    stored = catalog.put_object(make_object(info.id, "o1"))
    assert stored.created_at is not None and stored.updated_at is not None
    got = catalog.get_object(info.id, "o1")
    assert got == stored
    assert got.metadata == {"team": "red", "tags": ["a", "b"], "nested": {"x": 1}}
    assert got.status is ObjectStatus.PENDING and got.document_count == 0
    assert catalog.get_object(info.id, "missing") is None


def test_put_object_updates_all_but_created_at(catalog: Catalog) -> None:
    info = make_collection(catalog)
    first = catalog.put_object(make_object(info.id, "o1"))
    second = catalog.put_object(
        make_object(
            info.id,
            "o1",
            sha256="cd" * 32,
            size=99,
            metadata={"team": "blue"},
            status=ObjectStatus.FAILED,
            error="boom",
            document_count=3,
            spec_version=2,
        )
    )
    assert second.created_at == first.created_at
    assert second.updated_at is not None and first.updated_at is not None
    assert second.updated_at >= first.updated_at
    assert (second.sha256, second.size, second.metadata) == ("cd" * 32, 99, {"team": "blue"})
    assert (second.status, second.error, second.document_count, second.spec_version) == (
        ObjectStatus.FAILED,
        "boom",
        3,
        2,
    )
    assert catalog.count_objects(info.id) == 1


def test_list_and_count_objects(catalog: Catalog) -> None:
    info = make_collection(catalog)
    for i in range(5):
        catalog.put_object(make_object(info.id, f"z{4 - i}"))
    catalog.set_object_status(info.id, "z3", ObjectStatus.SUCCEEDED)
    catalog.set_object_status(info.id, "z1", ObjectStatus.SUCCEEDED)
    catalog.put_object(make_object(info.id, "z4", size=1))
    assert [o.id for o in catalog.list_objects(info.id)] == ["z4", "z3", "z2", "z1", "z0"]
    assert [o.id for o in catalog.list_objects(info.id, limit=2, offset=1)] == ["z3", "z2"]
    done = catalog.list_objects(info.id, status=ObjectStatus.SUCCEEDED)
    assert [o.id for o in done] == ["z3", "z1"]
    assert catalog.count_objects(info.id) == 5
    assert catalog.count_objects(info.id, ObjectStatus.SUCCEEDED) == 2
    assert catalog.count_objects(info.id, ObjectStatus.FAILED) == 0


def test_objects_are_scoped_by_collection(catalog: Catalog) -> None:
    first, second = make_collection(catalog, "a"), make_collection(catalog, "b")
    catalog.put_object(make_object(first.id, "o1"))
    catalog.put_object(make_object(second.id, "o1", size=7))
    in_first, in_second = catalog.get_object(first.id, "o1"), catalog.get_object(second.id, "o1")
    assert in_first is not None and in_second is not None
    assert (in_first.size, in_second.size) == (12, 7)
    assert catalog.count_objects(first.id) == 1


def test_set_object_status(catalog: Catalog) -> None:
    info = make_collection(catalog)
    catalog.put_object(make_object(info.id, "o1"))
    catalog.set_object_status(info.id, "o1", ObjectStatus.FAILED, error="bad pdf")
    failed = catalog.get_object(info.id, "o1")
    assert failed is not None and (failed.status, failed.error) == (ObjectStatus.FAILED, "bad pdf")
    catalog.set_object_status(
        info.id, "o1", ObjectStatus.SUCCEEDED, document_count=4, spec_version=1
    )
    done = catalog.get_object(info.id, "o1")
    assert done is not None and done.error is None
    assert (done.status, done.document_count, done.spec_version) == (ObjectStatus.SUCCEEDED, 4, 1)
    catalog.set_object_status(info.id, "o1", ObjectStatus.PROCESSING)
    again = catalog.get_object(info.id, "o1")
    assert again is not None and (again.document_count, again.spec_version) == (4, 1)
    with pytest.raises(NotFoundError):
        catalog.set_object_status(info.id, "missing", ObjectStatus.FAILED)


def test_delete_object_keeps_its_tasks_as_tombstones(catalog: Catalog) -> None:
    info = make_collection(catalog)
    catalog.put_object(make_object(info.id, "o1"))
    catalog.put_object(make_object(info.id, "o2"))
    gone, kept = catalog.create_task(info.id, "o1"), catalog.create_task(info.id, "o2")
    catalog.update_task(gone.id, state=TaskState.SUCCEEDED)
    catalog.delete_object(info.id, "o1")
    assert catalog.get_object(info.id, "o1") is None
    assert [o.id for o in catalog.list_objects(info.id)] == ["o2"]
    tombstone = catalog.get_task(gone.id)
    assert (tombstone.state, tombstone.object_id, tombstone.object_deleted) == (
        TaskState.SUCCEEDED,
        "o1",
        True,
    )
    assert [t.object_deleted for t in catalog.list_tasks(info.id)] == [False, True]
    assert catalog.get_task(kept.id) == kept and not kept.object_deleted
    with pytest.raises(NotFoundError):
        catalog.delete_object(info.id, "o1")
    catalog.put_object(make_object(info.id, "o1"))  # the same content ingested again
    assert not catalog.get_task(gone.id).object_deleted


def test_content_in_use(catalog: Catalog) -> None:
    info = make_collection(catalog)
    catalog.put_object(make_object(info.id, "o1", source="/up/aa.png"))
    catalog.put_object(make_object(info.id, "o2", source="/up/bb.png", status=ObjectStatus.FAILED))
    task, _ = catalog.enqueue_task(info.id, {"path": "/up/cc_1.png"})
    assert catalog.content_in_use("/up/aa.png")
    assert not catalog.content_in_use("/up/bb.png")  # only a failed object
    assert catalog.content_in_use("/up/cc_1.png")  # a queued task names it
    assert not catalog.content_in_use("/up/dd.png")
    claimed = catalog.claim_task("w", lease_s=60)
    assert claimed is not None and catalog.content_in_use("/up/cc_1.png")
    catalog.release_task(task.id, "w", TaskState.FAILED)
    assert not catalog.content_in_use("/up/cc_1.png")


# --- tasks ---------------------------------------------------------------------------------------


def test_create_and_get_task(catalog: Catalog) -> None:
    info = make_collection(catalog)
    task = catalog.create_task(info.id, "o1")
    assert task.id.startswith("task_") and task.state is TaskState.QUEUED
    assert (task.collection_id, task.object_id, task.kind) == (info.id, "o1", "ingest")
    assert (task.progress, task.attempts, task.stage, task.error) == (0.0, 0, None, None)
    assert catalog.get_task(task.id) == task
    other = catalog.create_task(info.id, None, kind="reindex")
    assert other.id != task.id and other.object_id is None and other.kind == "reindex"
    with pytest.raises(NotFoundError) as missing:
        catalog.get_task("task_missing")
    assert missing.value.context["task"] == "task_missing"


def test_update_task(catalog: Catalog) -> None:
    info = make_collection(catalog)
    task = catalog.create_task(info.id, "o1")
    running = catalog.update_task(
        task.id, state=TaskState.RUNNING, stage="extract", progress=0.5, attempt=True
    )
    assert (running.state, running.stage, running.progress, running.attempts) == (
        TaskState.RUNNING,
        "extract",
        0.5,
        1,
    )
    failed = catalog.update_task(task.id, state=TaskState.FAILED, error="oom", attempt=True)
    assert (failed.state, failed.stage, failed.error, failed.attempts) == (
        TaskState.FAILED,
        "extract",
        "oom",
        2,
    )
    assert catalog.get_task(task.id) == failed
    assert failed.created_at == task.created_at
    with pytest.raises(NotFoundError):
        catalog.update_task("task_missing", state=TaskState.RUNNING)


def test_list_tasks_newest_first(catalog: Catalog) -> None:
    first, second = make_collection(catalog, "a"), make_collection(catalog, "b")
    ids = [catalog.create_task(first.id, f"o{i}").id for i in range(3)]
    other = catalog.create_task(second.id, "x").id
    catalog.update_task(ids[1], state=TaskState.SUCCEEDED)
    assert [t.id for t in catalog.list_tasks()] == [other, *reversed(ids)]
    assert [t.id for t in catalog.list_tasks(first.id)] == list(reversed(ids))
    assert [t.id for t in catalog.list_tasks(first.id, TaskState.QUEUED)] == [ids[2], ids[0]]
    assert [t.id for t in catalog.list_tasks(state=TaskState.SUCCEEDED)] == [ids[1]]
    assert len(catalog.list_tasks(limit=2)) == 2


# --- persistence and threads ---------------------------------------------------------------------


def test_reopen_keeps_everything(open_catalog: Callable[[], Catalog]) -> None:
    catalog = open_catalog()
    catalog.create_namespace("acme")
    info = make_collection(catalog)
    stored = catalog.put_object(make_object(info.id, "o1"))
    task = catalog.create_task(info.id, "o1")
    catalog.close()
    reopened = open_catalog()
    assert sorted(reopened.list_namespaces()) == ["acme", "default"]
    assert reopened.get_collection(DEFAULT_NAMESPACE, "docs") == info
    assert reopened.get_object(info.id, "o1") == stored
    assert reopened.get_task(task.id) == task


def test_concurrent_writers_from_threads(catalog: Catalog) -> None:
    info = make_collection(catalog)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(20):
                catalog.put_object(make_object(info.id, f"w{worker}-{i}"))
                task = catalog.create_task(info.id, f"w{worker}-{i}")
                catalog.update_task(task.id, state=TaskState.RUNNING, attempt=True)
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert catalog.count_objects(info.id) == 120
    assert len(catalog.list_tasks(info.id, TaskState.RUNNING)) == 120


# --- retrievers --------------------------------------------------------------------------------


def retriever_spec(name: str = "talks", top_k: int = 10) -> RetrieverSpec:
    return RetrieverSpec(
        name=name,
        collections=["docs"],
        inputs={"query": InputSpec(type="text")},
        stages=[StageSpec(type="limit", params={"limit": top_k})],
    )


def test_retrievers_are_versioned_on_change_only(open_catalog: Callable[[], Catalog]) -> None:
    catalog = open_catalog()
    first = catalog.save_retriever(DEFAULT_NAMESPACE, retriever_spec())
    assert first.version == 1 and first.spec == retriever_spec()
    assert catalog.save_retriever(DEFAULT_NAMESPACE, retriever_spec()).version == 1
    second = catalog.save_retriever(DEFAULT_NAMESPACE, retriever_spec(top_k=5))
    assert second.version == 2 and second.created_at == first.created_at
    catalog.close()
    reopened = open_catalog()
    assert reopened.get_retriever(DEFAULT_NAMESPACE, "talks") == second
    assert reopened.get_retriever(DEFAULT_NAMESPACE, "talks", version=1).spec == retriever_spec()
    with pytest.raises(NotFoundError, match="version 3"):
        reopened.get_retriever(DEFAULT_NAMESPACE, "talks", version=3)


def test_retrievers_belong_to_their_namespace(catalog: Catalog) -> None:
    catalog.create_namespace("acme")
    catalog.save_retriever("acme", retriever_spec("b"))
    catalog.save_retriever("acme", retriever_spec("a"))
    catalog.save_retriever(DEFAULT_NAMESPACE, retriever_spec("c"))
    assert [r.name for r in catalog.list_retrievers("acme")] == ["a", "b"]
    with pytest.raises(NotFoundError):
        catalog.get_retriever(DEFAULT_NAMESPACE, "a")
    with pytest.raises(NotFoundError):
        catalog.save_retriever("nowhere", retriever_spec())
    catalog.delete_retriever("acme", "a")
    assert [r.name for r in catalog.list_retrievers("acme")] == ["b"]
    with pytest.raises(NotFoundError):
        catalog.delete_retriever("acme", "a")


# --- API keys ------------------------------------------------------------------------------------


def make_key(
    catalog: Catalog,
    name: str = "ci",
    role: KeyRole = KeyRole.READ,
    namespace: str = DEFAULT_NAMESPACE,
) -> tuple[ApiKeyInfo, str]:
    key = new_key()
    return catalog.create_api_key(namespace, name, role, hash_key(key), key_id_of(key)), key


def test_new_keys_have_the_documented_form() -> None:
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"odx_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", key)
        assert key_id_of(key) == key[4:12]
        assert re.fullmatch(r"[0-9a-f]{64}", hash_key(key))


def test_create_and_find_api_key(catalog: Catalog) -> None:
    before = datetime.now(UTC)
    info, key = make_key(catalog, "deploy bot", KeyRole.WRITE)
    assert (info.id, info.namespace, info.name, info.role) == (
        key_id_of(key),
        DEFAULT_NAMESPACE,
        "deploy bot",
        KeyRole.WRITE,
    )
    assert before <= info.created_at <= datetime.now(UTC)
    assert info.last_used_at is None and info.revoked_at is None
    assert catalog.find_api_key(hash_key(key)) == info
    assert catalog.find_api_key(hash_key(new_key())) is None
    shown = info.model_dump_json()
    assert key not in shown and hash_key(key) not in shown


def test_api_keys_belong_to_their_namespace(catalog: Catalog) -> None:
    catalog.create_namespace("acme")
    first, _ = make_key(catalog, "b", namespace="acme")
    other, _ = make_key(catalog, "c")
    second, _ = make_key(catalog, "a", KeyRole.WRITE, namespace="acme")
    assert catalog.list_api_keys("acme") == [first, second]
    assert catalog.list_api_keys(DEFAULT_NAMESPACE) == [other]
    assert catalog.list_api_keys() == [first, other, second]
    assert catalog.list_api_keys("nowhere") == []
    with pytest.raises(NotFoundError) as missing:
        make_key(catalog, namespace="nowhere")
    assert missing.value.context["namespace"] == "nowhere"


def test_revoke_api_key(catalog: Catalog) -> None:
    info, key = make_key(catalog)
    kept, kept_key = make_key(catalog, "other")
    revoked = catalog.revoke_api_key(info.id)
    assert revoked.revoked_at is not None and revoked.revoked_at >= info.created_at
    assert revoked.model_copy(update={"revoked_at": None}) == info
    assert catalog.find_api_key(hash_key(key)) is None
    assert catalog.find_api_key(hash_key(kept_key)) == kept
    assert catalog.list_api_keys() == [revoked, kept]
    assert catalog.revoke_api_key(info.id) == revoked
    with pytest.raises(NotFoundError) as missing:
        catalog.revoke_api_key("zzzzzzzz")
    assert missing.value.context["key_id"] == "zzzzzzzz"
    catalog.create_namespace("acme")
    with pytest.raises(NotFoundError):
        catalog.revoke_api_key(kept.id, namespace="acme")
    assert catalog.revoke_api_key(kept.id, namespace=DEFAULT_NAMESPACE).revoked_at is not None


def test_touch_api_key_records_the_use_at_most_once_a_minute(catalog: Catalog) -> None:
    info, key = make_key(catalog)
    before = datetime.now(UTC)
    catalog.touch_api_key(info.id)
    touched = catalog.find_api_key(hash_key(key))
    assert touched is not None and touched.last_used_at is not None
    assert before <= touched.last_used_at <= datetime.now(UTC)
    catalog.touch_api_key(info.id)
    assert catalog.find_api_key(hash_key(key)) == touched
    with pytest.raises(NotFoundError):
        catalog.touch_api_key("zzzzzzzz")


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "two\nlines", "tab\there"])
def test_bad_key_names_are_refused(catalog: Catalog, name: str) -> None:
    key = new_key()
    with pytest.raises(InvalidSpecError) as error:
        catalog.create_api_key(DEFAULT_NAMESPACE, name, KeyRole.READ, hash_key(key), key_id_of(key))
    assert error.value.context["field"] == "name"


def test_only_a_hash_and_an_id_are_accepted(catalog: Catalog) -> None:
    key = new_key()
    with pytest.raises(InvalidSpecError) as raw:
        catalog.create_api_key(DEFAULT_NAMESPACE, "ci", KeyRole.READ, key, key_id_of(key))
    assert raw.value.context["field"] == "key_hash"
    with pytest.raises(InvalidSpecError) as bad_id:
        catalog.create_api_key(DEFAULT_NAMESPACE, "ci", KeyRole.READ, hash_key(key), key)
    assert bad_id.value.context["field"] == "key_id"
    assert catalog.list_api_keys() == []


def test_key_ids_and_hashes_are_unique(catalog: Catalog) -> None:
    info, key = make_key(catalog)
    other = new_key()
    with pytest.raises(AlreadyExistsError):
        catalog.create_api_key(DEFAULT_NAMESPACE, "x", KeyRole.READ, hash_key(other), info.id)
    with pytest.raises(AlreadyExistsError):
        catalog.create_api_key(
            DEFAULT_NAMESPACE, "x", KeyRole.READ, hash_key(key), key_id_of(other)
        )
    assert catalog.list_api_keys() == [info]


def test_the_key_is_never_stored(open_catalog: Callable[[], Catalog], backend: Backend) -> None:
    """Every byte the catalog wrote to disk, open and after closing, lacks the key."""
    catalog = open_catalog()
    info, key = make_key(catalog, "needle-name")
    catalog.touch_api_key(info.id)
    secret = key[len("odx_12345678_") :]
    assert len(secret) == 43

    for _ in range(2):
        stored = backend.written()
        assert b"needle-name" in stored  # the files read are the ones the catalog writes
        assert secret.encode() not in stored
        catalog.close()
        catalog = open_catalog()
    assert catalog.find_api_key(hash_key(key)) == catalog.list_api_keys()[0]


# --- authentication and authorization ------------------------------------------------------------


def test_authenticate_a_good_key(catalog: Catalog) -> None:
    info, key = make_key(catalog, role=KeyRole.WRITE)
    assert authenticate(catalog, key) == info
    used = catalog.list_api_keys()[0]
    assert used.last_used_at is not None


def test_authenticate_an_unknown_key(catalog: Catalog) -> None:
    make_key(catalog)
    stranger = new_key()
    with pytest.raises(AuthenticationError) as error:
        authenticate(catalog, stranger)
    assert (error.value.code, error.value.http_status) == ("unauthenticated", 401)
    assert error.value.context == {"key_id": key_id_of(stranger)}
    assert stranger not in str(error.value)


def test_authenticate_a_key_with_a_changed_secret(catalog: Catalog) -> None:
    info, key = make_key(catalog)
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    with pytest.raises(AuthenticationError):
        authenticate(catalog, flipped)
    assert catalog.list_api_keys() == [info]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: "",
        lambda key: "odx_",
        lambda key: f"Bearer {key}",
        lambda key: key + "x",
        lambda key: key[:-1],
        lambda key: key.replace("odx_", "ODX_"),
        lambda key: key[:20] + "!" + key[21:],
        lambda key: f" {key}",
    ],
)
def test_authenticate_a_malformed_key(catalog: Catalog, mangle: Callable[[str], str]) -> None:
    _, key = make_key(catalog)
    with pytest.raises(AuthenticationError, match="malformed"):
        authenticate(catalog, mangle(key))


def test_authenticate_a_revoked_key(catalog: Catalog) -> None:
    info, key = make_key(catalog)
    catalog.revoke_api_key(info.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(catalog, key)


def test_authorize_holds_a_key_to_its_namespace_and_role(catalog: Catalog) -> None:
    reader, _ = make_key(catalog)
    writer, _ = make_key(catalog, "w", KeyRole.WRITE)
    authorize(reader, DEFAULT_NAMESPACE)
    authorize(writer, DEFAULT_NAMESPACE, KeyRole.READ)
    authorize(writer, DEFAULT_NAMESPACE, KeyRole.WRITE)
    with pytest.raises(PermissionDeniedError, match="may only read") as read_only:
        authorize(reader, DEFAULT_NAMESPACE, KeyRole.WRITE)
    assert (read_only.value.code, read_only.value.http_status) == ("forbidden", 403)
    with pytest.raises(PermissionDeniedError, match="namespace") as elsewhere:
        authorize(writer, "acme")
    assert elsewhere.value.context == {"key_id": writer.id, "namespace": "acme"}


# --- webhooks and their outbox -------------------------------------------------------------------

SUCCEEDED, FAILED, DELETED = (
    WebhookEventType.TASK_SUCCEEDED,
    WebhookEventType.TASK_FAILED,
    WebhookEventType.OBJECT_DELETED,
)


def event(kind: WebhookEventType, namespace: str = DEFAULT_NAMESPACE, n: int = 0) -> WebhookEvent:
    return WebhookEvent(
        id=f"evt_{kind.value}_{n}",
        type=kind,
        created_at=datetime.now(UTC),
        namespace=namespace,
        data={"id": f"task_{n}", "state": "succeeded"},
    )


def test_webhooks_belong_to_their_namespace(catalog: Catalog) -> None:
    catalog.create_namespace("acme")
    first = catalog.create_webhook(
        DEFAULT_NAMESPACE, "https://a.example/hook", [FAILED, SUCCEEDED, FAILED], "s1"
    )
    assert first.events == [FAILED, SUCCEEDED]  # once each, sorted
    assert first.namespace == DEFAULT_NAMESPACE and first.url == "https://a.example/hook"
    second = catalog.create_webhook(DEFAULT_NAMESPACE, "https://b.example/", [DELETED], "s2")
    theirs = catalog.create_webhook("acme", "https://c.example/", [DELETED], "s3")
    assert first.id != second.id
    assert catalog.list_webhooks(DEFAULT_NAMESPACE) == [first, second]
    assert catalog.list_webhooks() == [first, second, theirs]
    assert catalog.get_webhook(theirs.id) == theirs
    assert catalog.get_webhook(theirs.id, "acme") == theirs
    with pytest.raises(NotFoundError):
        catalog.get_webhook(theirs.id, DEFAULT_NAMESPACE)
    with pytest.raises(NotFoundError):
        catalog.delete_webhook(theirs.id, DEFAULT_NAMESPACE)
    catalog.delete_webhook(first.id, DEFAULT_NAMESPACE)
    assert catalog.list_webhooks(DEFAULT_NAMESPACE) == [second]
    with pytest.raises(NotFoundError):
        catalog.get_webhook(first.id)
    assert "s2" not in second.model_dump_json()


def test_bad_webhooks_are_refused(catalog: Catalog) -> None:
    with pytest.raises(InvalidSpecError):
        catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [], "secret")
    with pytest.raises(InvalidSpecError):
        catalog.create_webhook(DEFAULT_NAMESPACE, "", [DELETED], "secret")
    with pytest.raises(InvalidSpecError):
        catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [DELETED], "")
    with pytest.raises(NotFoundError):
        catalog.create_webhook("nowhere", "https://a.example/", [DELETED], "secret")
    assert catalog.list_webhooks() == []


def test_an_event_goes_to_the_webhooks_of_its_namespace_that_listen(catalog: Catalog) -> None:
    catalog.create_namespace("acme")
    both = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED, FAILED], "x")
    deleted = catalog.create_webhook(DEFAULT_NAMESPACE, "https://b.example/", [DELETED], "y")
    theirs = catalog.create_webhook("acme", "https://c.example/", [SUCCEEDED], "z")
    assert catalog.queue_webhook_event(event(SUCCEEDED)) == 1
    assert catalog.queue_webhook_event(event(DELETED)) == 1
    assert catalog.queue_webhook_event(event(FAILED, "acme")) == 0
    (delivery,) = catalog.list_webhook_deliveries(both.id)
    assert (delivery.event, delivery.event_id) == (SUCCEEDED, f"evt_{SUCCEEDED.value}_0")
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.PENDING,
        0,
        None,
    )
    assert [d.event for d in catalog.list_webhook_deliveries(deleted.id)] == [DELETED]
    assert catalog.list_webhook_deliveries(theirs.id) == []


def test_a_claimed_delivery_carries_what_signing_needs(catalog: Catalog) -> None:
    hook = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/in", [SUCCEEDED], "k3y")
    sent = event(SUCCEEDED)
    catalog.queue_webhook_event(sent)
    claimed = catalog.claim_webhook_delivery("w1", lease_s=60)
    assert claimed is not None
    assert (claimed.webhook_id, claimed.url, claimed.secret) == (hook.id, hook.url, "k3y")
    assert WebhookEvent.model_validate_json(claimed.body) == sent
    assert claimed.attempts == 1 and claimed.state is DeliveryState.PENDING
    assert catalog.claim_webhook_delivery("w2", lease_s=60) is None  # leased to w1
    dumped = claimed.model_dump()
    assert "secret" not in dumped and "body" not in dumped and "k3y" not in repr(claimed)


def test_only_the_holder_releases_a_delivery(catalog: Catalog) -> None:
    hook = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED], "k")
    catalog.queue_webhook_event(event(SUCCEEDED))
    claimed = catalog.claim_webhook_delivery("w1", lease_s=60)
    assert claimed is not None
    assert not catalog.release_webhook_delivery(claimed.id, "w2", DeliveryState.DELIVERED)
    assert catalog.release_webhook_delivery(
        claimed.id, "w1", DeliveryState.PENDING, status=500, error="boom", delay_s=3600
    )
    (waiting,) = catalog.list_webhook_deliveries(hook.id)
    assert (waiting.state, waiting.last_status, waiting.last_error) == (
        DeliveryState.PENDING,
        500,
        "boom",
    )
    assert catalog.claim_webhook_delivery("w1", lease_s=60) is None  # not due for an hour
    assert not catalog.release_webhook_delivery(claimed.id, "w1", DeliveryState.DELIVERED)


def test_a_delivery_is_retried_until_it_ends(catalog: Catalog) -> None:
    hook = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED], "k")
    catalog.queue_webhook_event(event(SUCCEEDED, n=1))
    catalog.queue_webhook_event(event(SUCCEEDED, n=2))
    first = catalog.claim_webhook_delivery("w", lease_s=60)
    second = catalog.claim_webhook_delivery("w", lease_s=60)
    assert first is not None and second is not None and first.id != second.id
    assert catalog.release_webhook_delivery(first.id, "w", DeliveryState.PENDING, status=503)
    again = catalog.claim_webhook_delivery("w", lease_s=60)
    assert again is not None and (again.id, again.attempts) == (first.id, 2)
    assert catalog.release_webhook_delivery(first.id, "w", DeliveryState.DELIVERED, status=204)
    assert catalog.release_webhook_delivery(second.id, "w", DeliveryState.FAILED, error="refused")
    assert catalog.claim_webhook_delivery("w", lease_s=60) is None
    states = {d.id: (d.state, d.attempts) for d in catalog.list_webhook_deliveries(hook.id)}
    assert states == {
        first.id: (DeliveryState.DELIVERED, 2),
        second.id: (DeliveryState.FAILED, 1),
    }
    assert [d.id for d in catalog.list_webhook_deliveries(hook.id, DeliveryState.FAILED)] == [
        second.id
    ]
    assert [d.id for d in catalog.list_webhook_deliveries(hook.id, limit=1)] == [second.id]
    assert not catalog.release_webhook_delivery(first.id, "w", DeliveryState.PENDING)


def test_an_expired_delivery_lease_is_claimed_again(catalog: Catalog) -> None:
    catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED], "k")
    catalog.queue_webhook_event(event(SUCCEEDED))
    first = catalog.claim_webhook_delivery("dead", lease_s=0.01)
    assert first is not None
    time.sleep(0.05)
    taken = catalog.claim_webhook_delivery("alive", lease_s=60)
    assert taken is not None and (taken.id, taken.attempts) == (first.id, 2)
    assert not catalog.release_webhook_delivery(first.id, "dead", DeliveryState.DELIVERED)
    assert catalog.release_webhook_delivery(first.id, "alive", DeliveryState.DELIVERED)


def test_deleting_a_webhook_drops_its_deliveries(catalog: Catalog) -> None:
    hook = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED], "k")
    catalog.queue_webhook_event(event(SUCCEEDED))
    catalog.delete_webhook(hook.id)
    assert catalog.claim_webhook_delivery("w", lease_s=60) is None
    assert catalog.list_webhook_deliveries(hook.id) == []


def test_queued_deliveries_survive_a_reopen(open_catalog: Callable[[], Catalog]) -> None:
    catalog = open_catalog()
    hook = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [DELETED], "k")
    catalog.queue_webhook_event(event(DELETED))
    catalog.close()
    reopened = open_catalog()
    assert reopened.list_webhooks() == [hook]
    claimed = reopened.claim_webhook_delivery("w", lease_s=60)
    assert claimed is not None and claimed.secret == "k" and claimed.event is DELETED


def test_prune_drops_only_deliveries_that_ended(catalog: Catalog) -> None:
    hook = catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED], "k")
    for n in range(3):
        catalog.queue_webhook_event(event(SUCCEEDED, n=n))
    for outcome in (DeliveryState.DELIVERED, DeliveryState.FAILED):
        claimed = catalog.claim_webhook_delivery("w", lease_s=60)
        assert claimed is not None
        catalog.release_webhook_delivery(claimed.id, "w", outcome)
    assert catalog.prune_webhook_deliveries(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert catalog.prune_webhook_deliveries(datetime.now(UTC) + timedelta(seconds=1)) == 2
    (left,) = catalog.list_webhook_deliveries(hook.id)
    assert left.state is DeliveryState.PENDING


def test_concurrent_senders_never_share_a_delivery(catalog: Catalog) -> None:
    catalog.create_webhook(DEFAULT_NAMESPACE, "https://a.example/", [SUCCEEDED], "k")
    for n in range(60):
        catalog.queue_webhook_event(event(SUCCEEDED, n=n))
    claimed: list[str] = []
    lock = threading.Lock()

    def send(name: str) -> None:
        while (delivery := catalog.claim_webhook_delivery(name, lease_s=60)) is not None:
            assert catalog.release_webhook_delivery(delivery.id, name, DeliveryState.DELIVERED)
            with lock:
                claimed.append(delivery.id)

    threads = [threading.Thread(target=send, args=(f"s{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)) == 60


# --- the ingest queue ------------------------------------------------------------------------


def test_queued_tasks_are_claimed_oldest_first_by_one_worker(catalog: Catalog) -> None:
    collection = make_collection(catalog)
    first, new = catalog.enqueue_task(collection.id, {"path": "/a"}, max_attempts=3)
    second, _ = catalog.enqueue_task(collection.id, {"path": "/b"})
    assert new and first.state is TaskState.QUEUED and first.payload == {"path": "/a"}
    assert "payload" not in first.model_dump()  # internal: never sent out
    claimed = catalog.claim_task("w1", lease_s=60)
    assert claimed is not None and claimed.id == first.id
    assert (claimed.state, claimed.attempts, claimed.max_attempts) == (TaskState.RUNNING, 1, 3)
    again = catalog.claim_task("w2", lease_s=60)
    assert again is not None and again.id == second.id
    assert catalog.claim_task("w3", lease_s=60) is None


def test_an_idempotency_key_returns_the_first_task(catalog: Catalog) -> None:
    collection = make_collection(catalog)
    first, new = catalog.enqueue_task(collection.id, {"path": "/a"}, idempotency_key="k")
    again, new_again = catalog.enqueue_task(collection.id, {"path": "/b"}, idempotency_key="k")
    assert new and not new_again and again.id == first.id and again.payload == {"path": "/a"}
    other = make_collection(catalog, "other")
    elsewhere, fresh = catalog.enqueue_task(other.id, {"path": "/c"}, idempotency_key="k")
    assert fresh and elsewhere.id != first.id  # keys are per collection


def test_only_the_lease_holder_renews_or_releases(catalog: Catalog) -> None:
    collection = make_collection(catalog)
    task, _ = catalog.enqueue_task(collection.id, {"path": "/a"})
    assert catalog.claim_task("w1", lease_s=60) is not None
    assert catalog.renew_lease(task.id, "w1", 60)
    assert not catalog.renew_lease(task.id, "w2", 60)
    assert not catalog.release_task(task.id, "w2", TaskState.SUCCEEDED)
    assert catalog.release_task(
        task.id, "w1", TaskState.FAILED, error="corrupt", error_code="corrupt_media"
    )
    done = catalog.get_task(task.id)
    assert (done.state, done.error, done.error_code) == (
        TaskState.FAILED,
        "corrupt",
        "corrupt_media",
    )
    assert not catalog.release_task(task.id, "w1", TaskState.SUCCEEDED)  # no longer running


def test_an_expired_lease_is_claimed_again(catalog: Catalog) -> None:
    collection = make_collection(catalog)
    task, _ = catalog.enqueue_task(collection.id, {"path": "/a"})
    assert catalog.claim_task("dead", lease_s=0.5) is not None  # long enough for a loaded host
    assert catalog.claim_task("alive", lease_s=60) is None
    time.sleep(0.6)
    reclaimed = catalog.claim_task("alive", lease_s=60)
    assert reclaimed is not None and reclaimed.id == task.id and reclaimed.attempts == 2
    assert not catalog.renew_lease(task.id, "dead", 60)  # the dead worker's lease is gone


def test_tasks_of_dead_runs_are_settled_as_abandoned(catalog: Catalog) -> None:
    info = make_collection(catalog)
    names = ("expired", "gone", "alive", "done")
    for object_id in names:
        catalog.put_object(make_object(info.id, object_id, status=ObjectStatus.PROCESSING))
    expired, gone, alive, done = (catalog.create_task(info.id, o) for o in names)
    queued, _ = catalog.enqueue_task(info.id, {"path": "/a"})  # the queue's: claimed again
    catalog.claim_task("worker", lease_s=0.01)
    catalog.hold_task(expired.id, "other-host", lease_s=0.01)
    catalog.hold_task(gone.id, "dead-pid", lease_s=60)
    catalog.hold_task(alive.id, "live-pid", lease_s=60)
    catalog.hold_task(done.id, "dead-pid", lease_s=60)
    catalog.update_task(done.id, state=TaskState.SUCCEEDED)
    running = catalog.get_task(alive.id)
    assert (running.state, running.attempts) == (TaskState.RUNNING, 1)
    time.sleep(0.05)

    def dead(owner: str) -> bool:
        return owner == "dead-pid"

    found = catalog.settle_abandoned_tasks(dead, "abandoned!", repair=False)
    assert sorted(t.id for t in found) == sorted([expired.id, gone.id])
    assert catalog.get_task(gone.id).state is TaskState.RUNNING  # a dry run changes nothing
    settled = catalog.settle_abandoned_tasks(dead, "abandoned!")
    assert sorted(t.id for t in settled) == sorted([expired.id, gone.id])
    for task_id in (expired.id, gone.id):
        task = catalog.get_task(task_id)
        assert (task.state, task.error, task.error_code) == (
            TaskState.FAILED,
            "abandoned!",
            "abandoned",
        )
    assert catalog.get_task(alive.id).state is TaskState.RUNNING
    assert catalog.get_task(queued.id).state is TaskState.RUNNING
    statuses = {o.id: (o.status, o.error) for o in catalog.list_objects(info.id)}
    assert statuses == {
        "expired": (ObjectStatus.PENDING, "abandoned!"),
        "gone": (ObjectStatus.PENDING, "abandoned!"),
        "alive": (ObjectStatus.PROCESSING, None),
        "done": (ObjectStatus.PROCESSING, None),
    }
    assert catalog.settle_abandoned_tasks(dead, "abandoned!") == []
    assert catalog.renew_lease(alive.id, "live-pid", 60)
    assert not catalog.renew_lease(gone.id, "dead-pid", 60)


def test_a_task_released_for_later_waits_its_turn(catalog: Catalog) -> None:
    collection = make_collection(catalog)
    task, _ = catalog.enqueue_task(collection.id, {"path": "/a"})
    catalog.claim_task("w", lease_s=60)
    assert catalog.release_task(task.id, "w", TaskState.QUEUED, error="server down", delay_s=0.5)
    assert catalog.claim_task("w", lease_s=60) is None  # not yet due
    time.sleep(0.6)
    due = catalog.claim_task("w", lease_s=60)
    assert due is not None and due.error == "server down" and due.attempts == 2


def test_cancel_and_retry_follow_the_task_state(catalog: Catalog) -> None:
    collection = make_collection(catalog)
    task, _ = catalog.enqueue_task(collection.id, {"path": "/a"})
    with pytest.raises(TaskStateError):
        catalog.retry_task(task.id)  # queued: nothing to retry
    assert catalog.cancel_task(task.id).state is TaskState.CANCELED
    assert catalog.claim_task("w", lease_s=60) is None
    retried = catalog.retry_task(task.id)
    assert (retried.state, retried.attempts, retried.error_code) == (TaskState.QUEUED, 0, None)
    catalog.claim_task("w", lease_s=60)
    with pytest.raises(TaskStateError):
        catalog.cancel_task(task.id)  # running: it finishes
    plain = catalog.create_task(collection.id, None)  # an embedded ingest's task has no input
    catalog.update_task(plain.id, state=TaskState.FAILED)
    with pytest.raises(TaskStateError, match="no stored input"):
        catalog.retry_task(plain.id)
