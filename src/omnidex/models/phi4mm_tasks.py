"""Speech recognition, page reading and summaries asked of Phi-4-multimodal, on either backend.

The engines here turn a :class:`~omnidex.models.prompts.Generator` into the engine interfaces the
extractors already use for pocketsphinx and tesseract. The generator is made on first use by the
factory they are given, so building an engine stays cheap.

- :class:`Phi4SpeechEngine` cuts audio into windows of at most 30 s at pauses (the length Phi-4
  was trained to transcribe), transcribes every window of every clip in one batched call, and
  maps each window back to the source's timeline. Phi-4 gives no word times: a transcript's
  ``words`` are its windows, each with its text and time range.
- :class:`Phi4OcrEngine` reads the text of images and pages; it has no boxes or confidences.
- :func:`summarize_speech` summarizes long audio: windows of up to 30 minutes each with the speech
  adapter, and the window summaries merged by the language model when there are several.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from omnidex.models.phi4mm import fit_image
from omnidex.models.prompts import SAMPLE_RATE, Generator, Prompt
from omnidex.models.speech import TimedWord, Transcript, speech_windows
from omnidex.models.tesseract import OcrResult

if TYPE_CHECKING:
    from PIL import Image

ASR_INSTRUCTION = "Transcribe the audio clip into text."
OCR_INSTRUCTION = (
    "Read all the text in the image, in reading order, line by line. Answer with the text only, "
    "and with nothing if the image has no text."
)
SUMMARY_INSTRUCTION = "Summarize the audio: what is discussed, what is decided, and by whom."
MERGE_INSTRUCTION = (
    "These are summaries of consecutive parts of one recording. Write one summary of the whole "
    "recording from them:\n\n{parts}"
)
MAX_ASR_WINDOW_S = 30.0
MAX_SUMMARY_WINDOW_S = 1800.0
"""Phi-4-multimodal summarizes up to 30 minutes of audio in one request."""
SILENT_PEAK = 1e-3
"""A window whose loudest sample is under -60 dBFS is silence: it is not sent to the model."""
MIN_SPEECH_S = 0.1


def audible(samples: np.ndarray) -> bool:
    """Whether ``samples`` are long and loud enough to hold speech."""
    return (
        samples.size >= MIN_SPEECH_S * SAMPLE_RATE and float(np.abs(samples).max()) >= SILENT_PEAK
    )


class Phi4SpeechEngine:
    """Speech to text with Phi-4-multimodal's speech adapter, windows timed in the source."""

    name = "phi4mm"

    def __init__(
        self,
        generator: Callable[[], Generator],
        *,
        language: str = "en-us",
        max_window_s: float = MAX_ASR_WINDOW_S,
        max_new_tokens: int = 512,
    ) -> None:
        self._generator = generator
        self.language = language
        self.max_window_s = max_window_s
        self.max_new_tokens = max_new_tokens

    def check(self) -> None:
        self._generator().check(["speech"])

    def transcribe(self, samples: np.ndarray, offset_s: float = 0.0) -> Transcript:
        return self.transcribe_many([(samples, offset_s)])[0]

    def transcribe_many(self, clips: Sequence[tuple[np.ndarray, float]]) -> list[Transcript]:
        """The transcript of each ``(samples, offset_s)`` clip; all windows in one batched call."""
        windows: list[tuple[int, float, float]] = []  # (clip, start_s, end_s)
        prompts: list[Prompt] = []
        for number, (samples, offset_s) in enumerate(clips):
            samples = np.asarray(samples, dtype=np.float32)
            for start, end in speech_windows(samples, self.max_window_s):
                if audible(piece := samples[start:end]):
                    windows.append(
                        (number, offset_s + start / SAMPLE_RATE, offset_s + end / SAMPLE_RATE)
                    )
                    prompts.append(
                        Prompt(ASR_INSTRUCTION, audio=piece, max_new_tokens=self.max_new_tokens)
                    )
        texts = self._generator().generate(prompts) if prompts else []
        words: list[list[TimedWord]] = [[] for _ in clips]
        for (number, start_s, end_s), text in zip(windows, texts, strict=True):
            if text:
                words[number].append(TimedWord(text, round(start_s, 3), round(end_s, 3)))
        return [Transcript.from_words(timed, self.language) for timed in words]


class Phi4OcrEngine:
    """The text of images and pages, read by Phi-4-multimodal's vision adapter."""

    def __init__(
        self,
        generator: Callable[[], Generator],
        *,
        max_side: int = 1792,
        max_crops: int = 16,
        max_new_tokens: int = 1024,
        instruction: str = OCR_INSTRUCTION,
    ) -> None:
        self._generator = generator
        self.max_side = max_side
        self.max_crops = max_crops
        self.max_new_tokens = max_new_tokens
        self.instruction = instruction

    def check(self) -> None:
        self._generator().check(["vision"])

    def read(self, image: Image.Image) -> OcrResult:
        return self.read_many([image])[0]

    def read_many(self, images: Sequence[Image.Image]) -> list[OcrResult]:
        prompts = [
            Prompt(
                self.instruction,
                images=(fit_image(image, self.max_side),),
                max_new_tokens=self.max_new_tokens,
                max_crops=self.max_crops,
            )
            for image in images
        ]
        return [OcrResult(text=text) for text in self._generator().generate(prompts)]


def summarize_speech(
    generator: Generator,
    clips: Sequence[np.ndarray],
    *,
    instruction: str = SUMMARY_INSTRUCTION,
    max_new_tokens: int = 512,
    max_window_s: float = MAX_SUMMARY_WINDOW_S,
) -> list[str]:
    """A summary of each clip ("" for silence): one request per window of at most
    ``max_window_s``, then one text-only request that merges a clip's window summaries."""
    owners: list[int] = []
    prompts: list[Prompt] = []
    for number, samples in enumerate(clips):
        for start, end in speech_windows(np.asarray(samples, dtype=np.float32), max_window_s):
            if audible(piece := samples[start:end]):
                owners.append(number)
                prompts.append(Prompt(instruction, audio=piece, max_new_tokens=max_new_tokens))
    parts: list[list[str]] = [[] for _ in clips]
    for number, text in zip(owners, generator.generate(prompts) if prompts else [], strict=True):
        if text:
            parts[number].append(text)
    merged = {
        number: Prompt(
            MERGE_INSTRUCTION.format(parts="\n\n".join(texts)), max_new_tokens=max_new_tokens
        )
        for number, texts in enumerate(parts)
        if len(texts) > 1
    }
    answers = dict(zip(merged, generator.generate(list(merged.values())), strict=True))
    return [answers.get(number, texts[0] if texts else "") for number, texts in enumerate(parts)]
