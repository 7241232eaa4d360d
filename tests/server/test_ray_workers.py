"""A server that hands its queue to a Ray cluster: uploads are ingested by the Ray runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Running, start_server

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_queued_uploads_are_ingested_on_ray(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server, thread, url = start_server(home, workers=1, dev=True, runner="ray")
    running = Running(url, home, "", "")
    (tmp_path / "ferry.txt").write_text("The harbor ferry leaves at seven every morning.")
    (tmp_path / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    try:
        with running.client() as http:
            spec = {"name": "docs", "extractors": ["page_text@v1"]}
            assert http.post("/v1/collections", json=spec).status_code == 201
            tasks = {}
            for name in ("ferry.txt", "scan.png"):
                with (tmp_path / name).open("rb") as file:
                    answer = http.post("/v1/collections/docs/objects", files={"file": (name, file)})
                assert answer.status_code == 202, answer.text
                tasks[name] = answer.json()["id"]
            good, bad = (running.wait_task("", tasks[n]) for n in ("ferry.txt", "scan.png"))
            assert good["state"] == "succeeded" and good["progress"] == 1.0, good
            assert bad["state"] == "failed" and bad["error_code"] == "corrupt_media", bad
            hits = http.post("/v1/collections/docs/search", json={"query": "ferry"}).json()
            assert [h["object_id"] for h in hits] == [good["object_id"]]
    finally:
        server.should_exit = True
        thread.join(30)
