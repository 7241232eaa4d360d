"""The extractor registry: built-in and third-party extractors, found through entry points.

Every extractor, built-in or not, registers in the ``omnidex.extractors`` entry-point group under
its reference (``ocr@v1``). :func:`available` loads them once; :func:`create` builds one from an
:class:`~omnidex.types.ExtractorSpec`, raising typed errors that name the culprit field.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from omnidex.errors import InvalidSpecError, UnknownExtractorError
from omnidex.extractors.base import Extractor
from omnidex.types import ExtractorSpec

log = logging.getLogger(__name__)

GROUP = "omnidex.extractors"


@functools.cache
def available() -> dict[str, type[Extractor]]:
    """Extractor classes by reference, from the ``omnidex.extractors`` entry points (cached)."""
    return load_entry_points(entry_points(group=GROUP))


def load_entry_points(points: Iterable[EntryPoint]) -> dict[str, type[Extractor]]:
    """The extractor classes ``points`` name; broken or mismatched ones are skipped, with a log."""
    found: dict[str, type[Extractor]] = {}
    for point in points:
        try:
            cls = point.load()
        except Exception:
            log.warning(
                "extractor entry point %s (%s) fails to load",
                point.name,
                point.value,
                exc_info=True,
            )
            continue
        if not (isinstance(cls, type) and issubclass(cls, Extractor)):
            log.warning(
                "extractor entry point %s names %r, not an Extractor: skipped", point.name, cls
            )
        elif cls.reference() != point.name:
            log.warning(
                "extractor entry point %s names %s whose reference is %s: skipped",
                point.name,
                point.value,
                cls.reference(),
            )
        else:
            found[point.name] = cls
    return found


def create(spec: ExtractorSpec, index: int | None = None) -> Extractor:
    """The extractor ``spec`` names, with its params validated.

    ``index`` is the spec's position in a collection spec; error fields are then prefixed with
    ``extractors[index].``.
    """
    prefix = "" if index is None else f"extractors[{index}]."
    extractors = available()
    if spec.name not in extractors:
        known = ", ".join(sorted(extractors)) or "none"
        raise UnknownExtractorError(
            f"unknown extractor {spec.name!r}; known extractors: {known}",
            extractor=spec.name,
            field=f"{prefix}name",
        )
    try:
        return extractors[spec.name](spec.params)
    except InvalidSpecError as exc:
        exc.context["field"] = prefix + exc.context.get("field", "params")
        raise
