"""What flows between retrieval stages: candidates, and the run's context.

A :class:`Candidate` is a document on its way to becoming a :class:`~omnidex.types.Hit`: its
current score and, per stage, the score and rank it had there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnidex.retrieval.snippets import snippet
from omnidex.store.documents import DocumentStore
from omnidex.store.filters import And, Filter
from omnidex.types import (
    CollectionInfo,
    Document,
    Evidence,
    FeatureType,
    Hit,
    Moment,
    QueryEncoder,
    QueryKind,
    QueryValue,
    StageScore,
)


class TextQueries:
    """A query encoder for text queries made of a function (text → vector), for a source whose
    query vectors come from elsewhere (a test, a benchmark, precomputed vectors)."""

    def __init__(self, embed: Callable[[str], Sequence[float]]) -> None:
        self._embed = embed

    def query_kinds(self) -> frozenset[QueryKind]:
        return frozenset({"text"})

    def embed_queries(self, queries: Sequence[QueryValue]) -> np.ndarray:
        return np.asarray([self._embed(q) for q in queries], dtype=np.float32)


@dataclass
class Candidate:
    document: Document
    collection: CollectionInfo
    score: float
    provenance: dict[str, StageScore] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.document.id

    def text_of(self, address: str) -> str:
        """A text feature by address, or all of the document's text for ``"text"``."""
        if address == "text":
            return self.text()
        value = self.document.features.get(address)
        return value if isinstance(value, str) else ""

    def text(self) -> str:
        """The document's text features joined, in the collection's order: what a snippet is cut
        from (labels, numbers and JSON are not text)."""
        features = self.document.features
        return "\n".join(
            value
            for f in self.collection.features
            if f.type is FeatureType.TEXT
            and isinstance(value := features.get(f.address), str)
            and value.strip()
        )

    def to_hit(self, query: str) -> Hit:
        document = self.document
        return Hit(
            id=document.id,
            score=self.score,
            object_id=document.object_id,
            source=document.source,
            kind=document.kind,
            key=document.key,
            collection=self.collection.name,
            page=document.page,
            start_s=document.start_s,
            end_s=document.end_s,
            snippet=snippet(self.text(), query),
            metadata=document.metadata,
            provenance=self.provenance,
            matched=self.matched,
            evidence=evidence(document, self.collection, query),
            moments=self.moments,
        )


def evidence(document: Document, collection: CollectionInfo, query: str) -> list[Evidence]:
    """The text features that hold words of ``query`` (else the longest one), as passages."""
    texts = {
        f.address: document.features[f.address]
        for f in collection.features
        if f.type is FeatureType.TEXT and isinstance(document.features.get(f.address), str)
    }
    words = {w.lower() for w in query.split() if len(w) > 2}
    holding = [
        a for a, t in texts.items() if words & {w.lower().strip(".,;:!?") for w in t.split()}
    ]
    chosen = holding or sorted(texts, key=lambda a: -len(texts[a]))[:1]
    return [Evidence(field=a, text=snippet(texts[a], query)) for a in chosen if texts[a].strip()]


@dataclass(frozen=True)
class Source:
    """A collection as stages see it: its info and the query encoders of its vector features."""

    info: CollectionInfo
    encoders: Mapping[str, QueryEncoder]


@dataclass
class RunContext:
    store: DocumentStore
    sources: list[Source]
    inputs: dict[str, Any]
    query: str = ""
    """The run's text query (the first text input), for snippets and evidence."""
    default_query: QueryValue = None
    """What a search without its own ``query`` searches for: the first text input given, else
    the first image input given."""
    searched: bool = False
    """Whether a stage has fetched candidates from the store yet."""
    pending_filter: Filter | None = None
    """Filters met before any search, waiting to be pushed down into the next one."""
    notes: list[str] = field(default_factory=list)

    def push_filter(self, where: Filter) -> None:
        self.pending_filter = (
            where if self.pending_filter is None else And((self.pending_filter, where))
        )
