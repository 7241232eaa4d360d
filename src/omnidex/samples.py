"""The demo's sample set, generated at run time: images with text, a mixed PDF, text files; and
the media helpers tests and benchmarks build theirs with (slide videos, encrypted PDFs, bombs).

Everything is drawn with Pillow's bundled font and fpdf2's core fonts, seeded, without network or
system fonts, so two runs produce the same files. Tests build their media with the same helpers.
Each sample has one clear topic, so a natural-language query has one right answer per modality.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

SEED = 20240614
_PAPER = (250, 248, 240)
_INK = (20, 20, 20)
_FIXED_DATE = datetime(2024, 6, 14, tzinfo=UTC)
_SCAN_SIZE = (1275, 1650)  # a Letter page at 150 dpi

IMAGES = {
    "bakery_sign.png": "HARBOR STREET BAKERY\nfresh sourdough daily",
    "whiteboard.jpg": "Q3 roadmap:\nmigrate billing to Postgres",
    "kite_poster.png": "Annual kite festival\nJune 14, Riverside Park",
}

REPORT_PAGES = [
    "Solar panel maintenance\n\n"
    "Rooftop solar panels lose output when dust, pollen and bird droppings build up on the glass. "
    "Rinse the array with a soft brush and deionized water every spring and autumn, early in the "
    "morning while the modules are still cool.\n\n"
    "Check the inverter display once a month. A red fault light or a sudden drop in daily "
    "kilowatt-hours usually means a loose connector or a failing string. Trim tree branches that "
    "cast shade on the panels after midday.",
    "Warranty and coverage\n\n"
    "The modules carry a 25-year performance warranty: they are guaranteed to deliver at least "
    "80 percent of their rated power after twenty-five years. The inverter is covered for 12 "
    "years against manufacturing defects.\n\n"
    "The warranty is void if the panels are cleaned with a pressure washer or abrasive detergent. "
    "To file a claim, send the serial number, the installation date and photos of the damage to "
    "the installer within 30 days.",
]

SCANNED_PAGES = [
    "INVOICE No. 2024-117\n\n"
    "Bright Roof Solar Services\n\n"
    "Panel cleaning and inspection\n"
    "Inverter firmware update\n\n"
    "TOTAL DUE: $485.00\n"
    "Payment due by March 31",
]

TEXTS = {
    "recipe_lemon_pancakes.md": """# Lemon ricotta pancakes

Serves four. These pancakes are light and tangy, and they are best eaten straight from the pan on
a slow Sunday morning.

## Ingredients

One and a half cups of flour, two teaspoons of baking powder, a pinch of salt, one cup of whole-milk
ricotta, three eggs, three quarters of a cup of milk, the zest and juice of two lemons, and two
tablespoons of sugar.

## Method

Whisk the dry ingredients in one bowl. In another, beat the ricotta, eggs, milk, lemon zest and
juice until smooth, then fold the two together without overmixing; a few lumps are fine.

Heat a buttered skillet over medium heat and pour a quarter cup of batter per pancake. Flip when
bubbles appear on the surface, after about two minutes. Serve with blueberries and maple syrup.
""",
    "meeting_notes_platform_sync.txt": """Platform team weekly sync, Tuesday

Attendees: Priya, Marcus, Elena, Tom.

On-call: the team agreed to move the on-call rotation handover from Friday afternoon to Monday
morning, so that nobody starts a weekend shift without context. Marcus will update the pager
schedule before the end of the week.

Incidents: last week's outage of the image upload service was caused by an expired TLS
certificate. Elena will add certificate expiry alerts thirty days ahead and write the postmortem.

Hiring: two candidates for the site reliability role reach the final interview next week. Priya
is collecting feedback from the panel by Thursday.

Action items: Marcus owns the pager schedule, Elena owns certificate alerts and the postmortem,
Tom will clean up the unused staging clusters to cut the cloud bill.
""",
    "itinerary_lisbon.md": """# Four days in Lisbon

## Day 1: Alfama

Arrive at Humberto Delgado airport and take the metro red line into the city. Check in near
Alfama, then walk up to the Miradouro de Santa Luzia for the sunset over the Tagus river.

## Day 2: Belém

Ride tram 15 to Belém. Visit the Jerónimos Monastery and the Belém Tower in the morning, and queue
for custard tarts, the famous pastéis de nata, at the pastry shop next to the monastery.

## Day 3: Sintra

