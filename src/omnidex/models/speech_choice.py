"""The default speech engine: the preferred one when it can run here, else the fallback.

:class:`PreferredEngine` asks its first engine to ``check`` (for whisper: find and load its
model) on first use; when the model does not resolve or the package is missing it logs one
warning that says why and which engine runs instead, and uses the fallback from then on. Its
``name`` is the engine that actually runs, so each document records it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from omnidex.errors import MissingDependencyError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np

    from omnidex.models.speech import SpeechEngine, Transcript

log = logging.getLogger(__name__)


class PreferredEngine:
    """``preferred`` when its ``check`` passes, else ``fallback`` (decided once, on first use)."""

    def __init__(self, preferred: SpeechEngine, fallback: SpeechEngine) -> None:
        self.preferred = preferred
        self.fallback = fallback
        self._chosen: SpeechEngine | None = None
        self.reason: str | None = None
        """Why the preferred engine did not run, once the fallback was chosen."""

    @property
    def name(self) -> str:
        return self._choose().name

    def check(self) -> None:
        self._choose().check()

    def transcribe_many(self, clips: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        return self._choose().transcribe_many(clips)

    def _choose(self) -> SpeechEngine:
        if self._chosen is None:
            try:
                self.preferred.check()
                self._chosen = self.preferred
            except (MissingDependencyError, ModelLoadError) as exc:
                self.reason = str(exc)
                log.warning(
                    "speech: engine %s cannot run here, %s transcribes instead: %s",
                    self.preferred.name,
                    self.fallback.name,
                    exc,
                )
                self._chosen = self.fallback
        return self._chosen
