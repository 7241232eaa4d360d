"""Caption throughput of Phi-4-multimodal through omnidex's batched runtime against a naive loop.

The model has the released architecture (``../shared/reference/phi4mm-released.json``: a 3072-wide,
32-layer language model with 24 heads, 8 key-value heads, partial rotary 0.75 and longrope, a
vocabulary of 200,064; SigLIP so400m vision; the audio encoder as released) with random bf16
weights, and a random vision LoRA adapter of the released rank (r 256, alpha 512); the tokenizer is
trained on the fly (tests/phi4mm_checkpoint.py). Nothing is downloaded. The checkpoint is built on
the GPU, saved to a temporary folder and loaded through ``omnidex.models.phi4mm.Phi4Multimodal``,
the path that loads the hub checkpoint.

Each caption answers "Describe the image in detail." about one synthetic 896×504 frame (noise and
shapes; 4 crops at most: 867 image tokens, as released) with exactly 48 new tokens: greedy, the
end-of-text tokens suppressed until the 48th (``min_new_tokens``). In one run, after a warm-up each:

- the baseline: a naive loop, one frame at a time (processor, ``generate``, decode), on the same
  model with the vision adapter active;
- ``Phi4Multimodal.generate`` (left-padded batches) at batch sizes 1 to 64, on ``--frames`` frames
  or one full batch if that is larger; peak GPU memory per batch size, an out-of-memory error
  recorded and the run carried on.

Prints one JSON line per batch size, then a summary: the best captions/s, its batch size and its
ratio to the naive loop. Goals on one H200: ≥ 20 captions/s and ≥ 6× the naive loop; aim 40/s.

Without CUDA (or with ``--tiny``) the run uses the tiny test configuration on the CPU, 8 frames at
batch sizes 1, 2 and 4: it shows that the benchmark works, not the figure, which needs the GPU.
The GPU run needs ~10 GB of disk for the temporary checkpoint; ``--reference`` points at the JSON
where ``../shared`` is not beside the checkout.

    .venv/bin/python benchmarks/caption_throughput.py --tiny           # CPU: ~1 min on 2 cores
    .venv/bin/python benchmarks/caption_throughput.py --out caption_throughput.json     # CUDA
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from omnidex.models.phi4mm import Phi4Multimodal, chat_text
from omnidex.models.prompts import Prompt
from phi4mm_checkpoint import build_checkpoint, released_like_config, tiny_config, train_tokenizer

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "phi4mm-released.json"
INSTRUCTION = "Describe the image in detail."
FRAME_SIZE = (896, 504)
GOAL_CAPTIONS_PER_S = 20
AIM_CAPTIONS_PER_S = 40
GOAL_RATIO = 6
LANGUAGE_KEYS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "rms_norm_eps",
    "tie_word_embeddings",
    "max_position_embeddings",
    "original_max_position_embeddings",
    "sliding_window",
)
VISION_KEYS = ("hidden_size", "num_hidden_layers", "image_size", "patch_size", "crop_size")
SIGLIP_SO400M = {"intermediate_size": 4304, "num_attention_heads": 16}
"""What the reference leaves out of the vision encoder: SigLIP so400m's MLP width and heads."""
GIB = 2**30


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def released_config(tokenizer: Any, reference: dict[str, Any]) -> Any:
    """The released architecture with the tokenizer's token ids and the released vocabulary size."""
    lm, vision = reference["language_model"], reference["vision"]
    rope = lm["rope_scaling"]
    language = {key: lm[key] for key in LANGUAGE_KEYS}
    language["rope_parameters"] = {
        "rope_type": rope["type"],
        "rope_theta": lm["rope_theta"],
        "partial_rotary_factor": lm["partial_rotary_factor"],
        "short_factor": rope["short_factor"],
        "long_factor": rope["long_factor"],
    }
    return released_like_config(
        tokenizer,
        language=language,
        vision={key: vision[key] for key in VISION_KEYS} | SIGLIP_SO400M,
        vocab_size=lm["vocab_size"],
    )


