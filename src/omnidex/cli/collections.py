"""``omnidex collection create|list|show|add-extractor|drop``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import collections_table, to_json
from omnidex.errors import InvalidSpecError
from omnidex.types import DEFAULT_EXTRACTORS, IMAGE_EXTRACTOR

EXTRACTOR_HELP = (
    'An extractor, in order: "ocr@v1" or \'{"name": "ocr@v1", "params": {…}}\'. '
    f"Default: {', '.join(DEFAULT_EXTRACTORS)}, and {IMAGE_EXTRACTOR} where its model is found."
)

app = typer.Typer(help="Create, list, show and drop collections.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    name: str,
    extractor: Annotated[
        list[str] | None,
        typer.Option(
            "--extractor",
            "-e",
            help=EXTRACTOR_HELP,
        ),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            help='A JSON pipeline spec: {"extractors": [...], "segmentation": {...}}.',
            dir_okay=False,
        ),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="How video and audio are cut: scene, time or silence.")
    ] = None,
    max_segment_s: Annotated[
        float | None,
        typer.Option(help="Longest segment, at most 3600; longer scenes are split [30]."),
    ] = None,
    min_segment_s: Annotated[
        float | None,
        typer.Option(help="Shortest segment; shorter ones (flicker) are merged [0.25]."),
    ] = None,
    window_s: Annotated[float | None, typer.Option(help="Window of split=time [10].")] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Start from a preset instead: meeting (captions, slides, transcripts)."),
    ] = None,
    phi4: Annotated[
        str | None,
        typer.Option(
            help='Phi-4 options of the preset, JSON: \'{"backend": "openai", "base_url": "…"}\'.'
        ),
    ] = None,
    embedding_model: Annotated[
        str | None, typer.Option(help="Text embedding model of the preset.")
    ] = None,
) -> None:
    """Create a collection with its pipeline of extractors and how it cuts video and audio."""
    if preset is not None:
        if extractor or spec or split or max_segment_s or min_segment_s or window_s:
            raise InvalidSpecError("--preset goes without --extractor, --spec or cut options")
        options = _json_object(phi4, "phi4") if phi4 else None
        made = (
            state(ctx)
            .db()
            .create_collection(name, preset=preset, phi4=options, embedding_model=embedding_model)
        )
        console.print(f"created collection [bold]{made.name}[/] from preset {preset}")
        return
    extractors, segmentation = _spec(extractor, spec)
    options = {
        "split": split,
        "max_segment_s": max_segment_s,
        "min_segment_s": min_segment_s,
        "window_s": window_s,
    }
    segmentation.update({k: v for k, v in options.items() if v is not None})
    collection = state(ctx).db().create_collection(name, extractors, segmentation)
    console.print(
        f"created collection [bold]{collection.name}[/] with "
        f"{[e.name for e in collection.info.spec.extractors]}"
    )


@app.command("list")
def list_(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the collections."""
    db = state(ctx).db()
    infos = db.collections()
    if as_json:
        console.print_json(to_json(infos))
        return
    counts = {info.id: db.document_count(info.name) for info in infos}
    console.print(collections_table(infos, counts))


@app.command()
def show(ctx: typer.Context, name: str) -> None:
    """Show a collection's spec, features and counts."""
    collection = state(ctx).db().collection(name)
    info = collection.info
    console.print(f"[bold]{info.name}[/]  id {info.id}  spec version {info.spec_version}")
    console.print(f"documents: {collection.count()}  objects: {collection.count_objects()}")
    console.print_json(
        json.dumps(
            {
                "spec": info.spec.model_dump(mode="json"),
                "features": [
                    f.model_dump(mode="json", exclude_defaults=True) for f in info.features
                ],
            }
        )
    )


@app.command("add-extractor")
def add_extractor(
    ctx: typer.Context,
    name: str,
    extractor: Annotated[
        str,
        typer.Argument(
            help='"image_embedding@v1" or \'{"name": "image_embedding@v1", "params": {…}}\'.'
        ),
    ],
) -> None:
    """Add an extractor that works from what is stored (image_embedding@v1) and run it over the
    documents already there, without extracting OCR, transcripts or captions again. Run it
    again after an interruption: it resumes; searches use the old spec until it is done."""

    def progress(done: int, total: int, source: str) -> None:
        console.print(f"{done}/{total} {Path(source).name}", highlight=False)
        sys.stdout.flush()

    report = state(ctx).db().collection(name).add_extractor(_extractor(extractor), progress)
    for source, reason in report.failed.items():
        console.print(f"[red]failed[/] {source}: {reason}", highlight=False)
    resumed = f", {report.already_done} done before" if report.already_done else ""
    console.print(
        f"{report.extractor}: {report.embedded} objects embedded ({report.documents} documents)"
        f"{resumed}; {len(report.failed)} failed; spec version {report.spec_version}",
        highlight=False,
    )
    if report.failed:
        raise typer.Exit(1)


@app.command()
def drop(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Drop a collection with all its objects and documents."""
    if not yes:
        typer.confirm(f"Drop collection {name!r} and all its documents?", abort=True)
    state(ctx).db().drop_collection(name)
    console.print(f"dropped collection [bold]{name}[/]")


def _spec(items: list[str] | None, spec: Path | None) -> tuple[list[Any] | None, dict[str, Any]]:
    """Extractors and segmentation options from ``--spec`` or the ``-e`` options."""
    if spec is None:
        return ([_extractor(item) for item in items] if items else None), {}
    try:
        loaded = json.loads(spec.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidSpecError(f"cannot read spec {spec}: {exc}", field="spec") from None
    if not isinstance(loaded, dict) or "extractors" not in loaded:
        raise InvalidSpecError('a spec file holds {"extractors": [...]}', field="spec")
    segmentation = loaded.get("segmentation") or {}
    if not isinstance(segmentation, dict):
        raise InvalidSpecError("segmentation must be an object", field="segmentation")
    return list(loaded["extractors"]), segmentation


def _extractor(item: str) -> Any:
    if not item.lstrip().startswith("{"):
        return item
    try:
        return json.loads(item)
    except ValueError as exc:
        raise InvalidSpecError(
            f"--extractor {item!r} is not valid JSON: {exc}", field="extractor"
        ) from None


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidSpecError(f"--{option} is not valid JSON: {exc}", field=option) from None
    if not isinstance(value, dict):
        raise InvalidSpecError(f"--{option} must be a JSON object", field=option)
    return value
