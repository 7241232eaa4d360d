"""What a multimodal generator is asked: an instruction with images or audio, and its answer budget.

:class:`Prompt` is the request both Phi-4-multimodal backends take — the in-process runtime
(:mod:`omnidex.models.phi4mm`) and a served model (:mod:`omnidex.models.openai_compat`) — and
:class:`Generator` the protocol they share, so extractors never know which one answers them. A
prompt's :attr:`Prompt.adapter` says which LoRA adapter must be active: ``vision`` for images,
``speech`` for audio, none for text alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

Adapter = Literal["vision", "speech"]
SAMPLE_RATE = 16_000
"""Audio is passed as 16 kHz mono float32 samples in -1..1."""


@dataclass(frozen=True, eq=False)
class Prompt:
    """One request: an instruction, the images or the audio clip it is about, and a token budget.

    A prompt holds images or audio, not both: Phi-4-multimodal activates one LoRA adapter per
    request.
    """

    instruction: str
    images: tuple[Image.Image, ...] = ()
    audio: np.ndarray | None = None
    max_new_tokens: int = 256
    max_crops: int | None = None
    """At most this many high-resolution crops per image (the in-process runtime; a served model
    applies its server's setting). None: the backend's default."""

    def __post_init__(self) -> None:
        if self.images and self.audio is not None:
            raise ValueError("a prompt holds images or audio, not both")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.max_crops is not None and self.max_crops < 1:
            raise ValueError("max_crops must be at least 1")

    @property
    def adapter(self) -> Adapter | None:
        if self.images:
            return "vision"
        if self.audio is not None:
            return "speech"
        return None


class Generator(Protocol):
    """A Phi-4-multimodal backend: answers prompts, in order, greedily."""

    def check(self, adapters: Iterable[Adapter]) -> None:
        """Raise a clear error unless the backend can serve ``adapters`` (loading them first)."""
        ...

    def generate(self, prompts: Sequence[Prompt]) -> list[str]:
        """The generated text of each prompt, in the order given."""
        ...
