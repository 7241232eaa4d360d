"""Hybrid search: vector search and BM25 over one collection, fused by reciprocal rank.

The query is embedded by the model that made the collection's vectors (the caller passes the
embedding function the collection's own extractor provides); each part fetches a candidate pool
larger than ``k``, and the fused list is cut to ``k``. Every hit records each part's score and
rank in its provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from omnidex.retrieval.fusion import reciprocal_rank_fusion
from omnidex.retrieval.snippets import snippet
from omnidex.store.documents import DocumentStore
from omnidex.store.filters import Filter
from omnidex.types import CollectionInfo, Document, FeatureType, Hit, StageScore

QueryEmbedder = Callable[[str], Sequence[float]]
_BM25 = ThreadPoolExecutor(max_workers=4, thread_name_prefix="omnidex-bm25")


def hybrid_search(
    store: DocumentStore,
    collection: CollectionInfo,
    query: str,
    *,
    k: int = 10,
    where: Filter | None = None,
    embedders: Mapping[str, QueryEmbedder] | None = None,
    candidates: int | None = None,
) -> list[Hit]:
    """Top ``k`` documents for ``query``: one vector search per vector feature that has an
    embedder in ``embedders`` (address → function), plus BM25 over all text features."""
    pool = candidates or max(50, 4 * k)
    results: dict[str, list[tuple[Document, float]]] = {}
    text_addresses = [f.address for f in collection.features if f.type is FeatureType.TEXT]
    bm25: Future[list[tuple[Document, float]]] | None = None
    if text_addresses and query.strip():
        # BM25 runs in Lance's native code beside the query embedding; the embedder stays on
        # this thread, since torch's thread pools contend when called from several threads
        bm25 = _BM25.submit(store.text_search, collection.id, query, pool, text_addresses, where)
    for address, embed in (embedders or {}).items():
        vector = embed(query)
        results[f"vector:{address}"] = store.vector_search(
            collection.id, address, vector, pool, where
        )
    if bm25 is not None:
        results["bm25"] = bm25.result()
    return fuse(results, query, k)


def fuse(results: Mapping[str, list[tuple[Document, float]]], query: str, k: int) -> list[Hit]:
    """RRF over named result lists → hits with per-list provenance and a snippet."""
    documents: dict[str, Document] = {}
    parts: dict[str, dict[str, StageScore]] = {}
    for name, ranked in results.items():
        for rank, (document, score) in enumerate(ranked, start=1):
            documents.setdefault(document.id, document)
            parts.setdefault(document.id, {})[name] = StageScore(score=score, rank=rank)
    fused = reciprocal_rank_fusion({name: [d.id for d, _ in r] for name, r in results.items()})
    hits = []
    for rank, (doc_id, score) in enumerate(fused[:k], start=1):
        document = documents[doc_id]
        provenance = {**parts[doc_id], "rrf": StageScore(score=score, rank=rank)}
        hits.append(to_hit(document, score, query, provenance))
    return hits


def to_hit(document: Document, score: float, query: str, provenance: dict[str, StageScore]) -> Hit:
    return Hit(
        id=document.id,
        score=score,
        object_id=document.object_id,
        source=document.source,
        kind=document.kind,
        key=document.key,
        page=document.page,
        start_s=document.start_s,
        end_s=document.end_s,
        snippet=snippet(document.text(), query),
        metadata=document.metadata,
        provenance=provenance,
    )
