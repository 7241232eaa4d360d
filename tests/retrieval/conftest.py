"""A talks collection with hand-made vectors, so every stage has a known right answer.

Vectors come from a bag-of-words embedder over a fixed vocabulary (a real, deterministic
embedding: a query shares a direction with the documents that share its words), written straight
into a LanceDB store whose collection sits in a SQLite catalog, the real parts in temp folders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from omnidex.retrieval.candidates import Source, TextQueries
from omnidex.retrieval.executor import Retriever
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.store.sqlite_catalog import SqliteCatalog
from omnidex.types import (
    CollectionInfo,
    CollectionSpec,
    Document,
    ExtractorSpec,
    FeatureColumn,
    FeatureType,
    RetrieverSpec,
)

VOCAB = ["revenue", "churn", "hiring", "budget", "roadmap", "security", "launch", "pricing"]
TEXT = "transcription@v1/text"
SLIDE = "ocr@v1/text"
VECTOR = "text_embedding@v1/vector"
FEATURES = [
    FeatureColumn(name="text", type=FeatureType.TEXT, address=TEXT),
    FeatureColumn(name="text", type=FeatureType.TEXT, address=SLIDE),
    FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=len(VOCAB), address=VECTOR),
]


def embed(text: str) -> list[float]:
    """Counts of the vocabulary's words, L2-normalized (all zero → a tiny constant)."""
    counts = np.array([text.lower().split().count(w) for w in VOCAB], dtype=np.float32)
    norm = float(np.linalg.norm(counts))
    return list(counts / norm) if norm else [1e-3] * len(VOCAB)


@dataclass(frozen=True)
class Moment:
    object_id: str
    start_s: float
    speech: str
    slide: str = ""
    speaker: str = "ann"
    year: int = 2024


MOMENTS = [
    Moment("q3", 0, "revenue revenue grew in the quarter", "Revenue review", year=2023),
    Moment("q3", 10, "revenue and pricing together", "Revenue review", speaker="bob", year=2023),
    Moment("q3", 40, "churn rose in the summer", "Churn analysis", year=2023),
    Moment("plan", 0, "the roadmap for next year", "Roadmap", speaker="cid"),
    Moment("plan", 10, "hiring budget for the roadmap", "Hiring plan", speaker="cid"),
    Moment("plan", 20, "security review before launch", "Security"),
    Moment("plan", 30, "pricing of the launch", "Launch pricing", speaker="bob"),
]


def document(moment: Moment, collection: str = "talks") -> Document:
    return Document(
        id=f"{collection}:{moment.object_id}:{moment.start_s:g}",
        object_id=moment.object_id,
        kind="scene",
        key=f"scene={moment.start_s:g}",
        source=f"/media/{moment.object_id}.mp4",
        start_s=moment.start_s,
        end_s=moment.start_s + 10,
        features={TEXT: moment.speech, SLIDE: moment.slide, VECTOR: embed(moment.speech)},
        metadata={"speaker": moment.speaker, "year": moment.year},
    )


@dataclass
class Talks:
    """The catalog, the store and the collections of these tests."""

    catalog: SqliteCatalog
    store: LanceDocumentStore

    def collection(self, name: str, moments: Sequence[Moment] = MOMENTS) -> CollectionInfo:
        return self.collection_of(name, [document(moment, name) for moment in moments])

    def collection_of(self, name: str, documents: Sequence[Document]) -> CollectionInfo:
        spec = CollectionSpec(extractors=[ExtractorSpec(name="ocr@v1")])
        info = self.catalog.create_collection("default", name, spec, FEATURES)
        self.store.create_collection(info.id, FEATURES)
        by_object: dict[str, list[Document]] = {}
        for doc in documents:
            by_object.setdefault(doc.object_id, []).append(doc)
        self.store.replace_objects(info.id, by_object)
        self.store.optimize(info.id)
        return info

    def source(self, info: CollectionInfo) -> Source:
        return Source(info, {VECTOR: TextQueries(embed)})

    def retriever(
        self, spec: RetrieverSpec | dict[str, object], *infos: CollectionInfo
    ) -> Retriever:
        checked = spec if isinstance(spec, RetrieverSpec) else RetrieverSpec.model_validate(spec)
        return Retriever(checked, [self.source(i) for i in infos], self.store)


@pytest.fixture
def talks(tmp_path: Path) -> Iterator[Talks]:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    yield Talks(catalog, LanceDocumentStore(tmp_path / "documents"))
    catalog.close()


@pytest.fixture
def talks_info(talks: Talks) -> CollectionInfo:
    return talks.collection("talks")
