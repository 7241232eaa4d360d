"""The Studio's search by image, in a real browser: an image picked or dropped on the search
page finds the matching picture (and video scene) first, alone or fused with text; a hit shows
its thumbnail and plays its moment. Served over a real server on the coloured shapes collection
(tiny CLIP trained in the session, ``tests/image_checkpoints.py``)."""

from __future__ import annotations

import base64
import io
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("av", reason="PyAV is not installed (pip install -e .[video])")

import omnidex

from ..image_checkpoints import shape_image, shapes_collection
from ..server.conftest import Running, start_server


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, trained_clip_path: Path, tiny_embedder_path: Path
) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("studio_images") / "home"
    db = omnidex.connect(home)
    shapes_collection(db, tmp_path_factory.mktemp("corpus"), trained_clip_path, tiny_embedder_path)
    _, write_key = db.create_key("writer", "write")
    _, read_key = db.create_key("reader", "read")
    db.close()
    server, thread, url = start_server(home, workers=0, rate_per_minute=100_000, rate_burst=1000)
    yield Running(url, home, write_key, read_key)
    server.should_exit = True
    thread.join(30)


def _chromium() -> str:
    pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no system Chromium (apt-get install chromium, or run scripts/install-system-deps)")


def _png(colour: str, shape: str, seed: int) -> bytes:
    buffer = io.BytesIO()
    shape_image(colour, shape, random.Random(seed)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_search_by_image_picked_dropped_and_fused(running: Running, tmp_path: Path) -> None:
    executable = _chromium()
    from playwright.sync_api import expect, sync_playwright

    shot = tmp_path / "blue.png"
    shot.write_bytes(_png("blue", "square", 40))
    green = base64.b64encode(_png("green", "circle", 41)).decode()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.goto(f"{running.url}/studio#/search?target=c:shapes")
        page.get_by_label("API key").fill(running.read_key)
        page.get_by_role("button", name="Use key").click()
        expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()

        page.get_by_role("button", name="Search").click()  # neither text nor image
        expect(page.locator("#results [role=alert]")).to_contain_text("drop or choose an image")

        # picked: the blue square among the pictures, its thumbnail shown
        page.set_input_files("#search-image", str(shot))
        expect(page.locator("#search-image-preview")).to_have_attribute("src", re.compile("^blob:"))
        expect(page.locator("#search-image-name")).to_have_text("blue.png")
        page.get_by_label(re.compile("^Filter")).fill("kind = 'image'")
        page.get_by_role("button", name="Search").click()
        first = page.locator("#results .group").first
        expect(first.locator("h3")).to_contain_text("blue-square.png")
        expect(first.locator(".hit img")).to_have_attribute("src", re.compile("^blob:"))
        expect(first).to_contain_text("image_embedding@v1/vector:image")

        # fused with text: the PDF first (found by its words in every text part), and the blue
        # square found by the image part (the tiny model's text tower ranks pictures at random
        # for "solar panel", so where it lands among the pictures is not asserted)
        page.get_by_label(re.compile("^Filter")).fill("")
        page.get_by_label("Query").fill("solar panel")
        page.locator("#search-k").fill("10")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#results .group h3").first).to_contain_text("manual.pdf")
        expect(page.locator("#results .group").first).to_contain_text("bm25")
        square = page.locator("#results .group", has_text="blue-square.png")
        expect(square).to_contain_text("image_embedding@v1/vector:image")

        # removed, then dropped: a green circle finds the video's second scene, which plays
        page.get_by_role("button", name="Remove image").click()
        expect(page.locator("#search-image-preview")).to_be_hidden()
        page.get_by_label("Query").fill("")
        page.locator("#search-k").fill("10")
        page.get_by_label(re.compile("^Filter")).fill("kind = 'scene'")
        transfer = page.evaluate_handle(
            """(data) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], "green.png", { type: "image/png" }));
                return transfer;
            }""",
            green,
        )
        page.dispatch_event("#search-image-drop", "drop", {"dataTransfer": transfer})
        expect(page.locator("#search-image-name")).to_have_text("green.png")
        page.get_by_role("button", name="Search").click()
        hit = page.locator("#results .hit").first
        expect(hit).to_contain_text("00:00:02")
        expect(hit.locator("img")).to_have_attribute("src", re.compile("^blob:"))
        page.screenshot(path=str(tmp_path / "search-by-image.png"), full_page=True)
        hit.locator("a.open").click()
        page.wait_for_function(
            "() => { const v = document.querySelector('#player');"
            " return v && v.readyState >= 2 && !v.seeking && v.currentTime > 0; }",
            timeout=30_000,
        )
        now = page.evaluate("document.querySelector('#player').currentTime")
        assert 2.0 <= now < 4.0, now
        browser.close()
    assert not errors, errors
