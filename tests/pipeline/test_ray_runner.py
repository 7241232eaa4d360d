"""The Ray runner on a real local Ray cluster: the same documents as the local runner, id for id
and field for field; a poisoned file fails alone; an error budget stops a run; a driver killed
midway is resumed without duplicates; tasks show each object's stage while it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import omnidex
from omnidex.embedded import Collection
from omnidex.errors import ClusterError, ErrorBudgetExceededError, InvalidSpecError
from omnidex.pipeline.ray_runner import RayOptions
from omnidex.samples import build_sample_set, make_slides_video, sample_meeting
from omnidex.store.sqlite_catalog import SqliteCatalog
from omnidex.types import Document, IngestStatus, ObjectStatus, TaskState

pytestmark = pytest.mark.usefixtures("ray_cluster")


@pytest.fixture(scope="module")
def pipeline(tiny_embedder_path: Path) -> list[Any]:
    return [
        "page_text@v1",
        "ocr@v1",
        "transcription@v1",
        {
            "name": "text_embedding@v1",
            "params": {"model_id": str(tiny_embedder_path)},
            "resources": {"batch_size": 8, "concurrency": 2, "num_cpus": 0.5},
        },
    ]


@pytest.fixture(scope="module")
def with_captions(pipeline: list[Any], tiny_phi4mm_path: Path) -> list[Any]:
    """The pipeline with Phi-4 captions (a tiny random checkpoint) in the actors of the embedder's
    stage: a model that loads once per actor."""
    params = {"model_id": str(tiny_phi4mm_path), "device": "cpu", "max_new_tokens": 6}
    resources = {"batch_size": 4, "concurrency": 2, "num_cpus": 0.5}
    caption = {"name": "scene_caption@v1", "params": params, "resources": resources}
    return [*pipeline[:3], caption, pipeline[3]]


@pytest.fixture(scope="module")
def mixed_set(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Images, PDFs (text and scanned pages), text files, a video with speech and a poisoned
    video (bytes that are no video at all)."""
    folder = tmp_path_factory.mktemp("mixed")
    files = build_sample_set(folder)
    files.append(sample_meeting(folder))
    files.append(make_slides_video(folder / "slides.mp4", ["FERRY TIMES", "WINTER BUDGET"], 3))
    poisoned = folder / "poisoned.mp4"
    poisoned.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    return [*files, poisoned]


def _snapshot(collection: Collection) -> dict[str, Document]:
    return {d.id: d for d in collection.documents(limit=10_000)}


def _assert_same(ours: Document, theirs: Document) -> None:
    plain = {"features", "thumbnail"}
    assert ours.model_dump(exclude=plain) == theirs.model_dump(exclude=plain)
    assert ours.thumbnail == theirs.thumbnail
    assert ours.features.keys() == theirs.features.keys()
    for address, value in ours.features.items():
        if address.endswith("/vector"):
            np.testing.assert_allclose(value, theirs.features[address], rtol=1e-5, atol=1e-6)
        else:
            assert value == theirs.features[address], address


@pytest.mark.usefixtures("needs_tesseract")
def test_documents_equal_the_local_runners(
    tmp_path: Path, with_captions: list[Any], mixed_set: list[Path]
) -> None:
    db = omnidex.connect(tmp_path / "data")
    collection = db.create_collection("mixed", extractors=with_captions)
    local = collection.ingest(mixed_set)
    expected = _snapshot(collection)
    for record in collection.objects():
        collection.delete_object(record.id)
    assert collection.count() == 0

    on_ray = collection.ingest(mixed_set, runner=RayOptions(segment_cpus=0.5))

    assert [(r.source, r.status, r.object_id, r.documents, r.error_code) for r in on_ray] == [
        (r.source, r.status, r.object_id, r.documents, r.error_code) for r in local
    ]
    poisoned = [r for r in on_ray if r.status is IngestStatus.FAILED]
    assert [Path(r.source).name for r in poisoned] == ["poisoned.mp4"]
    assert poisoned[0].error_code == "corrupt_media"
    kinds = {d.kind for d in expected.values()}
    assert {"image", "page", "text", "scene"} <= kinds
    pictures = [d for d in expected.values() if d.kind in ("image", "scene")]
    assert len(pictures) == 8 + 2 + 3  # the meeting's scenes, the slides', the images
    assert all(d.features["scene_caption@v1/caption"] for d in pictures)
    assert len({d.object_id for d in expected.values() if d.kind == "scene"}) == 2
    actual = _snapshot(collection)
    assert actual.keys() == expected.keys()
    for doc_id, document in actual.items():
        _assert_same(document, expected[doc_id])
    assert collection.object(poisoned[0].object_id or "").status is ObjectStatus.FAILED


