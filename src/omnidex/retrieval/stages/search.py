"""``feature_search``: vector and BM25 searches over the retriever's collections, fused.

Each search names a feature: a vector feature (``text_embedding@v1/vector``) is searched by
cosine similarity with the query embedded by the extractor that made those vectors (never another
model), whatever kind of query that extractor takes (text, an image: its ``QueryEncoder``); text
features (``ocr@v1/text``, a list of them, or ``text`` for all) by BM25, with a text query. A
search's ``query`` is the run's default query unless set; set to an input that was not given, the
search finds nothing. A filter
stage before the search is pushed into the store's query; after candidates exist, a search looks
only among them. Every search's score and rank lands in each candidate's provenance as
``<stage>/<search>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from pydantic import BaseModel, ConfigDict, Field

from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.fusion import RRF_K, FusionMethod, fuse
from omnidex.retrieval.stage import Stage
from omnidex.store.filters import And, Filter, In
from omnidex.store.filters import Field as FilterField
from omnidex.types import (
    CollectionInfo,
    Document,
    FeatureType,
    QueryValue,
    StageScore,
    query_kind,
)

ALL_TEXT = "text"
_TEXT_SEARCHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="omnidex-bm25")


MAX_TOP_K = 1000
"""The most candidates one search, or the fused result, holds."""


class SearchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str | list[str] = Field(min_length=1)
    """A vector feature address, or text feature addresses (``text``: all) for BM25."""
    query: QueryValue = None
    """What to search for (text, or an image for a vector feature whose extractor embeds image
    queries); by default the retriever's first text input given, else its first image input."""
    top_k: int = Field(50, ge=1, le=MAX_TOP_K)
    weight: float = Field(1.0, gt=0)
    min_score: float | None = None
    name: str | None = None


class FeatureSearchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    searches: list[SearchParams] = Field(min_length=1)
    fusion: FusionMethod = "rrf"
    rrf_k: int = Field(RRF_K, ge=1)
    top_k: int = Field(100, ge=1, le=MAX_TOP_K)


class FeatureSearch(Stage):
    type = "feature_search"
    Params = FeatureSearchParams
    searches = True
    params: FeatureSearchParams

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        for i, search in enumerate(self.params.searches):
            field = f"params.searches[{i}].feature"
            for address in _addresses(search):
                if address == ALL_TEXT:
                    continue
                found = [s.info.feature(address) for s in sources if s.info.feature(address)]
                if not found:
                    raise self.fail(field, f"no collection of this retriever has {address!r}")
                if any(f.type not in (FeatureType.TEXT, FeatureType.VECTOR) for f in found if f):
                    raise self.fail(field, f"{address!r} is neither a text nor a vector feature")
                vector = any(f.type is FeatureType.VECTOR for f in found if f)
                if vector and isinstance(search.feature, list):
                    raise self.fail(field, "a vector search takes one feature")
                if vector and not any(address in s.encoders for s in sources):
                    raise self.fail(field, f"no extractor can embed a query for {address!r}")
            self._check_query(i, search, sources)

    def _check_query(self, i: int, search: SearchParams, sources: Sequence[Source]) -> None:
        """The kind of query a search gets (a sample of its input) must be one it can search
        with: text for BM25; for a vector feature, a kind its extractor embeds."""
        if "query" not in search.model_fields_set or search.query is None:
            return
        field = f"params.searches[{i}].query"
        kind = query_kind(search.query)
        if kind is None:
            raise self.fail(field, "a query is text or an image")
        if not _is_vector(search, sources):
            if kind != "text":
                raise self.fail(field, f"a BM25 search takes text, not an {kind}")
            return
        address = str(search.feature)
        takes = {
            k for s in sources if address in s.encoders for k in s.encoders[address].query_kinds()
        }
        if kind not in takes:
            raise self.fail(
                field,
                f"the extractor of {address!r} embeds {' and '.join(sorted(takes))} queries, "
                f"not {kind} ones",
            )

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        where = _restricted(context.pending_filter, candidates)
        context.pending_filter = None
        pending: dict[str, Future[list[tuple[Candidate, float]]]] = {}
        ranked: dict[str, list[tuple[Candidate, float]]] = {}
        for search in self.params.searches:  # BM25 runs in Lance's native code meanwhile
            if not _is_vector(search, context.sources):
                pending[_name(search)] = _TEXT_SEARCHES.submit(_text, context, search, where)
        for search in self.params.searches:
            if _is_vector(search, context.sources):
                ranked[_name(search)] = _vector(context, search, where)
        ranked.update({name: future.result() for name, future in pending.items()})
        return self._fused(ranked, {c.id: c for c in candidates})

    def _fused(
        self, ranked: dict[str, list[tuple[Candidate, float]]], earlier: dict[str, Candidate]
    ) -> list[Candidate]:
        """One candidate per document (the earlier one, with its provenance, when there was
        one), scored by fusion, best first."""
        by_id: dict[str, Candidate] = dict(earlier)
        for name, found in ranked.items():
            for rank, (candidate, score) in enumerate(found, start=1):
                kept = by_id.setdefault(candidate.id, candidate)
                kept.provenance[f"{self.id}/{name}"] = StageScore(score=score, rank=rank)
                kept.matched.append(name)
        weights = {_name(s): s.weight for s in self.params.searches}
        lists = {name: [(c.id, score) for c, score in found] for name, found in ranked.items()}
        fused = fuse(lists, self.params.fusion, weights, self.params.rrf_k)
        out = []
        for doc_id, score in fused[: self.params.top_k]:
            by_id[doc_id].score = score
            out.append(by_id[doc_id])
        return out


