"""The committed sample meeting video agrees with its ground truth, ``meeting.json``.

Both are built by ``scripts/make_sample_meeting.py``; these checks are fast and need only PyAV.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

av = pytest.importorskip("av")

DATA = Path(str(files("omnidex.sample_data")))
VIDEO = DATA / "meeting.mp4"
TRUTH = DATA / "meeting.json"


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return json.loads(TRUTH.read_text(encoding="utf-8"))


def content_words(text: str) -> set[str]:
    """Lower-case words longer than four letters."""
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 4}


def test_file_is_small_and_shipped_in_the_package() -> None:
    assert VIDEO.is_file()
    assert VIDEO.stat().st_size <= 3 * 1024 * 1024


def test_slides_cover_the_whole_video(truth: dict[str, Any]) -> None:
    slides = truth["slides"]
    assert 6 <= len(slides) <= 10
    assert [s["index"] for s in slides] == list(range(len(slides)))
    assert slides[0]["start_s"] == 0
    for previous, current in pairwise(slides):
        assert current["start_s"] == pytest.approx(previous["end_s"])
    for s in slides:
        assert 8 <= s["end_s"] - s["start_s"] <= 15 + 1e-6, s["title"]
        assert s["start_s"] < s["narration_start_s"] < s["narration_end_s"] <= s["end_s"]
        assert s["title"] and 2 <= len(s["bullets"]) <= 4 and s["narration"]
    assert len({s["title"] for s in slides}) == len(slides)
    assert truth["duration_s"] == pytest.approx(slides[-1]["end_s"])

    with av.open(str(VIDEO)) as container:
        duration = container.duration / av.time_base
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 1280, 720)
        assert audio.codec_context.name == "aac"
    assert duration == pytest.approx(slides[-1]["end_s"], abs=0.25)


def test_narration_is_not_the_slide_text(truth: dict[str, Any]) -> None:
    for s in truth["slides"]:
        shown = content_words(" ".join([s["title"], *s["bullets"]]))
        spoken = content_words(s["narration"])
        assert spoken and not spoken & shown, (s["title"], spoken & shown)


def test_first_slide_frame_is_a_bright_slide(truth: dict[str, Any]) -> None:
    first = truth["slides"][0]
    middle = (first["start_s"] + first["end_s"]) / 2
    with av.open(str(VIDEO)) as container:
        stream = container.streams.video[0]
        container.seek(int(middle * av.time_base))
        frame = next(f for f in container.decode(stream) if f.time >= middle - 1e-6)
        pixels = frame.to_ndarray(format="rgb24")
    assert pixels.shape == (720, 1280, 3)
    assert float(np.mean(pixels)) > 128
    assert float(np.mean(pixels[60:180, 60:700])) < 250  # the dark title is there
