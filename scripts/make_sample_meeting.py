"""Build the demo's sample meeting video: ``src/omnidex/sample_data/meeting.mp4`` and its truth.

The video looks like a recorded quarterly planning meeting of a fictional company, Corvid Systems:
eight slides (1280x720, drawn with Pillow's bundled font so no system fonts are assumed), each
shown while a narrator (Debian's festival, voice ``cmu_us_slt_arctic_hts``) says something that is
*not* on the slide. That split is the point of the demo: a query about the slide text is answered
by reading the keyframes (OCR), a query about what was said only by transcribing the audio.

Each slide lasts ``max(narration + 1.5 s, 8 s)``, capped at 15 s: the narration starts 0.5 s after
the slide appears and at least a second of silence follows it. The video is H.264 (libx264,
yuv420p, 10 fps, a keyframe at least every 2 s and at every slide change), the audio AAC mono, in an
MP4 with ``+faststart``. ``meeting.json`` next to it records, per slide, its index (from 0),
``start_s``, ``end_s``, title, bullets and narration, plus when the narration is spoken.

Usage (from the repository root; needs ``apt-get install festival festvox-us-slt-hts``)::

    .venv/bin/python scripts/make_sample_meeting.py            # build, then verify
    .venv/bin/python scripts/make_sample_meeting.py --verify   # only verify the committed files

Verification checks the size (at most 3 MB) and duration, OCRs a frame from the middle of every
slide with tesseract, and transcribes every slide's audio with pocketsphinx, printing what was
recognized and which of the narration's speech-only words came through.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "src" / "omnidex" / "sample_data"
VIDEO_PATH = OUT_DIR / "meeting.mp4"
TRUTH_PATH = OUT_DIR / "meeting.json"

COMPANY = "Corvid Systems"
MEETING = "Q4 planning meeting"
WIDTH, HEIGHT = 1280, 720
FPS = 10
GOP = 2 * FPS  # a keyframe at least every 2 s
CRF = 30
AUDIO_RATE = 48_000
AUDIO_BITRATE = 64_000
VOICE = "voice_cmu_us_slt_arctic_hts"
LEAD_S = 0.5  # silence before the narration starts
MIN_SLIDE_S = 8.0
MAX_SLIDE_S = 15.0
NARRATION_PAD_S = 1.5  # lead plus at least 1 s of silence after the narration
MAX_BYTES = 3 * 1024 * 1024

BACKGROUND = (255, 255, 255)
INK = (17, 24, 39)
ACCENT = (29, 78, 216)
MUTED = (75, 85, 99)


@dataclass(frozen=True)
class Slide:
    """One slide: what is drawn (title, bullets) and what the narrator says (never the same)."""

    title: str
    bullets: tuple[str, ...]
    narration: str


SLIDES: tuple[Slide, ...] = (
    Slide(
        "Q3 revenue review",
        (
            "Revenue $4.2M, up 12% on Q2",
            "Subscriptions are 78% of sales",
            "Services margin below target",
        ),
        "Most of the extra money came from three large hospital contracts signed in August. "
        "Our biggest client also paid early, which helped the summer numbers.",
    ),
    Slide(
        "Customer churn analysis",
        (
            "Churn rose to 3.1% per month",
            "Small business plans hit hardest",
            "Exit survey: price, onboarding",
        ),
        "Many of the people who left told us the setup took too long. We will call every "
        "account that cancelled in the last ninety days and offer them free training.",
    ),
    Slide(
        "Mobile app redesign",
        (
            "New navigation bar and dark mode",
            "Offline sync for field teams",
            "Beta release in October",
        ),
        "The product group tested the new screens with forty nurses, and they finished their "
        "tasks twice as fast. The old version will be switched off next spring.",
    ),
    Slide(
        "Data center migration",
        (
            "120 racks moved to cloud regions",
            "Database cutover over two weekends",
            "Legacy storage retired",
        ),
        "We will move the last servers out of the Frankfurt facility before the winter holidays.",
    ),
    Slide(
        "Hiring plan",
        ("14 open roles in engineering", "2 sales leads for Europe", "Recruiting budget: $310K"),
        "We want to bring in a new head of support from Chicago, and every new hire will get "
        "a mentor for the first three months.",
    ),
    Slide(
        "Security audit findings",
        (
            "3 high-risk issues fixed",
            "Password policy now enforced",
            "Vendor access review pending",
        ),
        "The outside testers got into an old staging server through a forgotten account. "
        "That machine has been shut down and all the keys were changed.",
    ),
    Slide(
        "Marketing budget",
        ("Total spend $1.8M in Q4", "Shift 30% to digital ads", "Two trade shows in spring"),
        "We are dropping the television campaign, because it brought almost no new customers "
        "last year. The money will pay for a podcast series instead.",
    ),
    Slide(
        "Next steps",
        ("Finalize Q4 targets by Sept 30", "Owners update the roadmap", "Next review: January 15"),
        "Thank you all for coming. Please send your comments to Maria by Friday, and lunch "
        "is waiting in the kitchen.",
    ),
)


# --- drawing -------------------------------------------------------------------------------------


def render_slide(slide: Slide, number: int, total: int) -> Image.Image:
    """Draw one slide: a large dark title, an accent rule, 40 px bullets and a small footer."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=64)
    bullet_font = ImageFont.load_default(size=40)
    footer_font = ImageFont.load_default(size=24)

    draw.rectangle((0, 0, WIDTH, 16), fill=ACCENT)
    draw.text((80, 80), slide.title, fill=INK, font=title_font)
    draw.rectangle((80, 178, 380, 184), fill=ACCENT)
    y = 250
    for bullet in slide.bullets:
        draw.ellipse((86, y + 14, 104, y + 32), fill=ACCENT)
        draw.text((130, y), bullet, fill=INK, font=bullet_font)
        y += 90
    draw.text((80, HEIGHT - 60), f"{COMPANY}  |  {MEETING}", fill=MUTED, font=footer_font)
    draw.text(
        (WIDTH - 80, HEIGHT - 60), f"{number} / {total}", fill=MUTED, font=footer_font, anchor="ra"
    )
    return image


