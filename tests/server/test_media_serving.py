"""Stored XSS through source media, attacked over real HTTP: whatever a file is named or holds,
the server answers it with the type of its detected kind, never HTML, with ``nosniff``, a
sandboxing CSP, and as an attachment unless a browser can play it inline."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from .conftest import Running

SCRIPT = b"<html><body><script>fetch('/x?k='+localStorage.getItem('omnidex-key'))</script></html>"


def _gif_with_html() -> bytes:
    """A real GIF (it decodes) followed by an HTML page: a browser told text/html runs it."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="GIF")
    return buffer.getvalue() + SCRIPT


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ingest(running: Running, name: str, content: bytes) -> tuple[dict, list[dict]]:
    """Upload ``content`` as ``name``; the upload answer and the media answers (by key, by link)."""
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "docs", "extractors": ["page_text@v1"]})
        answer = http.post("/v1/collections/docs/objects", files={"file": (name, content)})
        if answer.status_code != 202:
            return answer.json(), []
        task = running.wait_task(running.write_key, answer.json()["id"])
        assert task["state"] == "succeeded", task
        (document,) = http.get("/v1/collections/docs/documents").json()["documents"]
        base = f"/v1/collections/docs/documents/{document['id']}"
        by_key = http.get(f"{base}/media")
        link = http.post(f"{base}/media-link").json()["url"]
        objects = http.get("/v1/collections/docs/objects").json()
    with running.client() as anonymous:
        by_link = anonymous.get(link)
    return {"source": objects[0]["source"], "link": link}, [by_key, by_link]


def _assert_guarded(answer: httpx.Response) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    csp = answer.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    kind = answer.headers["content-type"].split(";")[0].strip().lower()
    assert kind not in ("text/html", "image/svg+xml", "application/xhtml+xml")
    assert "javascript" not in kind and "xml" not in kind


def test_a_picture_named_html_is_served_as_the_picture_it_is(running: Running) -> None:
    content = _gif_with_html()
    stored, answers = _ingest(running, "x.html", content)
    assert Path(stored["source"]).suffix == ".gif"  # from the bytes, not the name
    for answer in answers:
        assert answer.status_code == 200 and answer.content == content
        _assert_guarded(answer)
        assert answer.headers["content-type"] == "image/gif"
        assert "attachment" not in answer.headers.get("content-disposition", "")


@pytest.mark.parametrize(
    "name", ["page.html", "page.htm", "page.svg", "page.xhtml", "page.js", "page"]
)
def test_html_and_svg_never_come_back_as_markup(running: Running, name: str) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for content in (SCRIPT, svg):
        stored, answers = _ingest(running, name, content)
        if not answers:  # refused: fine, as long as it is a clear 4xx
            assert stored["error"]["code"] == "unsupported_media", stored
            continue
        assert Path(stored["source"]).suffix == ".txt"
        for answer in answers:
            assert answer.status_code == 200 and answer.content == content
            _assert_guarded(answer)
            assert answer.headers["content-type"] == "text/plain; charset=utf-8"
            assert answer.headers["content-disposition"].startswith("attachment")
        with running.client(running.write_key) as http:
            http.delete("/v1/collections/docs")


def test_a_real_picture_still_plays_inline_with_ranges(running: Running) -> None:
    content = _png()
    stored, (by_key, by_link) = _ingest(running, "photo.PNG", content)
    assert Path(stored["source"]).suffix == ".png"
    for answer in (by_key, by_link):
        _assert_guarded(answer)
        assert answer.headers["content-type"] == "image/png"
        assert "attachment" not in answer.headers.get("content-disposition", "")
    with running.client() as anonymous:
        part = anonymous.get(stored["link"], headers={"Range": "bytes=1-3"})
    assert part.status_code == 206 and part.content == content[1:4]
    _assert_guarded(part)
    assert part.headers["content-type"] == "image/png"
