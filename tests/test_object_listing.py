"""Object listings past one page (1000): embedded, REST with its paging headers, the remote
client and the CLI list and count every object, and say so when they show a part."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import omnidex
from omnidex.types import ObjectRecord, ObjectStatus

from .cli.test_cli import run_omnidex
from .server.conftest import start_server

TOTAL = 1205
FAILED = len(range(0, TOTAL, 100))


@dataclass
class Many:
    home: Path
    ids: list[str]
    """The objects' ids in order of ingest."""


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Many:
    """A collection ``many`` of 1205 text objects written straight to the catalog (no
    extraction: listing is what is tested), every 100th of them failed."""
    home = tmp_path_factory.mktemp("many") / "data"
    ids = [f"{n:064x}" for n in range(TOTAL)]
    with omnidex.connect(home) as db:
        info = db.create_collection("many", ["page_text@v1"]).info
        for n, object_id in enumerate(ids):
            failed = n % 100 == 0
            db.catalog.put_object(
                ObjectRecord(
                    id=object_id,
                    collection_id=info.id,
                    sha256=object_id,
                    source=f"/notes/{n}.txt",
                    size=10,
                    kind="text",
                    status=ObjectStatus.FAILED if failed else ObjectStatus.SUCCEEDED,
                    error="empty file" if failed else None,
                )
            )
    return Many(home, ids)


@pytest.fixture(scope="module")
def server(many: Many) -> Iterator[tuple[str, str]]:
    """A server over the same data: its URL and a read key."""
    with omnidex.connect(many.home) as db:
        _, key = db.create_key("reader", "read")
    running, thread, url = start_server(many.home, workers=0, rate_per_minute=100_000)
    yield url, key
    running.should_exit = True
    thread.join(30)


def test_embedded_lists_and_counts_every_object(many: Many) -> None:
    with omnidex.connect(many.home) as db:
        collection = db.collection("many")
        assert [r.id for r in collection.objects()] == many.ids
        assert collection.count_objects() == TOTAL
        assert collection.count_objects("failed") == FAILED
        assert len(collection.objects(ObjectStatus.FAILED)) == FAILED
        assert [r.id for r in collection.objects(limit=10, offset=1200)] == many.ids[1200:]


def test_rest_pages_say_the_total_and_link_the_next(many: Many, server: tuple[str, str]) -> None:
    url, key = server
    ids: list[str] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
        page = http.get("/v1/collections/many/objects")
        pages = 0
        while True:
            assert page.status_code == 200 and page.headers["X-Total-Count"] == str(TOTAL)
            ids.extend(r["id"] for r in page.json())
            pages += 1
            following = page.links.get("next")
            if following is None:
                break
            page = http.get(following["url"])
        failed = http.get("/v1/collections/many/objects", params={"status": "failed", "limit": 1})
    assert (pages, ids) == (2, many.ids)
    assert failed.headers["X-Total-Count"] == str(FAILED) and "Link" in failed.headers


def test_remote_client_lists_and_counts_every_object(many: Many, server: tuple[str, str]) -> None:
    url, key = server
    with omnidex.Client(url, key) as client:
        collection = client.collection("many")
        assert [r.id for r in collection.objects()] == many.ids
        assert [r.id for r in collection.objects(limit=1100, offset=50)] == many.ids[50:1150]
        assert (collection.count_objects(), collection.count_objects("failed")) == (TOTAL, FAILED)


def test_cli_lists_every_object_and_says_when_it_shows_a_part(many: Many) -> None:
    listed = run_omnidex("object", "list", "-c", "many", "--json", data=many.home)
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == many.ids
    part = run_omnidex(
        "object", "list", "-c", "many", "--limit", "100", "--offset", "1000", data=many.home
    )
    assert part.returncode == 0, part.stderr
    assert "objects 1,001–1,100 of 1,205; the next ones: --offset 1100" in part.stdout
    shown = run_omnidex("collection", "show", "many", data=many.home)
    assert shown.returncode == 0, shown.stderr
    assert f"objects: {TOTAL}" in shown.stdout
