"""Word error rate and real-time factor of each installed speech engine, clean and in noise.

Speech is generated here with three TTS voices (espeak-ng ``en-us``; festival ``kal_diphone`` and
``cmu_us_slt_arctic_hts``): twelve meeting sentences per voice, 0.8 s apart, one recording per voice
(about 40 s each). Each recording is transcribed clean, with white noise mixed at 20, 10 and 5 dB
SNR and with babble (six other talkers, two of each voice, saying other sentences) at 10 dB; the
SNR is measured against the speech's active frames. Engines, each through omnidex's engine class:

- ``pocketsphinx`` (the baseline, always);
- ``whisper`` with the largest model present on the machine — a size found in the Hugging Face
  cache (nothing is downloaded: the hub is switched off) or ``--whisper-model`` (a size, hub id
  or folder); where none is present it says so and reports pocketsphinx alone;
- ``whisper-random-base`` with ``--random-base``: Whisper base's architecture (6 + 6 layers,
  width 512, 80 mel bins, int8) with random weights, built with transformers and converted like a
  hub checkpoint. Its words are noise, so only its real-time factor is reported, and decoding
  random tokens is slower than decoding speech (tokens per audio second are printed beside it);
- ``phi4mm`` is not run here: it needs a GPU and its weights.

WER is (substitutions + deletions + insertions) / reference words after lower-casing and removing
punctuation; RTF is transcription time / audio duration, on the threads the machine has. Prints a
table (engine × condition → WER, RTF) and one JSON line per engine and condition, then a summary
line with each engine's WER at 10 dB over its clean WER (the goal: within 2×) and whisper's WER
over pocketsphinx's at 10 dB (the ratio to the baseline).

    .venv/bin/python benchmarks/asr.py                   # ~3 min on 2 cores, pocketsphinx only
    .venv/bin/python benchmarks/asr.py --random-base     # + base-shaped whisper's RTF, ~+5 min
    .venv/bin/python benchmarks/asr.py --whisper-model base   # with openai/whisper-base cached
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from omnidex.errors import OmnidexError
from omnidex.models.pocketsphinx_asr import PocketsphinxEngine
from omnidex.models.speech import SAMPLE_RATE, Transcript

SENTENCES = [
    "the quarterly budget review is on thursday morning",
    "please send the updated slides to the whole team",
    "our revenue grew faster than the market this year",
    "we should move the product launch to early spring",
    "the new office in frankfurt opens after the holidays",
    "customer support answered most tickets within a day",
    "the security audit found two problems in the login page",
    "marketing wants a bigger budget for the next campaign",
    "let us schedule a follow up meeting with the design group",
    "the server migration finished without any downtime",
    "hiring two more engineers would help the mobile team",
    "thank you everyone for joining the call today",
]
BABBLE = [
    "the weather was cold and rainy all week long",
    "i think the train leaves from platform seven",
    "she bought fresh bread and cheese at the market",
    "the children played football in the park until dark",
    "he forgot his umbrella at the restaurant again",
    "we watched an old movie about a pirate ship",
]
VOICES = ("espeak-ng:en-us", "festival:kal_diphone", "festival:cmu_us_slt_arctic_hts")
CONDITIONS = ("clean", "white 20 dB", "white 10 dB", "white 5 dB", "babble 10 dB")
SIZES_LARGEST_FIRST = ("large-v3", "large-v2", "medium", "small", "base", "tiny")
GAP_S = 0.8


def speak(text: str, voice: str, out: Path) -> np.ndarray:
    """``text`` said by ``voice``, 16 kHz mono float32."""
    program, name = voice.split(":")
    if program == "espeak-ng":
        subprocess.run(["espeak-ng", "-v", name, "-w", str(out), text], check=True)
    else:
        command = ["text2wave", "-eval", f"(voice_{name})", "-o", str(out)]
        subprocess.run(command, input=text.encode(), check=True)
    with wave.open(str(out)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32)
    samples = pcm.reshape(-1, channels).mean(axis=1) / 32768
    if rate != SAMPLE_RATE:
        positions = np.arange(0, len(samples), rate / SAMPLE_RATE)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    return samples


def recording(sentences: list[str], voice: str, work: Path) -> np.ndarray:
    """The sentences said by ``voice`` one after another, :data:`GAP_S` apart."""
    gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
    parts = [gap]
    for text in sentences:
        parts += [speak(text, voice, work / "said.wav"), gap]
    return np.concatenate(parts)


def babble_of(work: Path) -> np.ndarray:
    """Six talkers at once, two per voice, each saying the babble sentences in its own order."""
    talkers = [
        recording(BABBLE[k:] + BABBLE[:k], VOICES[k % len(VOICES)], work)
        for k in range(len(BABBLE))
    ]
    length = max(len(t) for t in talkers)
    return np.sum([np.resize(t, length) for t in talkers], axis=0).astype(np.float32)


def active_power(samples: np.ndarray) -> float:
    """Mean power of the 10 ms frames within 40 dB of the loudest (the speech, not the pauses)."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    power = np.square(frames, dtype=np.float64).mean(axis=1)
    return float(power[power > power.max() * 1e-4].mean())


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` with ``noise`` (repeated to its length) at ``snr_db`` over its active frames."""
    noise = np.resize(noise, speech.shape)
    noise_power = np.square(noise, dtype=np.float64).mean()
    scale = np.sqrt(active_power(speech) / (noise_power * 10 ** (snr_db / 10)))
    mixed = speech + scale * noise
    return (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)


def conditions(speech: np.ndarray, babble: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    white = np.random.default_rng(seed).standard_normal(len(speech)).astype(np.float32)
    return {
        "clean": speech,
        "white 20 dB": mix(speech, white, 20),
        "white 10 dB": mix(speech, white, 10),
        "white 5 dB": mix(speech, white, 5),
        "babble 10 dB": mix(speech, babble, 10),
    }


def words_of(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split()


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance over words."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def present_whisper(requested: str | None) -> str | None:
    """The model to run: ``requested``, else the largest size the cache holds; None if none."""
    from omnidex.models.whisper_weights import ctranslate2_folder

    os.environ["HF_HUB_OFFLINE"] = "1"
    for model in [requested] if requested else SIZES_LARGEST_FIRST:
        try:
            ctranslate2_folder(model)
        except OmnidexError as exc:
            if requested:
                raise
            reason = str(exc).splitlines()[0]
            print(f"whisper {model}: not on this machine ({reason})", file=sys.stderr)
            continue
        return model
    return None


def random_base(work: Path) -> str:
    """A folder holding a transformers Whisper checkpoint of base's shape, random weights."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    from whisper_checkpoint import special_tokens, train_tokenizer

    folder = work / "random-base"
    folder.mkdir()
    tokenizer = train_tokenizer(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    ids = tokenizer.convert_tokens_to_ids
    end = ids("<|endoftext|>")
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=512,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=8,
        decoder_attention_heads=8,
        encoder_ffn_dim=2048,
        decoder_ffn_dim=2048,
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=ids("<|startoftranscript|>"),
        suppress_tokens=[],
        begin_suppress_tokens=[end],
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    model.generation_config.lang_to_id = {t: ids(t) for t in special_tokens()[2:102]}
    model.generation_config._from_model_config = False
    model.save_pretrained(folder)
    return str(folder)


def measure(
    transcribe: Callable[[np.ndarray], Transcript], recordings: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, float]]:
    """WER and RTF per condition, over every voice's recording."""
    reference = [w for s in SENTENCES for w in words_of(s)]
    results = {}
    for condition in CONDITIONS:
        errors = words = tokens = 0
        seconds = duration = 0.0
        for by_condition in recordings.values():
            samples = by_condition[condition]
            start = time.perf_counter()
            transcript = transcribe(samples)
            seconds += time.perf_counter() - start
            duration += len(samples) / SAMPLE_RATE
            heard = words_of(transcript.text)
            errors += word_errors(reference, heard)
            words += len(reference)
            tokens += len(transcript.words)
        results[condition] = {
            "wer": round(errors / words, 3),
            "rtf": round(seconds / duration, 3),
            "words_per_audio_s": round(tokens / duration, 2),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--whisper-model", help="a size, hub id or folder (default: largest cached)"
    )
    parser.add_argument("--random-base", action="store_true", help="also time a random base")
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="omnidex-asr-") as tmp:
        work = Path(tmp)
        babble = babble_of(work)
        recordings = {
            voice: conditions(recording(SENTENCES, voice, work), babble, seed=n)
            for n, voice in enumerate(VOICES)
        }
        engines: dict[str, Callable[[np.ndarray], Transcript]] = {
            "pocketsphinx": PocketsphinxEngine().transcribe
        }
        notes = []
        model = present_whisper(args.whisper_model)
        if model is None:
            notes.append(
                "no Whisper weights on this machine (no size is in the Hugging Face cache and "
                "the hub is off): whisper's WER is not measured"
            )
        from omnidex.models.whisper_asr import WhisperEngine

        if model is not None:
            engines[f"whisper {model}"] = WhisperEngine(model, beam_size=args.beam_size).transcribe
        if args.random_base:
            folder = random_base(work)
            engines["whisper-random-base"] = WhisperEngine(
                folder, beam_size=args.beam_size, temperature_fallback=False
            ).transcribe
        measured = {name: measure(run, recordings) for name, run in engines.items()}

    print(f"{'engine':<22}" + "".join(f"{c:>22}" for c in CONDITIONS))
    for name, results in measured.items():
        random = name == "whisper-random-base"
        cells = [
            (f"{'n/a' if random else results[c]['wer']:>8} WER {results[c]['rtf']:>6} RTF")
            for c in CONDITIONS
        ]
        print(f"{name:<22}" + "".join(f"{cell:>22}" for cell in cells))
    for name, results in measured.items():
        for condition, figures in results.items():
            if name == "whisper-random-base":
                figures = {**figures, "wer": None}
            print(json.dumps({"engine": name, "condition": condition, **figures}))
    summary: dict[str, object] = {
        "voices": list(VOICES),
        "audio_s_per_condition": round(
            sum(len(r["clean"]) for r in recordings.values()) / SAMPLE_RATE, 1
        ),
        "threads": os.cpu_count(),
        "notes": notes,
    }
    for name, results in measured.items():
        if name != "whisper-random-base" and results["clean"]["wer"]:
            summary[f"{name} wer_10db_over_clean"] = round(
                results["white 10 dB"]["wer"] / results["clean"]["wer"], 2
            )
    whisper = next((n for n in measured if n.startswith("whisper ")), None)
    if whisper and measured["pocketsphinx"]["white 10 dB"]["wer"]:
        baseline = measured["pocketsphinx"]["white 10 dB"]["wer"]
        summary["ratio_whisper_over_pocketsphinx_wer_10db"] = round(
            measured[whisper]["white 10 dB"]["wer"] / baseline, 2
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
