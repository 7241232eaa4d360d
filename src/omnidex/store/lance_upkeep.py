"""Upkeep of a Lance table on a budget: compaction by size tiers, index updates when they lag
enough, and cleanup of old versions.

Each ingest writes a few small fragments. Compacting the whole table after each one (what
LanceDB's ``optimize`` does) rewrites every row on every call, and with its old versions kept for
a week the disk grows with the square of the calls. Here compaction is size-tiered, like a binary
counter in base :data:`FANOUT`: a fragment's tier is ``⌊log_FANOUT(rows)⌋``, and only when
:data:`FANOUT` fragments at the end of the table are of one tier or lower are those merged into
one (of a higher tier). Each row is therefore rewritten about once per tier, ``log_FANOUT`` of
the table's rows times in all, and most calls compact nothing. A fragment whose deleted rows pass
:data:`DELETED_SHARE` is rewritten without them. Indexes, which are rewritten whole when new rows
are added to them, are brought up to date only when the rows they miss grow past a share of
those they hold (:func:`fold_into_indexes`).

Versions older than the retention window (:data:`KEEP_VERSIONS_FOR`) are deleted, with the files
only they refer to. A reader reads the version it opened (a search takes seconds); the window
keeps that version's files on disk while it does.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

FANOUT = 8
"""Fragments of one tier that are merged into one of the next."""
DELETED_SHARE = 0.1
"""A fragment with more than this share of its rows deleted is rewritten without them."""
FOLD_ROWS = 10_000
"""An index is brought up to date once this many rows are not in it (or a FANOUT-th of it)."""
KEEP_VERSIONS_FOR = timedelta(minutes=5)
"""How long an old version stays readable after a newer one replaced it."""


def tier(rows: int) -> int:
    """``⌊log_FANOUT(rows)⌋`` (0 for an empty fragment)."""
    level = 0
    while rows >= FANOUT:
        rows //= FANOUT
        level += 1
    return level


def merge_group(rows: Sequence[int]) -> list[int]:
    """Positions of the fragments (rows of each, in table order) to merge: the shortest run at
    the end of :data:`FANOUT` or more fragments of one tier or lower; empty when there is none."""
    tiers = [tier(n) for n in rows]
    for level in sorted(set(tiers)):
        start = len(tiers)
        while start > 0 and tiers[start - 1] <= level:
            start -= 1
        if len(tiers) - start >= FANOUT:
            return list(range(start, len(tiers)))
    return []


def compact(dataset: Any) -> bool:
    """Merge the fragments :func:`merge_group` picks and rewrite those with many deleted rows;
    whether anything was rewritten (indexes then follow the rows to their new fragments)."""
    fragments = dataset.get_fragments()
    physical = [f.physical_rows for f in fragments]
    merged = set(merge_group(physical))
    purged = {
        i for i, f in enumerate(fragments) if f.num_deletions > DELETED_SHARE * max(physical[i], 1)
    }
    chosen = merged | purged
    if not chosen:
        return False
    dataset.optimize.compact_files(
        # every chosen fragment is below the target, so each run of them becomes one fragment
        target_rows_per_fragment=sum(physical[i] for i in chosen) + 1,
        materialize_deletions_threshold=DELETED_SHARE,
        excluded_fragment_ids=[f.fragment_id for i, f in enumerate(fragments) if i not in chosen],
    )
    return True


def fold_into_indexes(table: Any) -> None:
    """Add the rows an index does not cover yet to it, for the indexes whose uncovered rows
    reach :data:`FOLD_ROWS` or a :data:`FANOUT`-th of those covered. Folding rewrites the index,
    so the covered rows grow geometrically between folds: the rows written stay a small multiple
    of the table's. Searches read uncovered rows without the index, so they find them meanwhile."""
    stale = []
    for index in table.list_indices():
        stats = table.index_stats(index.name)
        if stats is None or not stats.num_unindexed_rows:
            continue
        lag, covered = stats.num_unindexed_rows, stats.num_indexed_rows
        if lag >= FOLD_ROWS or lag * FANOUT >= covered:
            stale.append(index.name)
    if stale:
        table.to_lance().optimize.optimize_indices(index_names=stale)


def clean(dataset: Any, keep_for: timedelta) -> None:
    """Delete the versions replaced more than ``keep_for`` ago and the files only they use."""
    versions = dataset.versions()  # oldest first; timestamps are naive local times
    cutoff = datetime.now() - keep_for
    replaced = [
        old["version"] for old, new in itertools.pairwise(versions) if new["timestamp"] < cutoff
    ]
    if replaced:
        dataset.cleanup_old_versions(versions=replaced, error_if_tagged_old_versions=False)
