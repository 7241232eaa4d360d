"""``omnidex demo``: build a small sample set, ingest it, and run searches that need each reader.

Everything but one file is made at run time (images that show text, a PDF with two text pages and
one scanned page, a few text files); the recorded meeting (slides and a narrator who says what the
slides do not) ships with the package. All of it is ingested into an embedded collection and
searched; video hits show their time range. The default embedder loads offline (see
docs/models.md), so the demo needs no network.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import hits_table, ingest_summary, ingest_table
from omnidex.errors import NotFoundError
from omnidex.types import DEFAULT_EXTRACTORS

COLLECTION = "demo"

# (query, what can answer it, the sample file that does)
QUERIES = (
    ("where can I buy fresh sourdough bread", "text in a photo (OCR)", "bakery_sign.png"),
    ("how often should the solar panels be cleaned", "a PDF page's text layer", "report.pdf"),
    ("what is the total amount due on the invoice", "a scanned PDF page (OCR)", "report.pdf"),
    ("who will write the postmortem of the outage", "a text file", "meeting_notes"),
    ("which day do we visit Sintra", "a markdown file", "itinerary_lisbon.md"),
    ("servers leaving the Frankfurt facility", "speech in the meeting video", "00:00:33"),
    ("hospital contracts signed in August", "speech in the meeting video", "00:00:00"),
    ("security audit findings", "a slide in the meeting video (OCR)", "00:00:49"),
    ("open roles in engineering", "a slide in the meeting video (OCR)", "00:00:41"),
)


def demo(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("-k", min=1, max=20, help="Hits per search.")] = 3,
) -> None:
    """Build sample media, ingest it and a recorded meeting into a 'demo' collection, search."""
    from omnidex.samples import build_sample_set, sample_meeting

    settings_data = state(ctx).data
    if settings_data is None:
        state(ctx).data = Path(tempfile.mkdtemp(prefix="omnidex-demo-"))
    db = state(ctx).local()
    samples = [*build_sample_set(db.path / "samples"), sample_meeting(db.path / "samples")]
    console.rule("[bold]omnidex demo")
    console.print(f"data folder: {db.path}")
    console.print(f"sample set:  {len(samples)} files in {db.path / 'samples'}")
    try:
        collection = db.collection(COLLECTION)
    except NotFoundError:
        console.print(f"creating collection [bold]demo[/] ({', '.join(DEFAULT_EXTRACTORS)})")
        collection = db.create_collection(COLLECTION)
    started = time.perf_counter()
    with console.status("ingesting…"):
        results = collection.ingest(samples)
    console.print(ingest_table(results))
    console.print(f"{ingest_summary(results)} in {time.perf_counter() - started:.1f} s")
    for query, answerable_from, _ in QUERIES:
        console.print()
        hits = collection.search(query, k=k)
        console.print(hits_table(hits, title=f"🔎 {query!r} — answerable from {answerable_from}"))
    console.print(f'\nTry your own: omnidex --data {db.path} search "..." -c {COLLECTION}')