Take the train from Rossio station to Sintra for a day trip. Tour the colourful Pena Palace and
hike through the forest to the Moorish Castle walls.

## Day 4: Departure

Ride the yellow tram 28 through Graça in the morning, buy tinned sardines as souvenirs, and leave
for the airport after lunch.
""",
}


def build_sample_set(folder: Path) -> list[Path]:
    """Write the demo's images, ``report.pdf`` and text files into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in IMAGES.items():
        path = folder / name
        make_text_image(text, (960, 540)).save(path, quality=90)
        paths.append(path)
    report = folder / "report.pdf"
    make_pdf(report, REPORT_PAGES, SCANNED_PAGES)
    paths.append(report)
    for name, content in TEXTS.items():
        path = folder / name
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def make_text_image(text: str, size: tuple[int, int], *, font_size: int = 48) -> Image.Image:
    """Dark text, centred line by line, on a light background: an image tesseract can read."""
    image = Image.new("RGB", size, _PAPER)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    draw.multiline_text(
        (size[0] / 2, size[1] / 2), text, fill=_INK, font=font, anchor="mm", align="center"
    )
    return image


def make_scanned_page(text: str, seed: int = SEED) -> Image.Image:
    """A page of text as a scanner would deliver it: greyish paper, speckle noise, a slight tilt."""
    page = Image.new("L", _SCAN_SIZE, 245)
    draw = ImageDraw.Draw(page)
    draw.multiline_text((110, 140), text, fill=25, font=ImageFont.load_default(size=40), spacing=14)
    page = page.rotate(0.4, resample=Image.Resampling.BICUBIC, fillcolor=245)
    noise = np.random.default_rng(seed).normal(0.0, 10.0, (_SCAN_SIZE[1], _SCAN_SIZE[0]))
    noisy = np.clip(np.asarray(page, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(noisy).convert("RGB")


def make_pdf(path: Path, pages: Sequence[str], scanned_pages: Sequence[str] = ()) -> Path:
    """A Letter PDF: ``pages`` with a real text layer, then ``scanned_pages`` as image-only pages.

    In a text page, the first paragraph is the title and paragraphs are split on blank lines.
    """
    pdf = _new_pdf()
    for text in pages:
        _add_text_page(pdf, text)
    for index, text in enumerate(scanned_pages):
        _add_image_page(pdf, make_scanned_page(text, seed=SEED + index))
    pdf.output(str(path))
    return path


def make_slides_video(
    path: Path, slides: Sequence[str], seconds_per_slide: float = 4.0, fps: int = 10
) -> Path:
    """An H.264 video (640×360, no sound) showing each of ``slides`` as a text card in turn: one
    scene per slide. Needs PyAV (the ``video`` extra)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for text in slides:
            frame = av.VideoFrame.from_image(make_text_image(text, (640, 360)))
            for _ in range(round(seconds_per_slide * fps)):
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def make_encrypted_pdf(path: Path, password: str) -> Path:
    """A one-page PDF that cannot be opened without ``password``."""
    pdf = _new_pdf()
    pdf.set_encryption(owner_password=password, user_password=password)
    _add_text_page(pdf, "Confidential\n\nThis page is encrypted.")
    pdf.output(str(path))
    return path


def make_bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A PNG whose header declares ``width`` × ``height`` pixels but holds a few bytes of data.

    No pixels are allocated: the file is crafted chunk by chunk, for decompression-bomb tests.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(64)))
        + _png_chunk(b"IEND", b"")
    )
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _new_pdf() -> FPDF:
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_margins(25, 25)
    return pdf


def _add_text_page(pdf: FPDF, text: str) -> None:
    title, _, body = text.partition("\n\n")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=18)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=12)
    for paragraph in body.split("\n\n"):
        pdf.ln(4)
        pdf.multi_cell(0, 6, " ".join(paragraph.split()), new_x="LMARGIN", new_y="NEXT")


def _add_image_page(pdf: FPDF, image: Image.Image) -> None:
    pdf.add_page()
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=75)
    pdf.image(buffer, x=0, y=0, w=pdf.w, h=pdf.h)


MEETING = Path(__file__).parent / "sample_data" / "meeting.mp4"
"""A recorded meeting: 8 slides, each narrated with facts that are not on it (meeting.json)."""


def sample_meeting(folder: Path) -> Path:
    """Copy the packaged meeting video into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MEETING.name
    if not target.exists() or target.stat().st_size != MEETING.stat().st_size:
        shutil.copyfile(MEETING, target)
    return target