# --- speech --------------------------------------------------------------------------------------


def synthesize(text: str, workdir: Path, name: str) -> tuple[np.ndarray, int]:
    """Speak ``text`` with festival's ``text2wave``; return int16 mono samples and their rate."""
    text2wave = shutil.which("text2wave")
    if text2wave is None:
        sys.exit("text2wave not found: apt-get install festival festvox-us-slt-hts")
    txt, wav = workdir / f"{name}.txt", workdir / f"{name}.wav"
    txt.write_text(text + "\n", encoding="utf-8")
    subprocess.run(
        [text2wave, "-eval", f"({VOICE})", str(txt), "-o", str(wav)],
        check=True,
        capture_output=True,
    )
    with wave.open(str(wav)) as reader:
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            sys.exit(f"unexpected wav format from text2wave: {wav}")
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    return samples, rate


def trim_silence(samples: np.ndarray, threshold: int = 200) -> np.ndarray:
    """Drop the leading and trailing near-silence festival adds around an utterance."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return samples
    return samples[max(loud[0] - 400, 0) : loud[-1] + 400]


def slide_duration(narration_s: float) -> float:
    """``max(narration + 1.5 s, 8 s)`` rounded up to whole frames; too long is an error."""
    frames = int(np.ceil(max(narration_s + NARRATION_PAD_S, MIN_SLIDE_S) * FPS - 1e-9))
    duration = frames / FPS
    if duration > MAX_SLIDE_S:
        raise ValueError(f"a {narration_s:.1f} s narration does not fit a {MAX_SLIDE_S} s slide")
    return duration


# --- encoding ------------------------------------------------------------------------------------


def build(workdir: Path) -> dict[str, object]:
    """Synthesize, draw and encode the meeting; write the mp4 and json; return the truth."""
    speech: list[np.ndarray] = []
    rate = 0
    for i, slide in enumerate(SLIDES):
        samples, rate = synthesize(slide.narration, workdir, f"slide{i}")
        speech.append(trim_silence(samples))

    truth_slides: list[dict[str, object]] = []
    durations: list[float] = []
    track_parts: list[np.ndarray] = []
    start = 0.0
    for i, (slide, samples) in enumerate(zip(SLIDES, speech, strict=True)):
        spoken_s = len(samples) / rate
        duration = slide_duration(spoken_s)
        truth_slides.append(
            {
                "index": i,
                "start_s": round(start, 3),
                "end_s": round(start + duration, 3),
                "title": slide.title,
                "bullets": list(slide.bullets),
                "narration": slide.narration,
                "narration_start_s": round(start + LEAD_S, 3),
                "narration_end_s": round(start + LEAD_S + spoken_s, 3),
            }
        )
        # Durations are whole frames, so every slide's audio is a whole number of samples.
        span = np.zeros(round(duration * rate), dtype=np.int16)
        lead = round(LEAD_S * rate)
        span[lead : lead + len(samples)] = samples
        track_parts.append(span)
        durations.append(duration)
        start += duration
    total_s = start

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    encode(durations, np.concatenate(track_parts), rate)
    truth: dict[str, object] = {
        "title": f"{COMPANY} — {MEETING}",
        "file": VIDEO_PATH.name,
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "duration_s": round(total_s, 3),
        "voice": VOICE,
        "slides": truth_slides,
    }
    TRUTH_PATH.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth


def encode(durations: list[float], track: np.ndarray, rate: int) -> None:
    """Write ``meeting.mp4``: H.264 slides with a forced keyframe per slide, AAC mono speech."""
    with av.open(str(VIDEO_PATH), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream(
            "libx264",
            rate=FPS,
            options={
                "crf": str(CRF),
                "preset": "slow",
                "tune": "stillimage",
                "forced-idr": "1",
                "x264-params": f"keyint={GOP}:min-keyint={FPS}:scenecut=0",
            },
        )
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.gop_size = GOP
        video.codec_context.thread_count = 1  # a single thread makes x264's output reproducible
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.codec_context.bit_rate = AUDIO_BITRATE

        pts = 0
        for number, (slide, duration) in enumerate(zip(SLIDES, durations, strict=True), start=1):
            image = render_slide(slide, number, len(SLIDES))
            planes = av.VideoFrame.from_image(image).reformat(format="yuv420p").to_ndarray()
            for k in range(round(duration * FPS)):
                frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                frame.pts, frame.time_base = pts, Fraction(1, FPS)
                if k == 0:
                    frame.pict_type = PictureType.I
                out.mux(video.encode(frame))
                pts += 1
        out.mux(video.encode(None))

        resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
        chunk = 4096
        for offset in range(0, len(track), chunk):
            piece = track[offset : offset + chunk]
            pcm = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="s16", layout="mono")
            pcm.sample_rate, pcm.pts, pcm.time_base = rate, offset, Fraction(1, rate)
            for resampled in resampler.resample(pcm):
                out.mux(audio.encode(resampled))
        for resampled in resampler.resample(None):
            out.mux(audio.encode(resampled))
        out.mux(audio.encode(None))


# --- verification --------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    {
        "also",
        "been",
        "came",
        "every",
        "from",
        "have",
        "into",
        "many",
        "most",
        "that",
        "their",
        "them",
        "then",
        "they",
        "this",
        "very",
        "want",
        "were",
        "what",
        "when",
        "which",
        "will",
        "with",
        "your",
    }
)


def words(text: str) -> list[str]:
    """Lower-case alphabetic words of ``text``."""
    return _WORD.findall(text.lower())


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The first decoded video frame at or after ``seconds``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(seconds * av.time_base))  # in microseconds, to the keyframe before
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds - 1e-6:
                return frame.to_image()
    raise ValueError(f"no frame at {seconds} s")


def audio_16k(path: Path) -> np.ndarray:
    """The whole audio track as 16 kHz mono int16, as a transcriber consumes it."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(parts).astype(np.int16)


