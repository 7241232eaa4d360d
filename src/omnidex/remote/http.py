"""The remote client's HTTP transport: base URL, API key, timeouts, typed errors, rate limits.

Every request sends the key as ``Authorization: Bearer`` (and ``X-Namespace`` when one is given).
An error answer raises the :mod:`omnidex.errors` class it stands for
(:mod:`omnidex.remote.errors`). A ``429`` is waited out and sent again, up to ``max_retries``
times, as long as the server says how long to wait: a large ingest sends many requests in a row
and should not fail on the key's rate limit. Nothing else is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from omnidex import __version__
from omnidex.errors import RateLimitedError
from omnidex.remote.errors import error_from_response, unreachable

CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_WAIT_S = 60.0


def segment(value: str) -> str:
    """``value`` as one path segment: a name can never reach another route."""
    return quote(value, safe="")


class Transport:
    """One HTTP connection pool to an omnidex server, with its key and namespace."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        namespace: str | None,
        timeout_s: float,
        max_retries: int,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"omnidex/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if namespace:
            headers["X-Namespace"] = namespace
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.max_retries = max_retries

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request (``kwargs`` as httpx takes them); the response if it succeeded."""
        return self._send(lambda: self._http.request(method, path, **kwargs))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def upload(self, path: str, file: Path, fields: dict[str, str]) -> Any:
        """POST ``file`` as the multipart field ``file`` (streamed from disk) with form
        ``fields``; the JSON answer."""

        def send() -> httpx.Response:
            with file.open("rb") as handle:
                return self._http.post(path, files={"file": (file.name, handle)}, data=fields)

        return self._send(send).json()

    def _send(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = send()
            except httpx.TransportError as exc:
                raise unreachable(self.url, exc) from None
            if response.is_success:
                return response
            error = error_from_response(response)
            wait = error.context.get("retry_after_s")
            if not isinstance(error, RateLimitedError) or not wait or attempt >= self.max_retries:
                raise error
            attempt += 1
            time.sleep(min(float(wait), MAX_RETRY_WAIT_S))

    def close(self) -> None:
        self._http.close()
