"""The body of a search request: JSON (``query``, ``image`` as base64, ``k``, ``where``) or a
multipart form with the same fields and ``image`` as an uploaded file.

Either way the image arrives as bytes within ``max_query_image_bytes``; its pixels are checked
when it is decoded (``Limits.max_image_pixels``). A malformed body is a 422 naming the field, a
too-large image a 413.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from omnidex.errors import InvalidSpecError, PayloadTooLargeError
from omnidex.server.wire import SearchIn

FORM_FIELDS = ("query", "k", "where")
MULTIPART_OVERHEAD = 64 * 1024

SEARCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SearchIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "query": {"type": "string"},
                        "k": {"type": "integer"},
                        "where": {"type": "string"},
                    },
                }
            },
        },
    }
}
"""The OpenAPI request body of the search routes: both forms."""


async def search_request(request: Request, max_bytes: int) -> tuple[SearchIn, bytes | None]:
    """The checked search and the query image's bytes, if one was sent."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > 2 * max_bytes + MULTIPART_OVERHEAD:
        raise _too_big(max_bytes)  # base64 is 4/3 of the bytes; refuse far larger bodies unread
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=len(FORM_FIELDS), max_part_size=8192)
        upload = form.get("image")
        fields: dict[str, Any] = {k: form[k] for k in FORM_FIELDS if isinstance(form.get(k), str)}
        data = await upload.read(max_bytes + 1) if isinstance(upload, UploadFile) else None
        if data is not None:
            fields["image"] = "-"  # present; the bytes travel beside the model
    else:
        try:
            fields = json.loads(await request.body())
        except ValueError:
            raise InvalidSpecError("the body is not JSON", field="body") from None
        data = None
    body = _validated(fields)
    if data is None and body.image is not None:
        try:
            data = base64.b64decode(body.image, validate=True)
        except ValueError:  # binascii.Error, or characters outside ASCII
            raise InvalidSpecError("image: not base64", field="image") from None
    if data is not None and len(data) > max_bytes:
        raise _too_big(max_bytes)
    return body, data


def _validated(fields: Any) -> SearchIn:
    try:
        return SearchIn.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _too_big(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"query image larger than the limit of {max_bytes} bytes",
        limit="max_query_image_bytes",
        max_bytes=max_bytes,
    )
