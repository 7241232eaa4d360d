"""Video and audio through the public API: the sample meeting becomes searchable moments.

Real parts throughout: PyAV decoding in the sandbox, the scene detector, tesseract on keyframes,
pocketsphinx on each scene's sound, LanceDB, and a tiny random embedder.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import omnidex
from omnidex.embedded import Collection
from omnidex.samples import MEETING
from omnidex.types import IngestStatus, ObjectStatus

pytest.importorskip("av", reason="video needs PyAV: pip install 'omnidex[video]'")
pytestmark = pytest.mark.usefixtures("needs_tesseract")

SLIDES = json.loads(MEETING.with_suffix(".json").read_text())["slides"]


@pytest.fixture(scope="module")
def pipeline(tiny_embedder_path: Path) -> list[object]:
    return [
        "ocr@v1",
        {"name": "transcription@v1", "params": {"engine": "pocketsphinx"}},
        {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
    ]


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory, pipeline: list[object]) -> Collection:
    db = omnidex.connect(tmp_path_factory.mktemp("data"))
    collection = db.create_collection("meetings", extractors=pipeline)
    result = collection.ingest(MEETING)[0]
    assert result.status is IngestStatus.INGESTED, result.error
    return collection


def test_each_slide_becomes_one_scene_at_its_time(meeting: Collection) -> None:
    scenes = sorted(meeting.documents(), key=lambda d: d.start_s or 0)
    assert len(scenes) == len(SLIDES)
    for scene, slide in zip(scenes, SLIDES, strict=True):
        assert scene.kind == "scene"
        assert scene.start_s == pytest.approx(slide["start_s"], abs=0.15)
        assert scene.end_s == pytest.approx(slide["end_s"], abs=0.15)
        assert scene.start_frame is not None and scene.end_frame is not None
        assert scene.fps == pytest.approx(10.0)
        assert scene.thumbnail and scene.thumbnail[:2] == b"\xff\xd8"
        assert slide["title"].lower() in scene.features["ocr@v1/text"].lower()


def test_each_scene_carries_its_own_words_with_timings(meeting: Collection) -> None:
    scene = meeting.documents(where="start_s >= 33 and end_s <= 42")[0]
    transcript = scene.features["transcription@v1/text"]
    assert "frankfurt" in transcript
    words = scene.features["transcription@v1/words"]
    assert all(scene.start_s <= w["start_s"] <= w["end_s"] <= scene.end_s + 0.05 for w in words)
    assert scene.features["text_embedding@v1/vector"] is not None


def test_speech_only_and_slide_only_facts_find_their_moment(meeting: Collection) -> None:
    spoken = meeting.search("frankfurt facility winter holidays", k=1)[0]  # said, not shown
    assert (spoken.start_s, spoken.end_s) == pytest.approx((33.3, 41.3), abs=0.15)
    shown = meeting.search("security audit findings", k=1)[0]  # shown, never said
    assert (shown.start_s, shown.end_s) == pytest.approx((49.8, 59.9), abs=0.15)
    assert shown.source.endswith("meeting.mp4")


def test_time_split_and_audio_only(tmp_path: Path, pipeline: list[object]) -> None:
    import av

    db = omnidex.connect(tmp_path / "data")
    windows = db.create_collection(
        "windows", extractors=pipeline, segmentation={"split": "time", "window_s": 20}
    )
    windows.ingest(MEETING)
    spans = sorted((d.start_s or 0, d.end_s or 0) for d in windows.documents())
    assert len(spans) == 4 and all(end - start <= 20.01 for start, end in spans)

    wav = tmp_path / "talk.wav"  # the meeting's sound alone
    with av.open(str(MEETING)) as source, av.open(str(wav), "w") as sink:
        out = sink.add_stream("pcm_s16le", rate=16000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        for frame in source.decode(audio=0):
            for chunk in resampler.resample(frame):
                sink.mux(out.encode(chunk))
        sink.mux(out.encode(None))
    audio = db.create_collection("audio", extractors=pipeline)
    result = audio.ingest(wav)[0]
    assert result.status is IngestStatus.INGESTED, result.error
    documents = audio.documents()
    assert documents and {d.kind for d in documents} == {"audio"}
    assert all((d.end_s or 0) - (d.start_s or 0) <= 30.01 for d in documents)
    hit = audio.search("frankfurt facility", k=1)[0]
    assert hit.start_s is not None and hit.start_s <= 36 <= (hit.end_s or 0)


def test_video_without_sound_has_scenes_and_no_transcript(
    tmp_path: Path, pipeline: list[object]
) -> None:
    import av

    silent = tmp_path / "silent.mp4"
    with av.open(str(silent), "w") as sink:
        stream = sink.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for index in range(60):
            shade = 30 if index < 30 else 220  # one hard cut at frame 30
            image = np.full((96, 160, 3), shade, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                sink.mux(packet)
        sink.mux(stream.encode(None))
    db = omnidex.connect(tmp_path / "data")
    collection = db.create_collection("silent", extractors=pipeline)
    assert collection.ingest(silent)[0].status is IngestStatus.INGESTED
    scenes = sorted(collection.documents(), key=lambda d: d.start_s or 0)
    assert [d.start_frame for d in scenes] == [0, 30]
    assert all("transcription@v1/text" not in d.features for d in scenes)


def ivf_declaring(path: Path, width: int, height: int) -> Path:
    header = struct.pack("<4sHH4sHHIIII", b"DKIF", 0, 32, b"VP80", width, height, 25, 1, 1, 0)
    path.write_bytes(header + struct.pack("<IQ", 10, 0) + bytes(10))
    return path


def test_bad_videos_fail_alone_with_a_reason(tmp_path: Path, pipeline: list[object]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    data = MEETING.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "empty.mp4").write_bytes(b"")
    ivf_declaring(folder / "huge.ivf", 8000, 8000)
    (folder / "playlist.m3u8").write_text(f"#EXTM3U\n#EXTINF:2,\n{MEETING}\n#EXT-X-ENDLIST\n")
    (folder / "good.mp4").write_bytes(data)
    collection = omnidex.connect(tmp_path / "data").create_collection("v", extractors=pipeline)
    results = {Path(r.source).name: r for r in collection.ingest(folder)}
    assert results["good.mp4"].status is IngestStatus.INGESTED
    expected = {
        "empty.mp4": "empty_file",
        "huge.ivf": "limit_exceeded",
        "playlist.m3u8": "unsupported_media",
        "truncated.mp4": "corrupt_media",
    }
    assert {name: results[name].error_code for name in expected} == expected
    assert {Path(d.source).name for d in collection.documents()} == {"good.mp4"}
    failed = collection.objects(ObjectStatus.FAILED)
    assert {Path(o.source).name: o.error is not None for o in failed} == dict.fromkeys(
        expected, True
    )
