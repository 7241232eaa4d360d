"""``POST /v1/ask``: visual question answering on one document, when the collection has a Phi-4
extractor configured."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from omnidex.embedded import Database
from omnidex.server.auth import database
from omnidex.server.wire import AskIn, AskOut

router = APIRouter(prefix="/v1", tags=["ask"])


@router.post("/ask")
def ask(body: AskIn, db: Annotated[Database, Depends(database)]) -> AskOut:
    collection = db.collection(body.collection)
    return AskOut(answer=collection.ask(body.document_id, body.question, body.max_new_tokens))
