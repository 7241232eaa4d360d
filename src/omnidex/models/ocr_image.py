"""What an OCR engine is shown: a grey picture with dark text on a light ground everywhere.

Tesseract reads dark text on light paper; white text on a dark title bar it misses. ``for_ocr``
turns the picture grey and inverts every region whose surroundings are dark (a box blur about a
tenth of the picture's height across gives each pixel its ground), so a light-on-dark title reads
like the rest of the slide. Regions that hold no text stay textless either way.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

DARK_GROUND = 110
"""A pixel whose surroundings average below this grey level (of 255) is on a dark ground."""


def for_ocr(image: Image.Image) -> Image.Image:
    """``image`` as grey, with light-on-dark regions inverted to dark-on-light."""
    grey = image.convert("L")
    radius = max(2, min(grey.size) // 20)
    ground = np.asarray(grey.filter(ImageFilter.BoxBlur(radius)))
    pixels = np.asarray(grey)
    if not (ground < DARK_GROUND).any():
        return grey
    return Image.fromarray(np.where(ground < DARK_GROUND, 255 - pixels, pixels).astype(np.uint8))
