"""The retrieval stage contract and its registry.

A stage is a small class with a ``type`` name and a pydantic ``Params`` model (``extra="forbid"``).
Its constructor is cheap; :meth:`Stage.check` validates what the params refer to (features of
the retriever's collections) when a retriever is saved; :meth:`Stage.warm_up` loads models (kept
per process); and
:meth:`Stage.run` takes the current candidates and returns new ones, setting each one's score.
The executor records each stage's score and rank for every candidate it returns.

Built-in stages register like third-party ones, in the ``omnidex.stages`` entry-point group under
their ``type``.
"""

from __future__ import annotations

import builtins
import functools
import logging
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from omnidex.errors import InvalidSpecError
from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.templates import fill

log = logging.getLogger(__name__)
GROUP = "omnidex.stages"


class Stage:
    type: ClassVar[str]
    Params: ClassVar[builtins.type[BaseModel]]
    searches: ClassVar[bool] = False
    """Whether the stage fetches candidates from the store (filters before it are pushed down)."""

    def __init__(self, stage_id: str, params: BaseModel) -> None:
        self.id = stage_id
        self.params = params

    @classmethod
    def bind(cls, params: dict[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The params with ``{{inputs.name}}`` filled in (a stage may bind some itself)."""
        filled: dict[str, Any] = fill(params, inputs)
        return filled

    @classmethod
    def build(cls, stage_id: str, params: dict[str, Any]) -> Stage:
        """The stage with ``params`` validated; InvalidSpecError naming the bad field."""
        try:
            return cls(stage_id, cls.Params.model_validate(params))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise InvalidSpecError(
                f"stage {stage_id!r} ({cls.type}): params.{where}: {error['msg']}",
                stage=stage_id,
                field=f"params.{where}",
            ) from None

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        """Raise InvalidSpecError (``field`` under ``params``) for references that cannot work;
        ``inputs`` holds a sample value of each declared input's type."""

    def warm_up(self) -> None:
        """Load what the stage needs (a model, kept per process, so a second call is cheap).
        A stage calls it from ``run``; a server may call it ahead of the first query."""

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        raise NotImplementedError

    def fail(self, field: str, why: str) -> InvalidSpecError:
        return InvalidSpecError(
            f"stage {self.id!r} ({self.type}): {field}: {why}", stage=self.id, field=field
        )


@functools.cache
def available() -> dict[str, type[Stage]]:
    """Stage classes by type, from the ``omnidex.stages`` entry points (cached)."""
    found: dict[str, type[Stage]] = {}
    for point in entry_points(group=GROUP):
        try:
            cls = point.load()
        except Exception:
            log.warning("stage entry point %s fails to load", point.name, exc_info=True)
            continue
        if isinstance(cls, type) and issubclass(cls, Stage) and cls.type == point.name:
            found[point.name] = cls
        else:
            log.warning("stage entry point %s does not name a Stage of that type", point.name)
    return found
