"""Character error of OCR on generated slides with a coloured title bar and bullets, at 1080p,
360p and 240p: today's engine path against the raw tesseract read, in the same run.

Each slide is drawn 1920 × 1080 with Pillow's bundled font: white title on a dark blue or red bar,
three bullet lines of dark text with round bullets; it is scaled to each height and read (a) by
tesseract on the picture as is, its words laid out as omnidex did before (the baseline), and (b)
by ``TesseractEngine.read`` (light-on-dark regions inverted, bullet glyphs dropped). The character
error rate is the edit distance over the reference length, whitespace collapsed.

Prints one JSON line: the mean CER of each path per height and the ratio baseline / now.

    .venv/bin/python benchmarks/ocr_slides.py
"""

from __future__ import annotations

import io
import json

from PIL import Image, ImageDraw, ImageFont

from omnidex.models.tesseract import OcrResult, TesseractEngine, parse_tsv

SLIDES = [
    (
        "Quarterly Revenue Review",
        ["Revenue grew twelve percent", "Churn fell to three percent", "Two new regions opened"],
    ),
    (
        "Data Center Migration",
        [
            "Move the last racks in March",
            "Retire the old storage array",
            "Budget stays within plan",
        ],
    ),
    (
        "Hiring Plan for Spring",
        ["Four engineers in platform", "One designer for the studio", "Interviews start next week"],
    ),
]
BARS = [(30, 60, 140), (150, 30, 40)]
HEIGHTS = (1080, 360, 240)


def slide(title: str, bullets: list[str], bar: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (1920, 1080), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1920, 190), fill=bar)
    title_font, font = ImageFont.load_default(size=90), ImageFont.load_default(size=64)
    draw.text((100, 95), title, fill=(255, 255, 255), font=title_font, anchor="lm")
    for line, text in enumerate(bullets):
        y = 330 + line * 150
        draw.ellipse((110, y - 14, 138, y + 14), fill=(40, 40, 40))
        draw.text((180, y), text, fill=(30, 30, 30), font=font, anchor="lm")
    return image


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    previous = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        current = [i]
        for j, b in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / max(1, len(ref))


def raw_read(engine: TesseractEngine, image: Image.Image) -> str:
    """Tesseract on the picture as is, laid out from its words: the path before this change."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    command = [engine.binary(), "stdin", "stdout", "-l", "eng", "--psm", str(engine.psm), "tsv"]
    return OcrResult.from_words(parse_tsv(engine._run(command, buffer.getvalue()))).text


def main() -> None:
    engine = TesseractEngine()
    result: dict[str, float] = {}
    for height in HEIGHTS:
        before, after = [], []
        for bar in BARS:
            for title, bullets in SLIDES:
                image = slide(title, bullets, bar)
                image = image.resize((height * 16 // 9, height), Image.Resampling.BILINEAR)
                reference = "\n".join([title, *bullets])
                before.append(cer(reference, raw_read(engine, image)))
                after.append(cer(reference, engine.read(image).text))
        result[f"cer_before_{height}p"] = round(sum(before) / len(before), 4)
        result[f"cer_after_{height}p"] = round(sum(after) / len(after), 4)
    total_before = sum(v for k, v in result.items() if k.startswith("cer_before"))
    total_after = sum(v for k, v in result.items() if k.startswith("cer_after"))
    result["ratio_before_over_after"] = round(total_before / max(total_after, 1e-4), 2)
    print(json.dumps({"benchmark": "ocr_slides", **result}))


if __name__ == "__main__":
    main()
