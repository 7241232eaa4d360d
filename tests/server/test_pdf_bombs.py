"""A PDF decompression bomb fails alone: over real HTTP, a PDF of well under a megabyte whose page
content stream inflates to 600 MB is read in a child process under ``max_pdf_memory_bytes``; its
task fails with that limit, the server process's memory stays where it was, and the next upload
goes through."""

from __future__ import annotations

import json
import resource
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import omnidex
from omnidex.config import Limits
from omnidex.errors import LimitExceededError
from omnidex.media.pdf import render_page

from .conftest import Running, start_server

INFLATED_BYTES = 600 * 1024**2
CAP_BYTES = 256 * 1024**2


def pdf_bomb(inflated: int) -> bytes:
    """A valid one-page PDF whose content stream is ``inflated`` bytes of spaces, deflated."""
    deflate = zlib.compressobj(9)
    spaces = b" " * 1024**2
    stream = b"".join(deflate.compress(spaces) for _ in range(inflated // len(spaces)))
    stream += deflate.compress(b"BT /F1 12 Tf 72 712 Td (bomb) Tj ET") + deflate.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = pdf_bomb(INFLATED_BYTES)
    assert len(data) < 1024**2
    return data


@pytest.fixture
def capped_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.setenv("OMNIDEX_MAX_PDF_MEMORY_BYTES", str(CAP_BYTES))
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("writer", "write")
    db.create_collection("papers", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(home, workers=1, rate_per_minute=100_000, rate_burst=1000)
    yield Running(url, home, key, key)
    server.should_exit = True
    thread.join(30)


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def test_a_pdf_bomb_fails_alone_and_the_server_keeps_its_memory(
    capped_server: Running, bomb: bytes
) -> None:
    running = capped_server
    peak_before = _peak_rss_bytes()
    with running.client(running.write_key) as http:
        sent = http.post(
            "/v1/collections/papers/objects",
            files={"file": ("paper.pdf", bomb)},
            data={"metadata": json.dumps({"batch": "bombs"})},
        )
        assert sent.status_code == 202, sent.text
        task = running.wait_task(running.write_key, sent.json()["id"], timeout_s=120)
        after = http.post(
            "/v1/collections/papers/objects",
            files={"file": ("memo.txt", b"The ferry leaves at noon from the north pier.")},
        )
    assert task["state"] == "failed", task
    assert task["error_code"] == "limit_exceeded", task
    assert "max_pdf_memory_bytes" in task["error"], task["error"]
    assert running.wait_task(running.write_key, after.json()["id"])["state"] == "succeeded"
    assert _peak_rss_bytes() - peak_before < CAP_BYTES


def test_a_late_page_render_is_capped_too(tmp_path: Path, bomb: bytes) -> None:
    """What OCR and ``ask`` call long after segmentation runs in a capped child as well."""
    path = tmp_path / "paper.pdf"
    path.write_bytes(bomb)
    limits = Limits(max_pdf_memory_bytes=CAP_BYTES)
    with pytest.raises(LimitExceededError) as caught:
        render_page(path, 0, 72, limits)
    assert caught.value.context["limit"] == "max_pdf_memory_bytes"