def _texts(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    paths = []
    for number in range(count):
        body = " ".join(f"{words[(number + i) % len(words)]}{number}" for i in range(400))
        path = folder / f"note{number:03d}.txt"
        path.write_text(body)
        paths.append(path)
    return paths


def test_a_poisoned_file_fails_alone_and_reruns_skip_what_is_done(tmp_path: Path) -> None:
    db = omnidex.connect(tmp_path / "data")
    collection = db.create_collection("notes", extractors=["page_text@v1"])
    paths = _texts(tmp_path / "in", 6)
    poisoned = tmp_path / "in" / "scan.png"
    poisoned.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    paths.insert(2, poisoned)

    first = collection.ingest(paths, runner="ray")
    statuses = {Path(r.source).name: r.status for r in first}
    assert list(statuses.values()).count(IngestStatus.INGESTED) == 6
    (bad,) = [r for r in first if r.source == str(poisoned)]
    assert bad.status is IngestStatus.FAILED and bad.error_code == "corrupt_media"

    again = collection.ingest(paths, runner="ray")
    assert [r.status for r in again] == [
        IngestStatus.FAILED if r.source == str(poisoned) else IngestStatus.UNCHANGED for r in first
    ]
    assert [r.documents for r in again] == [r.documents for r in first]


@pytest.mark.postgres
def test_the_driver_writes_through_a_postgres_catalog(
    tmp_path: Path, postgres_cluster: Any
) -> None:
    """A driver on a PostgreSQL catalog keeps its books there: another process's catalog on the
    same database (a server replica) sees every object and task, and a rerun skips them."""
    from omnidex.store.postgres_catalog import PostgresCatalog

    url = postgres_cluster.create_database()
    db = omnidex.connect(tmp_path / "data", catalog_url=url)
    collection = db.create_collection("notes", extractors=["page_text@v1"])
    paths = _texts(tmp_path / "in", 4)
    results = collection.ingest(paths, runner="ray")
    assert {r.status for r in results} == {IngestStatus.INGESTED}
    assert not (tmp_path / "data" / "catalog.sqlite").exists()
    replica = PostgresCatalog(url)
    try:
        objects = replica.list_objects(collection.info.id)
        assert {o.id: o.document_count for o in objects} == {
            r.object_id: r.documents for r in results
        }
        assert {o.status for o in objects} == {ObjectStatus.SUCCEEDED}
        tasks = replica.list_tasks(collection.info.id)
        assert sorted(t.object_id or "" for t in tasks) == sorted(o.id for o in objects)
        assert {t.state for t in tasks} == {TaskState.SUCCEEDED}
    finally:
        replica.close()
    again = collection.ingest(paths, runner="ray")
    assert {r.status for r in again} == {IngestStatus.UNCHANGED}
    db.close()


def test_the_error_budget_stops_a_run_and_a_rerun_finishes_it(tmp_path: Path) -> None:
    db = omnidex.connect(tmp_path / "data")
    collection = db.create_collection("notes", extractors=["page_text@v1"])
    good = _texts(tmp_path / "in", 4)
    bad = []
    for number in range(3):
        path = tmp_path / "in" / f"broken{number}.pdf"
        path.write_bytes(b"%PDF-1.7\n" + os.urandom(512))
        bad.append(path)

    with pytest.raises(ErrorBudgetExceededError) as stopped:
        collection.ingest([*bad, *good], runner=RayOptions(max_failures=1))
    assert stopped.value.context["budget"] == 1
    assert stopped.value.context["failed"] >= 2

    finished = collection.ingest([*bad, *good], runner=RayOptions(max_failures=3))
    assert [r.status for r in finished[3:]].count(IngestStatus.FAILED) == 0
    assert collection.count() == sum(r.documents for r in finished[3:])
    assert {r.id for r in collection.objects(status="succeeded")} == {
        r.object_id for r in finished[3:]
    }


class StageLog(SqliteCatalog):
    """The real catalog, remembering every stage a task was put in."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.stages: dict[str, list[str]] = {}

    def update_task(self, task_id: str, **fields: Any) -> Any:
        if fields.get("stage"):
            self.stages.setdefault(task_id, []).append(fields["stage"])
        return super().update_task(task_id, **fields)


def test_tasks_show_each_objects_stage_while_it_runs(tmp_path: Path, pipeline: list[Any]) -> None:
    db = omnidex.connect(tmp_path / "data")
    db.catalog = catalog = StageLog(tmp_path / "data" / "catalog.sqlite")
    collection = db.create_collection("notes", extractors=[pipeline[0], pipeline[3]])
    paths = _texts(tmp_path / "in", 4)

    seen: list[str] = []
    options = RayOptions(segment_cpus=0.5)
    results = collection.ingest(paths, progress=lambda r: seen.append(r.source), runner=options)

    assert sorted(seen) == sorted(str(p) for p in paths)
    for result in results:
        assert result.status is IngestStatus.INGESTED
        tasks = catalog.list_tasks(collection.info.id)
        (task,) = [t for t in tasks if t.object_id == result.object_id]
        assert task.state is TaskState.SUCCEEDED and task.progress == 1.0
        stages = catalog.stages[task.id]
        assert stages[0] == "segment"
        assert "extract:text_embedding@v1" in stages


def test_a_killed_driver_is_resumed_without_duplicates(tmp_path: Path, ray_cluster: str) -> None:
    data = tmp_path / "data"
    db = omnidex.connect(data)
    small_batches = {"name": "page_text@v1", "resources": {"batch_size": 2}}
    collection = db.create_collection("notes", extractors=[small_batches])
    paths = _texts(tmp_path / "in", 40)
    script = textwrap.dedent(
        f"""
        import ray, omnidex
        ray.init(address={ray_cluster!r}, log_to_driver=False)
        collection = omnidex.connect({str(data)!r}).collection("notes")
        collection.ingest({[str(p) for p in paths]!r}, runner="ray")
        """
    )
    driver = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and driver.poll() is None:
            done = len(collection.objects(status="succeeded"))
            if done >= 3:
                break
            time.sleep(0.05)
        assert driver.poll() is None, "the driver finished before it could be killed"
        os.killpg(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(30)
    assert 3 <= len(collection.objects(status="succeeded")) < len(paths)

    resumed = collection.ingest(paths, runner="ray")

    statuses = [r.status for r in resumed]
    assert IngestStatus.FAILED not in statuses
    assert statuses.count(IngestStatus.UNCHANGED) >= done
    assert statuses.count(IngestStatus.INGESTED) > 0
    documents = collection.documents(limit=10_000)
    assert len(documents) == len({d.id for d in documents}) == sum(r.documents for r in resumed)
    assert all(r.documents > 0 for r in resumed)
    assert len(collection.objects(status="succeeded")) == len(paths)


def test_a_file_that_kills_its_worker_every_time_ends_the_run(
    tmp_path: Path, crashing_extractor: str
) -> None:
    """Ray retries lost tasks and restarts lost actors; without a bound, a file that crashes its
    worker each time would keep the run going forever."""
    paths = _texts(tmp_path / "in", 3)
    paths[1].write_text("this one will crash its worker")
    collection = omnidex.connect(tmp_path / "data").create_collection("c", [crashing_extractor])

    with pytest.raises(ClusterError, match=r"the Ray run failed: (?s:.*)died"):
        collection.ingest(paths, runner="ray")

    statuses = {o.source: o.status for o in collection.objects()}
    assert statuses[str(paths[1])] is ObjectStatus.FAILED


def test_unknown_runner_is_a_clear_error(tmp_path: Path) -> None:
    collection = omnidex.connect(tmp_path / "data").create_collection("c", ["page_text@v1"])
    with pytest.raises(InvalidSpecError, match="unknown runner 'spark'"):
        collection.ingest([], runner="spark")  # type: ignore[arg-type]


def test_a_pipeline_the_cluster_cannot_hold_is_refused_not_left_waiting(tmp_path: Path) -> None:
    db = omnidex.connect(tmp_path / "data")
    greedy = [
        {"name": "page_text@v1", "resources": {"num_cpus": 2}},
        {"name": "ocr@v1", "resources": {"num_gpus": 1}},
    ]
    collection = db.create_collection("c", extractors=greedy)
    paths = _texts(tmp_path / "in", 1)
    with pytest.raises(
        InvalidSpecError, match="has 2 CPUs but this pipeline needs 4 at once"
    ) as refused:
        collection.ingest(paths, runner="ray")
    assert refused.value.context["field"] == "resources"
    assert collection.objects() == []


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_a_cluster_of_two_nodes_started_with_ray_start(tmp_path: Path) -> None:
    """Two nodes of one CPU each (``ray start --head`` and ``ray start --address``): a pipeline
    that needs two CPUs at once (an extractor actor and a segmenting task) must use both."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    common = ["--num-cpus", "1", "--object-store-memory", str(100 * 1024**2), "--block"]
    nodes = [
        subprocess.Popen(
            [
                ray_cli,
                "start",
                "--head",
                "--port",
                str(port),
                "--include-dashboard",
                "false",
                "--ray-client-server-port",
                str(_free_port()),
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    data = tmp_path / "data"
    collection = omnidex.connect(data).create_collection("notes", extractors=["page_text@v1"])
    paths = _texts(tmp_path / "in", 6)
    script = textwrap.dedent(
        f"""
        import json, time, ray, omnidex
        ray.init(address="127.0.0.1:{port}", log_to_driver=False)
        deadline = time.monotonic() + 60
        while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = len([n for n in ray.nodes() if n["Alive"]])
        results = omnidex.connect({str(data)!r}).collection("notes").ingest(
            {[str(p) for p in paths]!r}, runner="ray"
        )
        print(json.dumps({{"nodes": alive, "statuses": [r.status for r in results]}}))
        """
    )
    try:
        deadline = time.monotonic() + 60
        while (
            subprocess.run(
                [ray_cli, "status", "--address", f"127.0.0.1:{port}"], capture_output=True
            ).returncode
            != 0
        ):
            assert time.monotonic() < deadline, "the head node did not start"
            time.sleep(0.5)
        nodes.append(
            subprocess.Popen(
                [ray_cli, "start", "--address", f"127.0.0.1:{port}", *common],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        driver = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
        )
        assert driver.returncode == 0, driver.stderr[-3000:]
        report = json.loads(driver.stdout.strip().splitlines()[-1])
    finally:
        for node in reversed(nodes):
            node.terminate()
        for node in nodes:
            try:
                node.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
    assert report["nodes"] == 2
    assert report["statuses"] == ["ingested"] * len(paths)
    assert collection.count() == sum(1 for _ in collection.documents(limit=10_000))
    assert len(collection.objects(status="succeeded")) == len(paths)


def test_documents_on_object_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents of a Ray run land in a LanceDB table on S3 (moto's server on 127.0.0.1),
    reached with the environment's endpoint and credentials, as a cluster's shared store is."""
    moto_server = pytest.importorskip("moto.server", reason="the S3 server needs moto[server]")
    import boto3

    from omnidex.store.lance_documents import LanceDocumentStore

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
            "OMNIDEX_DOCUMENTS_URI": "s3://lake/omnidex",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lake")
        db = omnidex.connect(tmp_path / "data")
        collection = db.create_collection("notes", extractors=["page_text@v1"])
        paths = _texts(tmp_path / "in", 3)

        results = collection.ingest(paths, runner="ray")

        assert [r.status for r in results] == [IngestStatus.INGESTED] * 3
        assert not (tmp_path / "data" / "documents").exists()
        on_s3 = LanceDocumentStore("s3://lake/omnidex")
        assert on_s3.count(collection.info.id) == sum(r.documents for r in results)
        assert collection.search("alpha0", k=1)[0].source == str(paths[0])
    finally:
        server.stop()