def build(folder: Path, tiny: bool, reference: Path) -> int:
    """Save the random checkpoint to ``folder``; the LoRA rank of its vision adapter."""
    tokenizer = train_tokenizer()
    if tiny:
        config, rank, device, dtype = tiny_config(tokenizer), 4, "cpu", None
    else:
        facts = json.loads(reference.read_text())
        config, device, dtype = released_config(tokenizer, facts), "cuda", torch.bfloat16
        rank = int(facts["vision"]["lora"]["r"])  # alpha is 2 × rank, as released
    build_checkpoint(
        folder, config, tokenizer, adapters=("vision",), lora_rank=rank, device=device, dtype=dtype
    )
    return rank


def synthetic_frames(count: int, seed: int = 0) -> list[Image.Image]:
    """896×504 frames: coloured noise under a few random rectangles and ellipses."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        noise = rng.integers(0, 256, (FRAME_SIZE[1], FRAME_SIZE[0], 3), dtype=np.uint8)
        frame = Image.fromarray(noise)
        draw = ImageDraw.Draw(frame)
        for _ in range(6):
            x, y = int(rng.integers(0, FRAME_SIZE[0])), int(rng.integers(0, FRAME_SIZE[1]))
            box = (x, y, x + int(rng.integers(40, 300)), y + int(rng.integers(40, 200)))
            fill = (int(rng.integers(256)), int(rng.integers(256)), int(rng.integers(256)))
            shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
            shape(box, fill=fill)
        frames.append(frame)
    return frames


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def naive_inputs(runtime: Phi4Multimodal, frame: Image.Image, max_crops: int) -> Any:
    """The processor's tensors for one frame, on the model's device and in its dtype."""
    text = chat_text(Prompt(INSTRUCTION, images=(frame,)))
    features = runtime.processor(
        text=text, images=[frame], dynamic_hd=max_crops, return_tensors="pt"
    )
    return features.to(runtime.device, runtime.dtype)


def naive_loop(
    runtime: Phi4Multimodal, frames: list[Image.Image], new_tokens: int, max_crops: int
) -> float:
    """The baseline: processor, ``generate`` and decode for one frame after another; seconds."""
    tokenizer = runtime.processor.tokenizer
    synchronize(runtime.device)
    start = time.perf_counter()
    with torch.inference_mode(), runtime.active("vision") as model:
        for frame in frames:
            inputs = naive_inputs(runtime, frame, max_crops)
            output = model.generate(
                **inputs,
                max_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            prompt_length = inputs["input_ids"].shape[1]
            if output.shape[1] - prompt_length != new_tokens:
                raise RuntimeError(f"the naive loop made {output.shape[1] - prompt_length} tokens")
            tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True)
    synchronize(runtime.device)
    return time.perf_counter() - start


def batched(runtime: Phi4Multimodal, prompts: list[Prompt]) -> float:
    """A warm-up batch (which checks every answer's length), then ``generate`` timed; seconds."""
    new_tokens = prompts[0].max_new_tokens
    lengths = {len(ids) for ids in runtime.generate_ids(prompts[: runtime.batch_size])}
    if lengths != {new_tokens}:
        raise RuntimeError(f"answers of {sorted(lengths)} tokens, not {new_tokens}")
    synchronize(runtime.device)
    start = time.perf_counter()
    runtime.generate(prompts)
    synchronize(runtime.device)
    return time.perf_counter() - start


def measure_batch_size(
    runtime: Phi4Multimodal,
    frames: list[Image.Image],
    batch_size: int,
    count: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Captions/s of ``runtime.generate`` at ``batch_size`` over ``count`` frames."""
    cuda = runtime.device == "cuda"
    runtime.batch_size = batch_size
    prompts = [
        Prompt(
            INSTRUCTION, images=(frame,), max_new_tokens=args.new_tokens, max_crops=args.max_crops
        )
        for frame in frames[:count]
    ]
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        seconds = batched(runtime, prompts)
    except torch.OutOfMemoryError:
        gc.collect()
        torch.cuda.empty_cache()
        return {"batch_size": batch_size, "frames": count, "error": "CUDA out of memory"}
    return {
        "batch_size": batch_size,
        "frames": count,
        "seconds": round(seconds, 3),
        "captions_per_s": round(count / seconds, 2),
        "new_tokens_per_s": round(count * args.new_tokens / seconds, 1),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / GIB, 2) if cuda else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny config on the CPU")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="default 1..64; tiny 1 2 4")
    parser.add_argument("--frames", type=int, help="frames per measurement: default 16, tiny 8")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--max-crops", type=int, default=4, help="4: 867 tokens per frame")
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--out", type=Path, help="also write every line to this JSON file")
    args = parser.parse_args()
    tiny = args.tiny or not torch.cuda.is_available()
    device = "cpu" if tiny else "cuda"
    batch_sizes = args.batch_sizes or ([1, 2, 4] if tiny else [1, 2, 4, 8, 16, 32, 64])
    count = args.frames or (8 if tiny else 16)
    frames = synthetic_frames(max(count, *batch_sizes))
    common: dict[str, Any] = {
        "benchmark": "caption_throughput",
        "device": device,
        "gpu": None if tiny else torch.cuda.get_device_name(),
        "config": "tiny" if tiny else "released",
        "new_tokens": args.new_tokens,
    }
    if tiny:
        common["gpu_figure"] = "pending: the goals apply to the released config on a GPU"

    with tempfile.TemporaryDirectory(prefix="phi4mm-bench-") as tmp:
        folder = Path(tmp) / "checkpoint"
        log(f"building the {common['config']} checkpoint in {folder}")
        start = time.perf_counter()
        lora_rank = build(folder, tiny, args.reference)
        build_s = time.perf_counter() - start
        log(f"built in {build_s:.0f} s; loading it through Phi4Multimodal")
        start = time.perf_counter()
        runtime = Phi4Multimodal(folder, device, "float32" if tiny else "bfloat16")
        runtime.require("vision")
        load_s = time.perf_counter() - start
    # force every answer to new_tokens tokens: end-of-text is masked until then
    runtime.model.generation_config.min_new_tokens = args.new_tokens
    input_ids = naive_inputs(runtime, frames[0], args.max_crops)["input_ids"]
    common["image_tokens_per_frame"] = int((input_ids == runtime.processor.image_token_id).sum())
    weights_gib = None if tiny else round(torch.cuda.memory_allocated() / GIB, 2)

    log(f"loaded in {load_s:.0f} s; the naive loop over {count} frames")
    naive_loop(runtime, frames[:1], args.new_tokens, args.max_crops)  # warm-up
    naive_rate = count / naive_loop(runtime, frames[:count], args.new_tokens, args.max_crops)
    lines = []
    for batch_size in batch_sizes:
        line = common | measure_batch_size(
            runtime, frames, batch_size, max(count, batch_size), args
        )
        if "captions_per_s" in line:
            line["ratio_to_naive"] = round(line["captions_per_s"] / naive_rate, 2)
        print(json.dumps(line), flush=True)
        lines.append(line)

    measured = [line for line in lines if "captions_per_s" in line]
    best = max(measured, key=lambda line: line["captions_per_s"])
    summary = common | {
        "summary": True,
        "dtype": str(runtime.dtype).removeprefix("torch."),
        "attention": runtime.attention,
        "max_crops": args.max_crops,
        "vision_lora_rank": lora_rank,
        "build_s": round(build_s, 1),
        "load_s": round(load_s, 1),
        "weights_gib": weights_gib,
        "naive_frames": count,
        "naive_captions_per_s": round(naive_rate, 2),
        "best_captions_per_s": best["captions_per_s"],
        "best_batch_size": best["batch_size"],
        "ratio_to_naive": best["ratio_to_naive"],
        "goal_captions_per_s": GOAL_CAPTIONS_PER_S,
        "aim_captions_per_s": AIM_CAPTIONS_PER_S,
        "goal_ratio_to_naive": GOAL_RATIO,
        "meets_goals": None
        if tiny
        else best["captions_per_s"] >= GOAL_CAPTIONS_PER_S and best["ratio_to_naive"] >= GOAL_RATIO,
    }
    print(json.dumps(summary), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"measurements": lines, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
