"""``omnidex ask DOC_ID "QUESTION" -c NAME``: a question about one image, page or scene."""

from __future__ import annotations

from typing import Annotated

import typer

from omnidex.cli.context import console, state


def ask(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="The document: an image, a PDF page or a scene.")],
    question: Annotated[str, typer.Argument(help="What to ask about its picture.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Its collection.")],
    max_new_tokens: Annotated[
        int, typer.Option(min=1, max=4096, help="Longest answer, in tokens.")
    ] = 256,
) -> None:
    """Ask Phi-4-multimodal about a document, with the collection's Phi-4 model and backend."""
    col = state(ctx).db().collection(collection)
    console.print(col.ask(doc_id, question, max_new_tokens=max_new_tokens), markup=False)
