"""The retriever executor: check a spec when it is saved, bind inputs, run the stages, explain.

:func:`build_retriever` checks everything a spec refers to before it is stored — stage types,
params (with a sample value of each declared input), inputs the params mention, features of the
collections — raising InvalidSpecError whose ``field`` names the stage and parameter
(``stages[1].params.searches[0].feature``). :meth:`Retriever.run` binds the inputs, runs each stage
on the candidates of the one before, records every stage's score and rank for each candidate it
returns, and reports per-stage timings and candidate counts.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from omnidex.config import Limits
from omnidex.errors import InvalidSpecError
from omnidex.media.images import as_image
from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.stage import Stage, available
from omnidex.retrieval.templates import references
from omnidex.store.documents import DocumentStore
from omnidex.store.filters import Filter
from omnidex.types import InputSpec, RetrievalResult, RetrieverSpec, StageReport, StageScore

if TYPE_CHECKING:
    from PIL import Image

_SAMPLES: dict[str, object] = {
    "text": "sample query",
    "string": "sample",
    "number": 1,
    "boolean": True,
    "date": "2024-01-01",
}


class Retriever:
    """A checked retriever spec over its collections, ready to run."""

    def __init__(self, spec: RetrieverSpec, sources: Sequence[Source], store: DocumentStore):
        self.spec = spec
        self.sources = list(sources)
        self.store = store
        self.stage_ids = _stage_ids(spec)
        self._check()

    def run(
        self, inputs: Mapping[str, Any] | None = None, where: Filter | None = None
    ) -> RetrievalResult:
        """Run the stages; ``where`` is one more filter, pushed into the first search."""
        bound = bind_inputs(self.spec, inputs or {})
        given = {
            t: [bound[n] for n, i in self.spec.inputs.items() if i.type == t and bound[n]]
            for t in ("text", "image")
        }
        query = str(given["text"][0]) if given["text"] else ""
        context = RunContext(
            self.store,
            self.sources,
            bound,
            query=query,
            default_query=query or next(iter(given["image"]), None),
            pending_filter=where,
        )
        candidates: list[Candidate] = []
        reports = []
        started = time.perf_counter()
        for index, stage in enumerate(self._stages(bound)):
            begin, before, notes = time.perf_counter(), len(candidates), len(context.notes)
            candidates = stage.run(context, candidates)
            context.searched = context.searched or stage.searches
            for rank, candidate in enumerate(candidates, start=1):
                candidate.provenance[stage.id] = StageScore(score=candidate.score, rank=rank)
            reports.append(
                StageReport(
                    id=stage.id,
                    type=self.spec.stages[index].type,
                    ms=(time.perf_counter() - begin) * 1000,
                    candidates_in=before,
                    candidates_out=len(candidates),
                    notes=context.notes[notes:],
                )
            )
        return RetrievalResult(
            hits=[c.to_hit(query) for c in candidates],
            stages=reports,
            total_ms=(time.perf_counter() - started) * 1000,
        )

    def _stages(self, inputs: Mapping[str, Any]) -> list[Stage]:
        stages = available()
        return [
            stages[spec.type].build(stage_id, stages[spec.type].bind(spec.params, inputs))
            for stage_id, spec in zip(self.stage_ids, self.spec.stages, strict=True)
        ]

    def _check(self) -> None:
        known = available()
        samples = {name: _sample(spec) for name, spec in self.spec.inputs.items()}
        searched = False
        for index, spec in enumerate(self.spec.stages):
            prefix = f"stages[{index}]"
            if spec.type not in known:
                names = ", ".join(sorted(known))
                raise InvalidSpecError(
                    f"{prefix}: unknown stage type {spec.type!r}; known: {names}",
                    field=f"{prefix}.type",
                )
            for path, name in references(spec.params):
                if name not in self.spec.inputs:
                    raise InvalidSpecError(
                        f"{prefix}.{path} refers to input {name!r}, which the retriever does "
                        f"not declare (inputs: {', '.join(self.spec.inputs) or 'none'})",
                        field=f"{prefix}.{path}",
                    )
            try:
                cls = known[spec.type]
                stage = cls.build(self.stage_ids[index], cls.bind(spec.params, samples))
                stage.check(self.sources, samples)
            except InvalidSpecError as exc:
                exc.context["field"] = f"{prefix}.{exc.context.get('field', 'params')}"
                raise
            searched = searched or stage.searches
        if not searched:
            raise InvalidSpecError(
                "a retriever needs a feature_search stage to find candidates", field="stages"
            )


def bind_inputs(spec: RetrieverSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of a run, checked and converted to their declared types, defaults filled."""
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        takes = ", ".join(spec.inputs) or "none"
        raise InvalidSpecError(
            f"unknown input {unknown[0]!r}; this retriever takes: {takes}",
            field=f"inputs.{unknown[0]}",
        )
    bound: dict[str, Any] = {}
    for name, declared in spec.inputs.items():
        value = given.get(name, declared.default)
        if value is None:
            if declared.required:
                raise InvalidSpecError(f"input {name!r} is required", field=f"inputs.{name}")
            bound[name] = None
            continue
        try:
            bound[name] = _convert(declared, value)
        except (TypeError, ValueError) as exc:
            raise InvalidSpecError(
                f"input {name!r} must be a {declared.type}: {exc}", field=f"inputs.{name}"
            ) from None
    return bound


def _convert(declared: InputSpec, value: Any) -> Any:
    kind = declared.type
    if kind in ("text", "string"):
        if not isinstance(value, str):
            raise TypeError(f"got {type(value).__name__}")
        if len(value) > 10_000:
            raise ValueError("longer than 10,000 characters")
        return value
    if kind == "number":
        if isinstance(value, bool):
            raise TypeError("got a boolean")
        number = float(value) if isinstance(value, str) else value
        if not isinstance(number, int | float):
            raise TypeError(f"got {type(value).__name__}")
        return number
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise TypeError(f"got {type(value).__name__}")
        return value
    if kind == "image":
        return query_image(value)
    if kind == "date":
        if isinstance(value, datetime | date):
            return value.isoformat()
        text = str(value)
        datetime.fromisoformat(text)  # checks it is ISO 8601; the text stays as written
        return text
    return value


def _sample(declared: InputSpec) -> object:
    if declared.type == "image":
        from PIL import Image

        return Image.new("RGB", (8, 8))
    return _SAMPLES.get(declared.type, "")


def query_image(value: Any, limits: Limits | None = None) -> Image.Image:
    """An image input as a decoded RGB image within ``limits``: a PIL image, the bytes of an
    image file, or those bytes base64-encoded (its wire form in JSON)."""
    from PIL import Image

    if isinstance(value, str):
        try:
            value = base64.b64decode(value.split(",", 1)[-1], validate=True)
        except ValueError:  # binascii.Error, or characters outside ASCII
            raise ValueError("a string image is the base64 of an image file") from None
    if not isinstance(value, Image.Image | bytes | bytearray):
        raise TypeError(f"got {type(value).__name__}; give an image, its bytes or base64")
    image = value if isinstance(value, Image.Image) else bytes(value)
    return as_image(image, limits or Limits(), "query image")


def _stage_ids(spec: RetrieverSpec) -> list[str]:
    """Each stage's id: as given, else its type, numbered from the second of a type on."""
    ids: list[str] = []
    for stage in spec.stages:
        base = stage.id or stage.type
        candidate, number = base, 2
        while candidate in ids:
            candidate, number = f"{base}#{number}", number + 1
        ids.append(candidate)
    return ids
