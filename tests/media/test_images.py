"""Opening images: pixel limit before decoding, corrupt data, EXIF orientation, thumbnails."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from PIL import Image

from omnidex.config import Limits
from omnidex.errors import CorruptMediaError, LimitExceededError, SourceNotFoundError
from omnidex.media.images import open_image, thumbnail_jpeg
from omnidex.samples import make_bomb_png, make_text_image

LIMITS = Limits()


def test_opens_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGBA", (30, 20), (255, 0, 0, 128)).save(path)
    image = open_image(path, LIMITS)
    assert (image.mode, image.size) == ("RGB", (30, 20))


def test_decompression_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    path = make_bomb_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even Pillow's DecompressionBombWarning may escape
        with pytest.raises(LimitExceededError, match="100000x100000") as info:
            open_image(path, LIMITS)
    assert info.value.context == {"source": str(path), "limit": "max_image_pixels"}


def test_the_pixel_limit_is_ours_not_pillows(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (20, 10)).save(path)
    with pytest.raises(LimitExceededError, match="20x10"):
        open_image(path, Limits(max_image_pixels=199))
    assert open_image(path, Limits(max_image_pixels=200)).size == (20, 10)


def test_truncated_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    make_text_image("truncated", (400, 300)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CorruptMediaError) as info:
        open_image(path, LIMITS)
    assert info.value.context["source"] == str(path)


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n garbage", b"not an image at all"])
def test_garbage(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    with pytest.raises(CorruptMediaError):
        open_image(path, LIMITS)


def test_missing(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        open_image(tmp_path / "gone.png", LIMITS)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to display
    Image.new("RGB", (60, 40)).save(path, exif=exif)
    assert open_image(path, LIMITS).size == (40, 60)


@pytest.mark.parametrize(
    ("size", "width", "expected"), [((800, 400), 320, (320, 160)), ((100, 50), 320, (100, 50))]
)
def test_thumbnail_keeps_aspect_and_never_upscales(
    size: tuple[int, int], width: int, expected: tuple[int, int]
) -> None:
    data = thumbnail_jpeg(Image.new("RGB", size, "white"), width)
    thumb = Image.open(io.BytesIO(data))
    assert (thumb.format, thumb.size) == ("JPEG", expected)
