"""Scene splitting speed and accuracy: omnidex's detector vs PySceneDetect vs a bare decode.

Encodes a 60 s 1080p30 H.264 clip with 20 hard cuts at known frames (panning textures, so every
shot moves), then measures on it, in frames per second of video:

(a) a bare PyAV decode of every frame at full size, nothing converted, with frame threads and with
    slice threads, the faster of the two;
(b) PySceneDetect's AdaptiveDetector through its own API (OpenCV backend, its auto downscale);
(c) omnidex ``split="scene"`` through its real path (``segment_av``): the sandboxed child probes,
    indexes the packets, decodes the reference frames to find candidate cuts, then decodes every
    frame around each candidate for the adaptive content detector and the keyframe candidates of
    each scene, and encodes a keyframe and a 640 px thumbnail per scene
    (``omnidex.segment.scene_scan``).

It also makes a 10-minute clip (the 60 s one remuxed ten times, no re-encode) and reports the peak
RSS of the child process that segments it with (c), goal < 1 GB.

Prints one JSON line: the fps of each, the ratios c/b and c/a, and the precision and recall of
(b) and (c) against the known cuts (a cut counts when within one frame).

PySceneDetect pulls in OpenCV, which does not belong in omnidex's environment. Install it in a
throwaway one (``pip install --no-deps scenedetect`` plus ``opencv-python-headless numpy av
platformdirs click tqdm``) and pass its interpreter with ``--scenedetect-python``; without it
(b) is skipped with a message saying so.

    python benchmarks/segmentation.py [--scenedetect-python /tmp/sd/bin/python]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FPS = 30
SECONDS = 60
SIZE = (1920, 1080)
N_CUTS = 20
SMALL_WIDTH = 256


def known_cuts(seed: int = 0) -> list[int]:
    """20 cut frames in 60 s at 30 fps, shots 1.5 s or longer."""
    rng = np.random.default_rng(seed)
    n_frames, shortest = FPS * SECONDS, 45
    slack = n_frames - shortest * (N_CUTS + 1)
    extra = np.diff(np.sort(rng.integers(0, slack, N_CUTS + 2)))[: N_CUTS + 1]
    lengths = shortest + extra
    return [int(c) for c in np.cumsum(lengths)[:N_CUTS]]


def shot_texture(rng: np.random.Generator) -> np.ndarray:
    """A blocky random texture in one shot's palette, wide enough to pan across."""
    width, height = SIZE
    tint = rng.integers(40, 216, size=3)
    blocks = rng.integers(-40, 41, size=(height // 40, (width + 8 * 300) // 40, 3))
    texture = np.clip(blocks + tint, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(texture, 40, axis=0), 40, axis=1)


def encode_clip(path: Path, cuts: list[int]) -> None:
    """Write the clip: each shot pans its own texture 8 px per frame."""
    import av

    rng = np.random.default_rng(1)
    bounds = [0, *cuts, FPS * SECONDS]
    width, height = SIZE
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for start, end in itertools.pairwise(bounds):
            texture = shot_texture(rng)
            for t in range(end - start):
                rgb = np.ascontiguousarray(texture[:, 8 * t : 8 * t + width])
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                container.mux(stream.encode(frame))
        container.mux(stream.encode())


def bare_decode(path: Path, threads: str) -> int:
    """(a): decode every frame with FFmpeg's ``threads`` type, convert nothing; the frame count."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = threads
        return sum(1 for _ in container.decode(stream))


def fastest_bare_decode(path: Path) -> tuple[int, float]:
    """(a) with frame threads and with slice threads (which one wins depends on how the file was
    encoded: one slice per frame or several); the faster of the two."""
    runs = [timed(bare_decode, path, threads) for threads in ("AUTO", "SLICE")]
    return min(runs, key=lambda run: run[1])


def omnidex_cuts(path: Path) -> list[int]:
    """(c): omnidex's scene split, keyframes and thumbnails included; the first frame of each
    scene after the first is a cut."""
    from omnidex.config import Settings
    from omnidex.segment.av_objects import segment_av
    from omnidex.types import SegmentationSpec

    with tempfile.TemporaryDirectory() as workdir:
        segments = segment_av(
            object_id="bench",
            path=path,
            source=str(path),
            settings=Settings.from_env(),
            segmentation=SegmentationSpec(),
            workdir=Path(workdir),
        )
    assert all(s.thumbnail and s.image is not None for s in segments)
    return [s.start_frame for s in segments[1:] if s.start_frame is not None]


def repeat_clip(path: Path, out: Path, times: int) -> None:
    """``times`` copies of ``path`` back to back, by remuxing packets with shifted timestamps."""
    import av

    with av.open(str(path)) as source, av.open(str(out), "w") as sink:
        stream = sink.add_stream_from_template(source.streams.video[0])
        packets = [p for p in source.demux(source.streams.video[0]) if p.dts is not None]
        span = max(p.pts for p in packets if p.pts is not None) + packets[0].duration
        for copy in range(times):
            for packet in packets:
                packet.pts = packet.pts + span if copy and packet.pts is not None else packet.pts
                packet.dts = packet.dts + span if copy else packet.dts
                packet.stream = stream
                sink.mux(packet)


def peak_child_rss_mb(path: Path) -> float:
    """Peak RSS of omnidex's segmenting child on ``path``; run before any other child process."""
    import resource

    omnidex_cuts(path)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def scenedetect_cuts(path: Path) -> list[int]:
    """(b): PySceneDetect's AdaptiveDetector with its defaults, through its own API."""
    from scenedetect import AdaptiveDetector, SceneManager, open_video

    manager = SceneManager()
    manager.add_detector(AdaptiveDetector())
    manager.detect_scenes(open_video(str(path)))
    return [start.frame_num for start, _ in manager.get_scene_list()[1:]]


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def precision_recall(found: list[int], truth: list[int]) -> tuple[float, float]:
    """Matches within one frame, each true cut matched at most once."""
    unmatched = list(truth)
    hits = 0
    for cut in found:
        match = next((t for t in unmatched if abs(t - cut) <= 1), None)
        if match is not None:
            unmatched.remove(match)
            hits += 1
    return hits / len(found) if found else 0.0, hits / len(truth)


def run_scenedetect(path: Path, python: str | None) -> tuple[list[int], float] | None:
    """(b) here if scenedetect imports, else in ``python``; None (with a message) when neither."""
    try:
        import scenedetect  # noqa: F401
    except ImportError:
        if python is None:
            print(
                "scenedetect is not importable: (b) skipped. Install it in a separate venv and "
                "pass --scenedetect-python (see this script's docstring).",
                file=sys.stderr,
            )
            return None
        command = [python, __file__, "--scenedetect-only", str(path)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        return result["cuts"], result["seconds"]
    return timed(scenedetect_cuts, path)


def measure(python: str | None) -> dict[str, Any]:
    truth = known_cuts()
    with tempfile.TemporaryDirectory() as tmp:
        clip, long_clip = Path(tmp) / "clip.mp4", Path(tmp) / "clip-10min.mp4"
        encode_clip(clip, truth)
        repeat_clip(clip, long_clip, 10)
        rss_mb = peak_child_rss_mb(long_clip)
        n_frames, bare_s = fastest_bare_decode(clip)
        ours, ours_s = timed(omnidex_cuts, clip)
        theirs = run_scenedetect(clip, python)
    result: dict[str, Any] = {
        "benchmark": "segmentation",
        "frames": n_frames,
        "true_cuts": len(truth),
        "a_decode_fps": round(n_frames / bare_s, 1),
        "c_omnidex_fps": round(n_frames / ours_s, 1),
        "ratio_c_over_a": round(bare_s / ours_s, 3),
        "c_peak_rss_mb_10min_1080p": round(rss_mb, 1),
    }
    result["c_precision"], result["c_recall"] = precision_recall(ours, truth)
    if theirs is not None:
        cuts, seconds = theirs
        result["b_scenedetect_fps"] = round(n_frames / seconds, 1)
        result["ratio_c_over_b"] = round(seconds / ours_s, 3)
        result["b_precision"], result["b_recall"] = precision_recall(cuts, truth)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenedetect-python", help="interpreter that can import scenedetect")
    parser.add_argument("--scenedetect-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenedetect_only:
        cuts, seconds = timed(scenedetect_cuts, args.scenedetect_only)
        print(json.dumps({"cuts": cuts, "seconds": seconds}))
        return
    print(json.dumps(measure(args.scenedetect_python)))


if __name__ == "__main__":
    main()
