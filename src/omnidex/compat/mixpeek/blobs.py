"""A bucket object's blobs: what the SDK sends (a URL, a data URI, base64, inline text, an
upload's id) turned into what a batch later ingests, a URL or a file the server keeps.

http(s) URLs are checked now against the same SSRF rules the fetch applies (so an address omnidex
will never reach is a 4xx at once) and fetched by the ingest worker through the guarded fetch;
``s3://`` and ``gs://`` are read with the server's credentials. Inline bytes are decoded within the
upload limit and checked like an upload. Files live under ``<uploads>/mixpeek``.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from pathlib import Path
from typing import Any

from omnidex.compat.mixpeek.store import MixpeekStore, Row
from omnidex.errors import InvalidSpecError
from omnidex.server.object_access import check_object_access
from omnidex.server.state import ServerState
from omnidex.server.uploads import keep, save_stream
from omnidex.sources.http import FetchPolicy, check_url
from omnidex.sources.object_storage import is_object_url

FILE_TYPES = frozenset({"text", "image", "audio", "video", "pdf"})
"""Bucket schema types that hold a file omnidex can ingest (Mixpeek's ``excel`` is not one)."""
_URL = re.compile(r"^(?i:https?|s3|gs)://\S+$")
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+/-]*)(?:;[\w=-]+)*;base64,(?P<data>.*)$", re.S)
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/mpeg": ".mp3",
    "text/plain": ".txt",
}


def folder(state: ServerState) -> Path:
    path = state.uploads / "mixpeek"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_properties(bucket: Row) -> dict[str, str]:
    """The bucket schema's properties that hold a file, with their types."""
    properties = (bucket.get("bucket_schema") or {}).get("properties") or {}
    return {
        name: str(spec["type"])
        for name, spec in properties.items()
        if isinstance(spec, dict) and spec.get("type") in FILE_TYPES
    }


def stored_blob(
    state: ServerState, store: MixpeekStore, namespace: str, bucket: Row, blob: dict[str, Any]
) -> dict[str, Any]:
    """The blob as kept: ``property``, ``type`` and either ``url`` or ``path`` (+ ``filename``)."""
    prop, kind = blob.get("property"), blob.get("type")
    files = file_properties(bucket)
    if prop not in files:
        raise InvalidSpecError(
            f"blob property {prop!r} is not a file property of bucket {bucket['bucket_name']!r}; "
            f"its file properties: {', '.join(sorted(files)) or 'none'}",
            field="blobs.property",
        )
    if kind is not None and kind != files[prop]:
        raise InvalidSpecError(
            f"blob {prop!r} has type {kind!r} but the bucket schema says {files[prop]!r}",
            field="blobs.type",
        )
    out: dict[str, Any] = {
        "property": prop,
        "type": files[prop],
        "metadata": blob.get("metadata") or {},
    }
    if blob.get("upload_id"):
        upload = store.get("uploads", namespace, str(blob["upload_id"]))
        if upload.get("status") != "COMPLETED" or not upload.get("path"):
            raise InvalidSpecError(
                f"upload {blob['upload_id']!r} is not confirmed yet", field="blobs.upload_id"
            )
        return out | {
            "path": upload["path"],
            "filename": upload["filename"],
            "size": upload["size"],
        }
    data = blob.get("data")
    if isinstance(data, dict) and isinstance(data.get("url"), str):
        data = data["url"]
    if isinstance(data, str) and _URL.match(data):
        check_blob_url(state, namespace, data)
        return out | {"url": data, "filename": data.rsplit("/", 1)[-1].split("?", 1)[0]}
    raw, filename = _inline(data, files[prop])
    path = _save(state, raw, filename)
    return out | {"path": str(path), "filename": filename, "size": len(raw)}


def check_blob_url(state: ServerState, namespace: str, url: str) -> None:
    """PermissionDeniedError or UnsafeUrlError unless ``namespace`` may ingest ``url``."""
    if is_object_url(url):
        check_object_access(state.config.object_store_allow, namespace, url)
        return
    check_url(url, FetchPolicy(allow_hosts=tuple(state.config.url_allow_hosts)))


def _inline(data: Any, kind: str) -> tuple[bytes, str]:
    """Bytes and a file name from a data URI, a ``{"base64": …}`` dict or inline text."""
    if isinstance(data, str) and (match := _DATA_URI.match(data)):
        return _decode(match["data"]), "blob" + _EXTENSIONS.get(match["mime"].lower(), "")
    if isinstance(data, dict) and isinstance(data.get("base64"), str):
        name = str(data.get("filename") or "blob")
        if "." not in name:
            name += _EXTENSIONS.get(str(data.get("mime_type", "")).lower(), "")
        return _decode(data["base64"]), name
    if kind == "text" and isinstance(data, dict) and isinstance(data.get("text"), str):
        data = data["text"]
    if kind == "text" and isinstance(data, str) and data:
        return data.encode(), "blob.txt"
    raise InvalidSpecError(
        "blob data must be an http(s), s3:// or gs:// URL, a data URI, {'base64': ...}, an "
        "upload_id, or (type text) the text itself",
        field="blobs.data",
    )


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSpecError("blob data is not valid base64", field="blobs.data") from None


def _save(state: ServerState, raw: bytes, filename: str) -> Path:
    target = folder(state)
    path = save_stream(io.BytesIO(raw), target, filename, state.config.max_upload_bytes)
    return keep(path, filename, state.settings.limits)


def discard_blobs(state: ServerState, blobs: list[dict[str, Any]]) -> None:
    """Remove the files an object's blobs keep (only those in the Mixpeek folder)."""
    target = folder(state).resolve()
    for blob in blobs:
        if blob.get("path") and Path(blob["path"]).resolve().parent == target:
            Path(blob["path"]).unlink(missing_ok=True)
