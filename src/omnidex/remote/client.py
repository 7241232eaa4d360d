"""``omnidex.Client(url, api_key)``: the embedded ``Database``'s methods against an omnidex server.

Collections and retrievers are created, listed, changed, dropped and run with the same calls and
the same return types as embedded; errors raise the same :mod:`omnidex.errors` classes. What the
wire cannot do the same is explicit: API keys are managed where the server's data lives
(``omnidex key``), not through a client, and :mod:`omnidex.remote.collection` lists how remote
collections differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter

from omnidex.errors import CollectionDamagedError
from omnidex.remote.collection import RemoteCollection
from omnidex.remote.http import Transport, segment
from omnidex.types import (
    CollectionInfo,
    ExtractorSpec,
    RetrievalResult,
    RetrieverInfo,
    RetrieverSpec,
    SegmentationSpec,
)

ExtractorsArg = Sequence[str | dict[str, Any] | ExtractorSpec]
COLLECTIONS = TypeAdapter(list[CollectionInfo])
RETRIEVERS = TypeAdapter(list[RetrieverInfo])
DEFAULT_TIMEOUT_S = 300.0


class Client:
    """An omnidex server, seen through the embedded API.

    ``api_key`` is sent as a bearer token (``omnidex key create NAME --role write`` makes one);
    ``namespace``, when given, must be the key's (a ``--dev`` server serves any). ``timeout_s``
    bounds each request's wait for the server: asking Phi-4 and uploading a large file can be
    slow. A rate-limited request is sent again after the wait the server names, up to
    ``max_retries`` times."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        namespace: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = 5,
    ) -> None:
        self.namespace = namespace
        self._http = Transport(url, api_key, namespace, timeout_s, max_retries)

    @property
    def url(self) -> str:
        return self._http.url

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # --- collections ----------------------------------------------------------------------------

    def create_collection(
        self,
        name: str,
        extractors: ExtractorsArg | None = None,
        segmentation: SegmentationSpec | dict[str, Any] | None = None,
        *,
        preset: str | None = None,
        phi4: Mapping[str, Any] | None = None,
        embedding_model: str | None = None,
    ) -> RemoteCollection:
        """Create a collection from its extractors and segmentation, or from a ``preset``; the
        server checks the spec as :meth:`omnidex.embedded.Database.create_collection` does."""
        body = {
            "name": name,
            "extractors": _jsonable(list(extractors)) if extractors is not None else None,
            "segmentation": _jsonable(segmentation),
            "preset": preset,
            "phi4": dict(phi4) if phi4 is not None else None,
            "embedding_model": embedding_model,
        }
        info = self._http.json("POST", "/v1/collections", json=body)
        return RemoteCollection(self._http, CollectionInfo.model_validate(info))

    def collection(self, name: str) -> RemoteCollection:
        info = self._http.json("GET", f"/v1/collections/{segment(name)}")
        return RemoteCollection(self._http, CollectionInfo.model_validate(info))

    def collections(self) -> list[CollectionInfo]:
        return COLLECTIONS.validate_python(self._http.json("GET", "/v1/collections"))

    def document_count(self, name: str) -> int | None:
        """How many documents the collection holds; None when it lost its documents table."""
        try:
            return self.collection(name).count()
        except CollectionDamagedError:
            return None

    def update_collection(
        self,
        name: str,
        extractors: ExtractorsArg,
        segmentation: SegmentationSpec | dict[str, Any] | None = None,
    ) -> RemoteCollection:
        """Replace a collection's pipeline; its spec version goes up."""
        body = {"extractors": _jsonable(list(extractors)), "segmentation": _jsonable(segmentation)}
        info = self._http.json("PUT", f"/v1/collections/{segment(name)}/extractors", json=body)
        return RemoteCollection(self._http, CollectionInfo.model_validate(info))

    def drop_collection(self, name: str) -> None:
        self._http.request("DELETE", f"/v1/collections/{segment(name)}")

    # --- retrievers -----------------------------------------------------------------------------

    def create_retriever(self, spec: RetrieverSpec | dict[str, Any]) -> RetrieverInfo:
        """Save a retriever spec (checked by the server against its collections); a changed
        spec is a new version."""
        info = self._http.json("POST", "/v1/retrievers", json=_jsonable(spec))
        return RetrieverInfo.model_validate(info)

    def retriever(self, name: str, version: int | None = None) -> RemoteRetriever:
        """A saved retriever (its latest version, or ``version``); runs stay on that version."""
        params = {} if version is None else {"version": version}
        info = self._http.json("GET", f"/v1/retrievers/{segment(name)}", params=params)
        return RemoteRetriever(self._http, RetrieverInfo.model_validate(info))

    def retrievers(self) -> list[RetrieverInfo]:
        return RETRIEVERS.validate_python(self._http.json("GET", "/v1/retrievers"))

    def delete_retriever(self, name: str) -> None:
        self._http.request("DELETE", f"/v1/retrievers/{segment(name)}")

    def retrieve(
        self,
        spec: RetrieverSpec | dict[str, Any],
        inputs: dict[str, Any] | None = None,
        *,
        explain: bool = False,
    ) -> RetrievalResult:
        """Run a retriever spec without saving it; with ``explain``, each stage's report too."""
        body = {"spec": _jsonable(spec), "inputs": inputs or {}, "explain": explain}
        return RetrievalResult.model_validate(
            self._http.json("POST", "/v1/retrievers/execute", json=body)
        )

    # --- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteRetriever:
    """A saved retriever on the server: run it, or run it and explain."""

    def __init__(self, http: Transport, info: RetrieverInfo) -> None:
        self._http = http
        self.info = info

    @property
    def name(self) -> str:
        return self.info.name

    def run(self, inputs: dict[str, Any] | None = None) -> RetrievalResult:
        """The hits (``.hits``) and the run's time."""
        return RetrievalResult.model_validate(self._call("execute", inputs))

    def explain(self, inputs: dict[str, Any] | None = None) -> RetrievalResult:
        """:meth:`run`'s result with each stage's timing and candidate counts (``.stages``)."""
        return RetrievalResult.model_validate(self._call("explain", inputs))

    def _call(self, action: str, inputs: dict[str, Any] | None) -> Any:
        body = {"inputs": inputs or {}, "version": self.info.version}
        return self._http.json("POST", f"/v1/retrievers/{segment(self.name)}/{action}", json=body)


def _jsonable(value: Any) -> Any:
    """Specs as JSON: pydantic models dumped, lists of them too, anything else as it is."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value