def transcribe(samples: np.ndarray) -> str:
    """Pocketsphinx's default US English model over one utterance."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000, logfn="/dev/null")
    decoder.start_utt()
    decoder.process_raw(samples.tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def verify() -> bool:
    """Check size, duration, OCR of every title and ASR of every narration; print a report."""
    truth = json.loads(TRUTH_PATH.read_text(encoding="utf-8"))
    slides = truth["slides"]
    ok = True
    size = VIDEO_PATH.stat().st_size
    print(f"{VIDEO_PATH.relative_to(ROOT)}: {size:,} bytes ({size / 2**20:.2f} MiB)")
    if size > MAX_BYTES:
        print("  FAIL: larger than 3 MB")
        ok = False
    with av.open(str(VIDEO_PATH)) as container:
        duration = container.duration / av.time_base if container.duration else 0.0
        v, a = container.streams.video[0], container.streams.audio[0]
        print(
            f"  duration {duration:.2f} s (slides sum to {truth['duration_s']} s); "
            f"video {v.codec_context.name} {v.width}x{v.height}; "
            f"audio {a.codec_context.name} {a.rate} Hz {a.layout.name}"
        )
    if abs(duration - truth["duration_s"]) > 0.25:
        print("  FAIL: duration differs from the slides' sum")
        ok = False

    slide_words = {w for s in slides for w in words(" ".join([s["title"], *s["bullets"]]))}
    audio = audio_16k(VIDEO_PATH)
    tesseract = shutil.which("tesseract")
    with tempfile.TemporaryDirectory() as tmp:
        for s in slides:
            middle = (s["start_s"] + s["end_s"]) / 2
            png = Path(tmp) / f"slide{s['index']}.png"
            frame_at(VIDEO_PATH, middle).save(png)
            ocr = ""
            if tesseract is not None:
                result = subprocess.run(
                    [tesseract, str(png), "-"], capture_output=True, text=True, check=True
                )
                ocr = " ".join(result.stdout.split())
            title_read = " ".join(words(s["title"])) in " ".join(words(ocr))
            piece = audio[int(s["start_s"] * 16000) : int(s["end_s"] * 16000)]
            heard = transcribe(piece)
            heard_words = set(words(heard))
            distinct = [
                w
                for w in dict.fromkeys(words(s["narration"]))
                if len(w) > 3 and w not in slide_words and w not in _STOP
            ]
            got = [w for w in distinct if w in heard_words]
            print(f"\n[{s['index']}] {s['start_s']:6.1f}-{s['end_s']:6.1f} s  {s['title']}")
            print(f"  tesseract read the title: {'yes' if title_read else 'NO'}")
            print(f"  narration:  {s['narration']}")
            print(f"  recognized: {heard}")
            print(f"  speech-only words recognized: {len(got)}/{len(distinct)} {got}")
            if not title_read or len(got) < 2:
                ok = False
    print("\nOK" if ok else "\nSOME CHECKS FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Build (unless ``--verify``) and verify the sample meeting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--verify", action="store_true", help="only verify the committed files")
    args = parser.parse_args(argv)
    if not args.verify:
        with tempfile.TemporaryDirectory() as tmp:
            truth = build(Path(tmp))
        print(
            f"wrote {VIDEO_PATH.relative_to(ROOT)} and {TRUTH_PATH.name}: "
            f"{len(SLIDES)} slides, {truth['duration_s']} s"
        )
    return 0 if verify() else 1


if __name__ == "__main__":
    raise SystemExit(main())
