"""Query by image over the wire: REST (base64 JSON and multipart), the remote client and the CLI
(``--server`` and ``--data``), against a real server on a collection of coloured shapes."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import omnidex
from omnidex.cli.main import app
from omnidex.errors import InvalidSpecError, SourceNotFoundError

from ..image_checkpoints import shape_image, shapes_collection
from .conftest import Running, start_server

SEARCH = "/v1/collections/shapes/search"
ONLY_IMAGES = "kind = 'image'"


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` pixels and holds none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"")


def blue_square() -> Image.Image:
    return shape_image("blue", "square", random.Random(40))


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, trained_clip_path: Path, tiny_embedder_path: Path
) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("image_queries") / "home"
    db = omnidex.connect(home)
    shapes_collection(db, tmp_path_factory.mktemp("corpus"), trained_clip_path, tiny_embedder_path)
    _, write_key = db.create_key("writer", "write")
    _, read_key = db.create_key("reader", "read")
    db.close()
    server, thread, url = start_server(
        home, workers=0, rate_per_minute=100_000, rate_burst=1000, max_query_image_bytes=50_000
    )
    yield Running(url, home, write_key, read_key)
    server.should_exit = True
    thread.join(30)


def test_rest_base64_and_multipart(running: Running) -> None:
    data = png(blue_square())
    with running.client(running.read_key) as http:
        sent = {"image": base64.b64encode(data).decode(), "where": ONLY_IMAGES}
        hits = http.post(SEARCH, json=sent).raise_for_status().json()
        assert Path(hits[0]["source"]).name == "blue-square.png"
        assert "search/image_embedding@v1/vector:image" in hits[0]["provenance"]
        form = http.post(
            SEARCH, files={"image": ("shot.png", data, "image/png")}, data={"where": ONLY_IMAGES}
        )
        assert Path(form.raise_for_status().json()[0]["source"]).name == "blue-square.png"
        both = http.post(
            f"{SEARCH}/explain",
            files={"image": ("shot.png", data, "image/png")},
            data={"query": "solar panel", "k": "10"},
        ).raise_for_status()
        hits = both.json()["hits"]
        by_name = {Path(h["source"]).name: h["provenance"] for h in hits}
        # the PDF first, found by its words in every text part; the blue square by the image
        # part (the tiny model's text tower ranks pictures at random for "solar panel", so where
        # it lands among them is not asserted)
        assert Path(hits[0]["source"]).name == "manual.pdf"
        assert "search/bm25" in by_name["manual.pdf"]
        assert by_name["blue-square.png"]["search/image_embedding@v1/vector:image"]["rank"] == 1


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"k": 3}, 422, None),
        ({"image": "not base64!"}, 422, "image"),
        ({"image": "\u00e5"}, 422, "image"),  # not ASCII: was a 500
        ({"image": base64.b64encode(b"no image here").decode()}, 422, "corrupt_media"),
        ({"image": base64.b64encode(b"x" * 60_000).decode()}, 413, None),
    ],
)
def test_rest_bad_images_are_4xx_with_a_reason(
    running: Running, body: dict[str, object], status: int, said: str | None
) -> None:
    with running.client(running.read_key) as http:
        answer = http.post(SEARCH, json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"]
    if said:
        assert said in (error.get("field"), error["code"])


def test_rest_multipart_too_big_and_pixel_limit(running: Running) -> None:
    with running.client(running.read_key) as http:
        big = http.post(SEARCH, files={"image": ("big.png", b"x" * 60_000, "image/png")})
        assert big.status_code == 413 and "max_query_image_bytes" in big.text
        huge = png_header(100_000, 100_000)  # over max_image_pixels; refused before decoding
        answer = http.post(SEARCH, files={"image": ("huge.png", huge, "image/png")})
        assert answer.status_code == 413 and "max_image_pixels" in answer.text


def test_remote_client(running: Running, tmp_path: Path) -> None:
    blue_square().save(tmp_path / "shot.png")
    shapes = omnidex.Client(running.url, running.read_key).collection("shapes")
    for given in (
        tmp_path / "shot.png",
        str(tmp_path / "shot.png"),
        png(blue_square()),
        blue_square(),
    ):
        hits = shapes.search(image=given, where=ONLY_IMAGES)
        assert Path(hits[0].source).name == "blue-square.png"
    explained = shapes.explain("a blue square", image=blue_square(), where=ONLY_IMAGES)
    assert Path(explained.hits[0].source).name == "blue-square.png"
    with pytest.raises(InvalidSpecError):
        shapes.search()
    with pytest.raises(SourceNotFoundError):
        shapes.search(image=tmp_path / "missing.png")


def test_cli_search_by_image(running: Running, tmp_path: Path) -> None:
    blue_square().save(tmp_path / "shot.png")
    runner = CliRunner()
    remote = ["--server", running.url, "--api-key", running.read_key]
    local = ["--data", str(running.home)]
    for where in (remote, local):
        args = [*where, "search", "-c", "shapes", "--image", str(tmp_path / "shot.png")]
        result = runner.invoke(app, [*args, "--where", ONLY_IMAGES, "--json"])
        assert result.exit_code == 0, result.output
        assert Path(json.loads(result.output)[0]["source"]).name == "blue-square.png"
    shot = str(tmp_path / "shot.png")
    table = runner.invoke(app, [*local, "search", "a blue square", "-c", "shapes", "--image", shot])
    assert table.exit_code == 0 and "'a blue square' + image" in table.output
    # typed errors, which the entry point prints as one line (tests/cli covers that printing)
    missing = runner.invoke(app, [*local, "search", "-c", "shapes", "--image", "nope.png"])
    assert isinstance(missing.exception, SourceNotFoundError), missing.output
    nothing = runner.invoke(app, [*local, "search", "-c", "shapes"])
    assert isinstance(nothing.exception, InvalidSpecError)
    assert "text query, an image" in str(nothing.exception)