def _addresses(search: SearchParams) -> list[str]:
    return [search.feature] if isinstance(search.feature, str) else list(search.feature)


def _name(search: SearchParams) -> str:
    if search.name:
        return search.name
    if isinstance(search.feature, str) and search.feature != ALL_TEXT:
        return search.feature
    return "bm25:" + ",".join(_addresses(search))


def _is_vector(search: SearchParams, sources: Sequence[Source]) -> bool:
    if not isinstance(search.feature, str):
        return False
    return any(
        (f := s.info.feature(search.feature)) is not None and f.type is FeatureType.VECTOR
        for s in sources
    )


def _query(context: RunContext, search: SearchParams) -> QueryValue:
    """The search's own query when set (None: an input not given), else the run's default."""
    return search.query if "query" in search.model_fields_set else context.default_query


def _given(query: QueryValue) -> bool:
    return query is not None and not (isinstance(query, str) and not query.strip())


def _restricted(where: Filter | None, candidates: list[Candidate]) -> Filter | None:
    """Search only among the candidates there are, if any."""
    if not candidates:
        return where
    among = In(FilterField("id"), tuple(c.id for c in candidates))
    return among if where is None else And((where, among))


def _vector(
    context: RunContext, search: SearchParams, where: Filter | None
) -> list[tuple[Candidate, float]]:
    address, query = str(search.feature), _query(context, search)
    if not _given(query):
        return []
    found: list[tuple[Candidate, float]] = []
    for source in context.sources:
        encoder = source.encoders.get(address)
        if encoder is None or query_kind(query) not in encoder.query_kinds():
            continue
        vector = encoder.embed_queries([query])[0]
        hits = context.store.vector_search(source.info.id, address, vector, search.top_k, where)
        found += _candidates(hits, source.info, search)
    return sorted(found, key=lambda pair: -pair[1])[: search.top_k]


def _text(
    context: RunContext, search: SearchParams, where: Filter | None
) -> list[tuple[Candidate, float]]:
    query = _query(context, search)
    if not isinstance(query, str) or not query.strip():
        return []
    found: list[tuple[Candidate, float]] = []
    for source in context.sources:
        texts = [f.address for f in source.info.features if f.type is FeatureType.TEXT]
        wanted = _addresses(search)
        addresses = texts if ALL_TEXT in wanted else [a for a in wanted if a in texts]
        if not addresses:
            continue
        hits = context.store.text_search(source.info.id, query, search.top_k, addresses, where)
        found += _candidates(hits, source.info, search)
    return sorted(found, key=lambda pair: -pair[1])[: search.top_k]


def _candidates(
    hits: list[tuple[Document, float]], info: CollectionInfo, search: SearchParams
) -> list[tuple[Candidate, float]]:
    return [
        (Candidate(document, info, score), score)
        for document, score in hits
        if search.min_score is None or score >= search.min_score
    ]
