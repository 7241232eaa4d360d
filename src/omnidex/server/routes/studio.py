"""``/studio``: the web UI's static files, no key needed (the UI asks for one and calls ``/v1``).

Only files under :data:`omnidex.studio.STATIC_DIR` with a known suffix are served; anything else
is a 404. A Content-Security-Policy keeps the page to its own origin: no CDN, no external fonts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from omnidex.errors import NotFoundError
from omnidex.studio import STATIC_DIR

router = APIRouter(include_in_schema=False)

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


@router.get("/studio")
def studio_index() -> FileResponse:
    return _file(STATIC_DIR / "index.html")


@router.get("/studio/{path:path}")
def studio_file(path: str) -> FileResponse:
    if path in ("", "index.html"):
        return _file(STATIC_DIR / "index.html")
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or target.suffix not in MEDIA_TYPES or not target.is_file():
        raise NotFoundError(f"no studio file {path!r}", path=path)
    return _file(target)
