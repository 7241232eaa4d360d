"""In-memory vector indexes kept beside the Lance tables, so a vector search skips LanceDB's
per-query planning and I/O.

LanceDB stays the source of truth. A process that searches a vector column keeps a faiss index
of that column in memory: exact (``IndexFlatIP``) below :data:`IVF_MIN_VECTORS` vectors, a
spherical IVF-Flat above it (exact cosine within the lists it probes; it probes
:data:`MIN_PROBES` lists or more, enough to scan :data:`MIN_SCANNED` vectors). Its ids stand for
Lance row addresses (fragment id << 32 | offset), and it remembers the table version and the
fragments it reflects.

Every search opens the table's latest version first. When the table moved — a write of this
process, or of any other on the same URI — the index catches up before it answers, fragment by
fragment: fragments that are gone or were rewritten (their data files changed) leave, fragments
whose deletion file changed lose their deleted rows, new fragments are read and added. A search
therefore never returns a deleted or replaced document. A first build over more than
:data:`INLINE_BUILD_VECTORS` vectors, and a catch-up that must read more than
:data:`INLINE_CATCH_UP_VECTORS` (a compaction that merged large fragments means a fresh build), run
on a thread while LanceDB answers, as it does without this index;
:meth:`MemoryIndexes.prepare` builds now. Filters are evaluated by Lance on the same pinned
version (typed metadata columns and their indexes included) into the set of rows the search may
return; when few rows match, every list is scanned, which is exact over them.

Memory: ``4 × dim + 8`` bytes per vector (1.5 GB for 1,000,000 × 384) plus the hit fields held
beside them (document fields and metadata, not features), in every process that searches the
column; nothing is written to disk.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lance
import numpy as np
import pyarrow as pa

log = logging.getLogger(__name__)

IVF_MIN_VECTORS = 20_000
"""From this many vectors on the index is IVF-Flat; below it, exact."""
INLINE_BUILD_VECTORS = 200_000
"""A first build over more vectors than this runs on a thread; LanceDB answers meanwhile."""
INLINE_CATCH_UP_VECTORS = 20_000
"""A catch-up that reads more vectors than this (a compaction that merged large fragments) is a
fresh build on a thread; LanceDB answers meanwhile."""
MIN_PROBES = 16
MIN_SCANNED = 10_000
_EXACT_BELOW = 20
"""Scan every list when fewer than this many matches per wanted hit sit in the probed lists."""
_TRAIN_PER_LIST = 30
_FRAGMENT_BITS = 32


@dataclass(frozen=True)
class _Fragment:
    files: str
    deletions: str


def _fragments(dataset: Any) -> dict[int, _Fragment] | None:
    """Each fragment's data files and deletion file; None when rows carry stable ids, whose
    row ids are not addresses (these tables never enable them)."""
    out = {}
    for fragment in dataset.get_fragments():
        meta = fragment.metadata
        if meta.row_id_meta is not None:
            return None
        files = repr([d.path for d in meta.files]) + repr(meta.overlays)
        deleted = meta.deletion_file
        deletions = "" if deleted is None else f"{deleted.id}@{deleted.read_version}"
        out[fragment.fragment_id] = _Fragment(files, deletions)
    return out


@dataclass
class _State:
    """One column's index at one table version."""

    dataset: Any
    fragments: dict[int, _Fragment]
    index: Any
    lists: int
    """IVF lists; 0 for an exact index."""
    trained: int
    fields: pa.Schema
    """The columns held in memory beside the vectors (what a hit shows, but long texts)."""
    batches: list[pa.Table] = field(default_factory=list)
    """Those columns, one table per read; ``starts`` holds the faiss id of each one's first row."""
    starts: list[int] = field(default_factory=list)
    addresses: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Row addresses of the indexed vectors, sorted; ``labels`` holds their faiss ids."""
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    address_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Row address by faiss id (-1 once removed)."""

    def add(self, addresses: np.ndarray, vectors: np.ndarray, rows: pa.Table) -> None:
        if not len(addresses):
            return
        labels = np.arange(len(self.address_of), len(self.address_of) + len(addresses))
        self.index.add_with_ids(vectors, labels)
        self.batches.append(rows.select(self.fields.names).combine_chunks())
        self.starts.append(len(self.address_of))
        self.address_of = np.concatenate([self.address_of, addresses])
        merged = np.concatenate([self.addresses, addresses])
        order = np.argsort(merged, kind="stable")
        self.addresses = merged[order]
        self.labels = np.concatenate([self.labels, labels])[order]

    def remove(self, keep: np.ndarray) -> None:
        """Drop the vectors whose position in ``addresses`` is False in ``keep``."""
        import faiss

        gone = self.labels[~keep]
        if not len(gone):
            return
        self.index.remove_ids(faiss.IDSelectorBatch(gone))
        self.address_of[gone] = -1
        self.addresses, self.labels = self.addresses[keep], self.labels[keep]

    def fetch(self, labels: np.ndarray) -> pa.Table:
        """The columns held in memory, for these faiss ids, in their order."""
        if not len(labels):
            return self.fields.empty_table()
        starts = np.asarray(self.starts)
        batch = np.searchsorted(starts, labels, side="right") - 1
        parts, positions = [], []
        for b in np.unique(batch):
            at = np.flatnonzero(batch == b)
            parts.append(self.batches[b].take(pa.array(labels[at] - starts[b])))
            positions.append(at)
        back = np.empty(len(labels), dtype=np.int64)
        back[np.concatenate(positions)] = np.arange(len(labels))
        return pa.concat_tables(parts).take(pa.array(back))

    def search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """faiss ids of the best ``k`` among ``allowed`` (all if None), and similarities."""
        import faiss

        probes, bitmap = self.probes(), None
        if allowed is not None:
            count = len(self.addresses)
            at = np.minimum(np.searchsorted(self.addresses, allowed), max(count - 1, 0))
            labels = self.labels[at[self.addresses[at] == allowed]] if count else allowed[:0]
            if not len(labels):
                return labels, np.zeros(0, np.float32)
            mask = np.zeros(len(self.address_of), dtype=bool)
            mask[labels] = True
            bitmap = np.packbits(mask, bitorder="little")
            if len(labels) * probes < _EXACT_BELOW * k * self.lists:
                probes = self.lists  # few matches in the probed lists: scan them all
        selector = (
            None if bitmap is None else faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        )
        while True:
            params: Any = faiss.SearchParametersIVF() if self.lists else faiss.SearchParameters()
            params.sel = selector
            if self.lists:
                params.nprobe = probes
            scores, labels = self.index.search(vector[None, :], k, params=params)
            found = labels[0] >= 0
            if found.all() or probes >= self.lists:
                return labels[0][found], scores[0][found]
            probes = self.lists  # fewer than k matches in the probed lists: scan them all

    def outgrown(self) -> bool:
        """Whether a fresh build would serve better: an exact index past IVF_MIN_VECTORS, an
        IVF one four times the size it was trained at, or more removed vectors than live ones."""
        count = len(self.addresses)
        if not self.lists and count >= IVF_MIN_VECTORS:
            return True
        return (
            bool(self.lists and count > 4 * self.trained) or len(self.address_of) > 2 * count + 1000
        )

    def probes(self) -> int:
        """Lists to probe: at least MIN_PROBES, and enough to scan MIN_SCANNED vectors."""
        if not self.lists:
            return 0
        per_list = max(1.0, len(self.addresses) / self.lists)
        return min(self.lists, max(MIN_PROBES, math.ceil(MIN_SCANNED / per_list)))


