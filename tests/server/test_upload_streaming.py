"""The upload limit holds while the body streams in, over a real socket: a chunked upload with no
length is refused at the limit, before the server has read (or spooled) the rest, and nothing is
left in the uploads folder."""

from __future__ import annotations

import select
import socket
from pathlib import Path
from urllib.parse import urlparse

import omnidex

from .conftest import start_server

LIMIT = 100_000
CHUNK = 64 * 1024
MAX_SENT = 64 * 1024 * 1024


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_chunked_upload_past_the_limit_is_cut_off_while_it_streams(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.create_collection("docs", extractors=["page_text@v1"])
    db.close()
    server, thread, url = start_server(home, workers=0, max_upload_bytes=LIMIT)
    address = urlparse(url)
    sent, answer = 0, b""
    try:
        with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
            conn.sendall(
                b"POST /v1/collections/docs/objects HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {key}\r\n".encode()
                + b"Content-Type: multipart/form-data; boundary=BOUND\r\n"
                + b"Transfer-Encoding: chunked\r\n\r\n"
                + _chunk(
                    b'--BOUND\r\nContent-Disposition: form-data; name="file"; '
                    b'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
                )
            )
            body = _chunk(b"x" * CHUNK)
            while sent < MAX_SENT:
                readable, writable, _ = select.select([conn], [conn], [], 5)
                if readable:
                    answer = conn.recv(65536)
                    break
                if not writable:  # the server stopped reading without answering
                    break
                try:
                    conn.sendall(body)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += CHUNK
            conn.settimeout(30)
            if not answer:  # end the body, so that the server answers at last
                conn.sendall(_chunk(b"\r\n--BOUND--\r\n") + b"0\r\n\r\n")
            while b"\r\n\r\n" not in answer:
                more = conn.recv(65536)
                if not more:
                    break
                answer += more
    finally:
        server.should_exit = True
        thread.join(30)
    assert answer.startswith(b"HTTP/1.1 413"), (sent, answer[:200])
    assert b"payload_too_large" in answer or b"\r\n\r\n" in answer
    assert sent < MAX_SENT // 4, f"the server read {sent} bytes before refusing"
    print(f"refused after {sent} bytes sent")
    assert not list((home / "uploads").glob("*"))
