"""s3:// ingest against a real S3 protocol server on 127.0.0.1 (moto's), through s3fs and the
environment's credentials and endpoint, as a user's MinIO or AWS account would be reached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("s3fs", reason="s3:// needs s3fs: pip install 'omnidex[cloud]'")
moto_server = pytest.importorskip("moto.server", reason="the S3 test server needs moto[server]")

from omnidex.errors import LimitExceededError, SourceNotFoundError, UnsupportedMediaError  # noqa: E402
from omnidex.sources.object_storage import fetch_object, is_object_url  # noqa: E402


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket ``media`` holding ``talks/memo.txt`` on a local S3 server the environment names."""
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="talks/memo.txt", Body=b"the ferry leaves at seven")
    yield "media"
    server.stop()


def test_an_object_is_copied_under_a_generated_name(bucket: str, tmp_path: Path) -> None:
    fetched = fetch_object(f"s3://{bucket}/talks/memo.txt", tmp_path, max_bytes=1000)
    assert fetched.path.read_bytes() == b"the ferry leaves at seven"
    assert fetched.path.parent == tmp_path and fetched.path.name.startswith("fetched-")
    assert fetched.size == 25 and fetched.filename_hint == "memo.txt"


def test_missing_oversized_and_malformed_objects_are_typed_errors(
    bucket: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceNotFoundError, match="no such object"):
        fetch_object(f"s3://{bucket}/talks/nothing.txt", tmp_path, max_bytes=1000)
    with pytest.raises(LimitExceededError) as caught:
        fetch_object(f"s3://{bucket}/talks/memo.txt", tmp_path, max_bytes=10)
    assert caught.value.context["limit"] == "max_bytes"
    with pytest.raises(UnsupportedMediaError, match="s3://bucket/key"):
        fetch_object("s3://only-a-bucket", tmp_path, max_bytes=10)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_object_urls_are_recognised() -> None:
    assert is_object_url("s3://b/k") and is_object_url("GS://b/k")
    assert not is_object_url("https://b/k") and not is_object_url("file:///etc/passwd")


def test_the_server_ingests_an_s3_url(bucket: str, tmp_path: Path) -> None:
    import httpx

    import omnidex

    from ..server.conftest import start_server

    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.create_collection("web", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(
        home, workers=1, object_store_allow=[f"default=s3://{bucket}/"]
    )
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            task = http.post(
                "/v1/collections/web/objects/url", json={"url": f"s3://{bucket}/talks/memo.txt"}
            ).json()
            for _ in range(600):
                state = http.get(f"/v1/tasks/{task['id']}").json()
                if state["state"] not in ("queued", "running"):
                    break
                time.sleep(0.05)
            assert state["state"] == "succeeded", state
            hits = http.post("/v1/collections/web/search", json={"query": "ferry"}).json()
            assert hits and "ferry" in hits[0]["snippet"]
            gone = http.post(
                "/v1/collections/web/objects/url", json={"url": f"s3://{bucket}/nope.txt"}
            ).json()
            for _ in range(600):
                state = http.get(f"/v1/tasks/{gone['id']}").json()
                if state["state"] not in ("queued", "running"):
                    break
                time.sleep(0.05)
            assert state["state"] == "failed" and state["error_code"] == "source_not_found"
    finally:
        server.should_exit = True
        thread.join(30)


def test_each_namespace_reads_only_the_prefixes_the_operator_grants_it(
    bucket: str, tmp_path: Path
) -> None:
    """Namespace ``a`` may read ``talks/``; ``b`` is granted nothing. Refusals are 403s before
    any fetch; the granted read goes through the real S3 protocol server."""
    import boto3
    import httpx

    import omnidex

    from ..server.conftest import start_server

    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="payroll/salaries.txt", Body=b"the operator's own secret")
    home = tmp_path / "home"
    keys = {}
    for namespace in ("a", "b"):
        db = omnidex.connect(home, namespace=namespace)
        _, keys[namespace] = db.create_key(namespace, "write")
        db.create_collection("web", extractors=["page_text@v1"])
        db.close()
    server, thread, url = start_server(
        home, workers=1, object_store_allow=[f"a=s3://{bucket}/talks/"]
    )
    answers = {}
    try:
        for namespace, target in [
            ("a", f"s3://{bucket}/talks/memo.txt"),
            ("a", f"s3://{bucket}/payroll/salaries.txt"),
            ("a", f"s3://{bucket}/talks/../payroll/salaries.txt"),
            ("a", "s3://other-bucket/talks/memo.txt"),
            ("b", f"s3://{bucket}/talks/memo.txt"),
        ]:
            auth = {"Authorization": f"Bearer {keys[namespace]}"}
            with httpx.Client(base_url=url, headers=auth) as http:
                answers[(namespace, target)] = http.post(
                    "/v1/collections/web/objects/url", json={"url": target}
                )
        granted = answers[("a", f"s3://{bucket}/talks/memo.txt")]
        assert granted.status_code == 202, granted.text
        auth = {"Authorization": f"Bearer {keys['a']}"}
        with httpx.Client(base_url=url, headers=auth) as http:
            for _ in range(600):
                task = http.get(f"/v1/tasks/{granted.json()['id']}").json()
                if task["state"] not in ("queued", "running"):
                    break
                time.sleep(0.05)
            hits = http.post("/v1/collections/web/search", json={"query": "ferry"}).json()
    finally:
        server.should_exit = True
        thread.join(30)
    assert task["state"] == "succeeded", task
    assert hits and "ferry" in hits[0]["snippet"]
    refused = {k: v for k, v in answers.items() if v is not granted}
    for (namespace, target), answer in refused.items():
        assert answer.status_code == 403, (namespace, target, answer.text)
        assert answer.json()["error"]["code"] == "forbidden"
    assert not any((home / "uploads").glob("fetched-*"))