def _read(
    dataset: Any, column: str, fields: Sequence[str], fragments: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, pa.Table]:
    """Row addresses, unit vectors and ``fields`` of the rows of ``fragments`` that have a
    vector."""
    found = dataset.scanner(
        columns=[column, *fields],
        filter=f"{column} IS NOT NULL",
        fragments=list(fragments),
        with_row_address=True,
    ).to_table()
    addresses = found["_rowaddr"].to_numpy().astype(np.int64)
    values = found[column].combine_chunks()
    dim = values.type.list_size
    vectors = values.flatten().to_numpy().reshape(-1, dim)
    return addresses, _unit(vectors), found.select(list(fields))


def _unit(vectors: np.ndarray) -> np.ndarray:
    unit = np.array(vectors, dtype=np.float32, order="C")  # one copy, normalized in place
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit /= np.where(norms > 0, norms, 1.0)
    return unit


def _build(
    dataset: Any, column: str, fields: Sequence[str], fragments: dict[int, _Fragment]
) -> _State:
    """A fresh index of every vector of ``column`` at ``dataset``'s version."""
    import faiss

    addresses, vectors, rows = _read(dataset, column, fields, dataset.get_fragments())
    dim = dataset.schema.field(column).type.list_size
    index: Any
    if len(addresses) < IVF_MIN_VECTORS:
        index, lists = faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), 0
    else:
        lists = max(1, round(2 * math.sqrt(len(addresses))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True
        index.cp.niter = 10
        index.cp.min_points_per_centroid = _TRAIN_PER_LIST
        sample = np.random.default_rng(0).choice(
            len(vectors), min(len(vectors), lists * _TRAIN_PER_LIST), replace=False
        )
        index.train(vectors[np.sort(sample)])
    state = _State(dataset, fragments, index, lists, len(addresses), rows.schema)
    state.add(addresses, vectors, rows)
    return state


class _Column:
    """The index of one vector column, kept in step with its table."""

    def __init__(self, uri: str, column: str, fields: Sequence[str]) -> None:
        self.uri, self.column, self.fields = uri, column, tuple(fields)
        self.lock = threading.Lock()
        self.state: _State | None = None
        self.building = False
        self.changes = 0
        """Counts builds and catch-ups, so a thread's build never replaces a newer index."""

    def current(self, wait: bool) -> _State | None:
        """The index at the table's latest version; None while it is built on a thread, or
        when the table cannot be opened here (LanceDB then answers, or says why not)."""
        try:
            latest = lance.dataset(self.uri)
        except (OSError, ValueError, RuntimeError):
            return None
        fragments = _fragments(latest)
        if fragments is None:
            return None
        with self.lock:
            state = self.state
            if state is not None and state.outgrown():
                state = None  # build afresh
            if state is not None and state.fragments == fragments:
                if state.dataset.version != latest.version:
                    state.dataset = latest  # same rows; newer indexes and schema
                return state
            if self.building and not wait:
                return None
            reading = _unread(state, latest, fragments)
            limit = INLINE_BUILD_VECTORS if state is None else INLINE_CATCH_UP_VECTORS
            if sum(f.count_rows() for f in reading) <= limit or wait:
                if state is None:
                    state = _build(latest, self.column, self.fields, fragments)
                else:
                    _catch_up(state, latest, self.column, fragments, reading)
                    if state.outgrown() and (wait or len(state.addresses) <= INLINE_BUILD_VECTORS):
                        state = _build(latest, self.column, self.fields, fragments)
                self.state = state
                self.changes += 1
                return state
            self.building = True
            threading.Thread(
                target=self._rebuild,
                args=(latest, fragments, self.changes),
                name="omnidex-vectors",
                daemon=True,
            ).start()
            return None

    def _rebuild(self, dataset: Any, fragments: dict[int, _Fragment], changes: int) -> None:
        try:
            built: _State | None = _build(dataset, self.column, self.fields, fragments)
        except Exception:  # LanceDB keeps answering; the next search tries again
            log.warning("building the in-memory index of %s failed", self.column, exc_info=True)
            built = None
        with self.lock:
            self.building = False
            if built is not None and self.changes == changes:
                self.state = built  # the next search catches it up if the table moved on
                self.changes += 1


def _unread(state: _State | None, dataset: Any, fragments: dict[int, _Fragment]) -> list[Any]:
    """Fragments of ``dataset`` whose rows the index has not read."""
    known = {} if state is None else state.fragments
    return [
        f
        for f in dataset.get_fragments()
        if f.fragment_id not in known
        or known[f.fragment_id].files != fragments[f.fragment_id].files
    ]


def _catch_up(
    state: _State,
    dataset: Any,
    column: str,
    fragments: dict[int, _Fragment],
    reading: Sequence[Any],
) -> None:
    """Bring ``state`` to ``dataset``'s version, in place."""
    frag_of = state.addresses >> _FRAGMENT_BITS
    keep = np.ones(len(state.addresses), dtype=bool)
    for fragment_id, before in state.fragments.items():
        now = fragments.get(fragment_id)
        here = frag_of == fragment_id
        if now is None or now.files != before.files:
            keep &= ~here
        elif now.deletions != before.deletions:
            live = dataset.scanner(
                columns=[],
                fragments=[dataset.get_fragment(fragment_id)],
                with_row_address=True,
            ).to_table()["_rowaddr"]
            keep &= ~here | np.isin(state.addresses, live.to_numpy().astype(np.int64))
    state.remove(keep)
    if reading:
        state.add(*_read(dataset, column, state.fields.names, reading))
    state.dataset, state.fragments = dataset, fragments


class MemoryIndexes:
    """The in-memory vector indexes of one document store, by table and column."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._columns: dict[tuple[str, str], _Column] = {}

    def _column(self, uri: str, column: str, fields: Sequence[str]) -> _Column:
        with self._lock:
            entry = self._columns.get((uri, column))
            if entry is None:
                entry = self._columns[(uri, column)] = _Column(uri, column, fields)
            return entry

    def forget(self, uri: str) -> None:
        """Drop the indexes of a table (it was dropped)."""
        with self._lock:
            for key in [k for k in self._columns if k[0] == uri]:
                del self._columns[key]

    def prepare(self, uri: str, column: str, fields: Sequence[str]) -> None:
        """Build or catch up the index of ``column`` now, in this thread."""
        self._column(uri, column, fields).current(wait=True)

    def search(
        self,
        uri: str,
        column: str,
        vector: Sequence[float],
        k: int,
        where: str | None,
        columns: Sequence[str],
        fields: Sequence[str],
    ) -> tuple[pa.Table, list[float]] | None:
        """The ``k`` rows nearest ``vector`` by cosine that pass ``where`` (SQL for Lance), with
        their similarities and ``columns``; None when LanceDB should answer instead. The
        ``fields`` among them are held in memory (read once per row), the rest read per search."""
        entry = self._column(uri, column, fields)
        state = entry.current(wait=False)
        query = _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        if state is None or len(query) != state.index.d:
            return None  # LanceDB answers (or says what is wrong with the query)
        allowed = None
        if where is not None:  # rows keep their content while they live at an address
            matching = state.dataset.scanner(columns=[], filter=where, with_row_address=True)
            allowed = matching.to_table()["_rowaddr"].to_numpy().astype(np.int64)
        with entry.lock:  # a catch-up changes the index in place
            state = entry.state or state
            dataset = state.dataset
            labels, scores = state.search(query, k, allowed)
            held = state.fetch(labels)
            addresses = state.address_of[labels]
        rest = [c for c in columns if c not in held.schema.names]
        read = _take(dataset, addresses, rest) if rest else held
        parts = [held if c in held.schema.names else read for c in columns]
        rows = pa.Table.from_arrays(
            [p[c] for p, c in zip(parts, columns, strict=True)],
            schema=pa.schema([p.schema.field(c) for p, c in zip(parts, columns, strict=True)]),
        )
        return rows, [float(s) for s in scores]


def _take(dataset: Any, addresses: np.ndarray, columns: Sequence[str]) -> pa.Table:
    """Rows by address, in the order given."""
    if not len(addresses):
        return dataset.schema.empty_table().select(list(columns))
    order = np.argsort(addresses)
    rows = dataset._take_rows(
        addresses[order].tolist(), columns=list(columns), ignore_deletions=True
    )
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return rows.take(pa.array(back))
