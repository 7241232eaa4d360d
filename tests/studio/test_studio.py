"""The Studio: its static files (served without a key, nothing external) and, where Playwright
and a system Chromium are present, a walk through every page in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import uvicorn

import omnidex
from omnidex.config import Settings
from omnidex.samples import make_pdf
from omnidex.server.app import create_app
from omnidex.server.config import ServerConfig
from omnidex.studio import STATIC_DIR

STUDIO_FILES = sorted(
    p.relative_to(STATIC_DIR).as_posix()
    for p in STATIC_DIR.rglob("*")
    if p.is_file() and p.suffix in (".html", ".css", ".js")
)
PHRASE = "the ferry timetable changes in March"


@dataclass
class Served:
    url: str
    key: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A server with auth on, one worker, a write key and a ``page_text@v1`` collection."""
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("studio", "write")
    db.create_collection("docs", ["page_text@v1"])
    db.close()
    port = _free_port()
    config = ServerConfig(port=port, workers=1, rate_per_minute=100_000, rate_burst=1000)
    app = create_app(Settings.from_env(home=home), config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield Served(f"http://127.0.0.1:{port}", key)
    server.should_exit = True
    thread.join(30)


# --- without a browser -------------------------------------------------------------------------


def test_studio_files_are_served_without_a_key(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        index = http.get("/studio")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in index.headers["content-security-policy"]
        assert http.get("/studio/").text == index.text
        for name in STUDIO_FILES:
            answer = http.get(f"/studio/{name}")
            assert answer.status_code == 200, name
        assert http.get("/studio/js/app.js").headers["content-type"].startswith("text/javascript")
        assert http.get("/v1/collections").status_code == 401  # the API still needs the key


def test_studio_serves_nothing_outside_its_folder(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        for path in (
            "/studio/__init__.py",
            "/studio/../server/app.py",
            "/studio/%2e%2e/server/app.py",
            "/studio/js/%2e%2e/%2e%2e/config.py",
            "/studio/missing.js",
        ):
            assert http.get(path).status_code == 404, path


def test_studio_is_not_in_the_openapi_schema(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        paths = http.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/studio")]


def test_studio_files_reference_no_external_host() -> None:
    assert {"index.html", "studio.css", "js/app.js", "js/api.js"} <= set(STUDIO_FILES)
    for name in STUDIO_FILES:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        external = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"')]*", text)
        # example.com appears only as a placeholder in an input
        assert all("example.com" in url for url in external), (name, external)
        assert "@import" not in text and "fonts.googleapis" not in text, name


def test_index_references_only_local_assets() -> None:
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r"(?:src|href)=\"([^\"]+)\"", index)
    assert refs
    for ref in refs:
        assert ref.startswith(("/studio/", "#", "data:")), ref
        if ref.startswith("/studio/"):
            assert (STATIC_DIR / ref.removeprefix("/studio/")).is_file(), ref
    for module in STUDIO_FILES:
        if module.endswith(".js"):
            text = (STATIC_DIR / module).read_text(encoding="utf-8")
            for imported in re.findall(r"from \"([^\"]+)\"", text):
                assert imported.startswith("./"), (module, imported)
                assert (STATIC_DIR / module).parent.joinpath(imported).is_file(), imported


# --- in a real browser ---------------------------------------------------------------------------


def _chromium() -> str:
    """The system Chromium's path, or a skip saying what is missing."""
    pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no system Chromium (apt-get install chromium, or run scripts/install-system-deps)")


def test_studio_in_a_browser(served: Served, tmp_path: Path) -> None:
    executable = _chromium()
    from playwright.sync_api import ConsoleMessage, expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    note = tmp_path / "notes.txt"
    note.write_text(f"Meeting notes. Reminder: {PHRASE}. Bring the invoices.\n")
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {served.key}"}
    ) as http:
        spec = {
            "name": "words",
            "description": "full-text search over the notes",
            "collections": ["docs"],
            "inputs": {"query": {"type": "text"}},
            "stages": [
                {"type": "feature_search", "params": {"searches": [{"feature": "text"}]}},
                {"type": "limit", "params": {"limit": 5}},
            ],
        }
        assert http.post("/v1/retrievers", json=spec).status_code == 201

    errors: list[str] = []
    allowed: list[str] = []  # console errors expected in the current step

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(a in message.text for a in allowed):
            errors.append(f"{message.text} at {message.location}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        page.goto(f"{served.url}/studio")
        expect(page.get_by_role("heading", name="Enter your API key")).to_be_visible()
        shot("01-key")
        allowed.append("status of 401")  # the browser logs the refused key
        page.get_by_label("API key").fill("odx_wrong")
        page.get_by_role("button", name="Use key").click()
        expect(page.get_by_role("heading", name="The key was refused")).to_be_visible()
        allowed.clear()
        page.get_by_label("API key").fill(served.key)
        page.get_by_role("button", name="Use key").click()
        expect(page.get_by_role("heading", name="Collections", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="docs", exact=True)).to_be_visible()
        assert served.key not in page.url
        shot("02-collections")
        page.get_by_label("Name").fill("extra")
        page.get_by_label("Or extractors, comma separated").fill("page_text@v1")
        page.get_by_role("button", name="Create").click()
        expect(page.get_by_role("heading", name="extra", exact=True)).to_be_visible()
        expect(page.locator("pre.json")).to_contain_text("page_text@v1")
        page.goto(f"{served.url}/studio#/collections")
        page.get_by_label("Name").fill("specced")
        page.get_by_label(re.compile("Or a pipeline spec")).fill(
            '{"extractors": [{"name": "page_text@v1", "params": {"chunk_tokens": 64}}]}'
        )
        page.get_by_role("button", name="Create").click()
        expect(page.get_by_role("heading", name="specced", exact=True)).to_be_visible()
        expect(page.locator("pre.json")).to_contain_text('"chunk_tokens": 64')

        page.goto(f"{served.url}/studio#/ingest?collection=docs")
        expect(page.get_by_role("heading", name="Ingest")).to_be_visible()
        page.set_input_files("#ingest-file", str(note))
        expect(page.locator("#ingest-feedback")).to_contain_text("Queued notes.txt")
        expect(page.locator("tr[data-state='succeeded']")).to_have_count(1, timeout=30_000)
        page.get_by_label("Or a URL").fill("http://127.0.0.1:9/refused.txt")
        page.get_by_role("button", name="Ingest URL").click()
        failed = page.locator("tr[data-state='failed']")
        expect(failed).to_have_count(1, timeout=30_000)
        expect(failed.locator("td.bad")).not_to_be_empty()
        expect(failed.get_by_role("button", name="Retry")).to_be_visible()
        shot("03-ingest")
        failed.get_by_role("button", name="Retry").click()
        expect(page.locator("#status")).to_contain_text("retry sent")
        expect(page.locator("#ingest-feedback .error")).to_have_count(0)
        expect(failed).to_have_count(1, timeout=30_000)  # refused again, and shown again

        page.goto(f"{served.url}/studio#/collections/docs")
        expect(page.get_by_role("heading", name="docs", exact=True)).to_be_visible()
        expect(page.locator("main")).to_contain_text("1 objects · 1 documents · 0 failed")
        shot("04-collection")

        page.goto(f"{served.url}/studio#/search?target=c:docs")
        page.get_by_label("Query").fill("ferry timetable")
        page.get_by_role("button", name="Search").click()
        hit = page.locator("#results .hit").first
        expect(hit).to_contain_text(PHRASE)
        expect(page.locator("#results .explain")).to_contain_text("feature_search")
        shot("05-search")
        hit.locator("a.open").click()
        expect(page.locator("main h1")).to_have_text(re.compile(r"\.txt$"))  # the stored name
        expect(page.locator("#scene")).to_contain_text(PHRASE)
        shot("06-object")

        page.goto(f"{served.url}/studio#/search?target=r:words")
        page.get_by_label("Query").fill("invoices")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#results .explain")).to_contain_text("feature_search")
        shot("07-search-explain")

        page.goto(f"{served.url}/studio#/retrievers")
        page.get_by_role("link", name="words").click()
        expect(page.get_by_role("heading", name="words", exact=True)).to_be_visible()
        shot("08-retriever")
        edited: dict[str, Any] = json.loads(page.locator("#spec-json").input_value())
        edited["stages"][0]["type"] = "no_such_stage"
        page.locator("#spec-json").fill(json.dumps(edited, indent=2))
        allowed.append("status of 422")  # the browser logs the refused save
        page.get_by_role("button", name="Save").click()
        error = page.locator("#spec-error .error")
        expect(error).to_contain_text("no_such_stage")
        expect(page.locator("#spec-json")).to_have_attribute("aria-invalid", "true")
        allowed.clear()
        shot("09-retriever-error")

        pdf = make_pdf(tmp_path / "minutes.pdf", ["Minutes page one: budget", "Page two: hiring"])
        page.goto(f"{served.url}/studio#/ingest?collection=docs")
        page.set_input_files("#ingest-file", str(pdf))
        expect(page.locator("tr[data-state='succeeded']")).to_have_count(2, timeout=60_000)
        page.goto(f"{served.url}/studio#/collections/docs")
        page.get_by_role("link", name=re.compile(r"\.pdf$")).click()
        expect(page.locator("main")).to_contain_text("page 2")
        expect(page.locator("main")).to_contain_text("budget")
        shot("10-pdf")

        page.goto(f"{served.url}/studio#/collections")  # the keyboard alone reaches every page
        expect(page.get_by_role("heading", name="Collections", exact=True)).to_be_visible()
        reached = []
        for _ in range(30):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.textContent.trim()"))
            if reached[-1] == "Retrievers":
                break
        assert reached[-1] == "Retrievers", reached
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Retrievers", exact=True)).to_be_visible()

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{served.url}/studio#/search?target=c:docs&q=ferry")
        expect(page.locator("#results .hit").first).to_contain_text(PHRASE)
        shot("10-search-phone")  # after 10-pdf in name order, and in time
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        browser.close()

    print(f"screenshots: {shots}")
    assert sorted(p.name for p in shots.iterdir())[0] == "01-key.png"
    assert urls and not [u for u in urls if served.key in u]  # the key never rides in a URL
    assert not [u for u in urls if not u.startswith((served.url, "blob:", "data:"))], urls
    assert not errors, errors


@pytest.mark.slow
def test_studio_plays_the_moment_of_a_hit(served: Served, tmp_path: Path) -> None:
    """The sample meeting uploaded through the page, a spoken phrase searched, the hit clicked:
    the video plays from inside the scene."""
    executable = _chromium()
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (run scripts/install-system-deps)")
    pytest.importorskip("av", reason="PyAV is not installed (pip install -e .[video])")
    pytest.importorskip(
        "pocketsphinx", reason="pocketsphinx is not installed (pip install -e .[video])"
    )
    from playwright.sync_api import expect, sync_playwright

    video = Path(str(files("omnidex.sample_data"))) / "meeting.mp4"
    truth = json.loads(video.with_name("meeting.json").read_text(encoding="utf-8"))
    churn = truth["slides"][1]  # its narration ends "… offer them free training"
    auth = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.url, headers=auth) as http:
        spec = {"name": "meeting", "extractors": ["ocr@v1", "transcription@v1"]}
        assert http.post("/v1/collections", json=spec).status_code == 201
    shots = tmp_path / "screenshots"
    shots.mkdir()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.goto(f"{served.url}/studio#/ingest?collection=meeting")
        page.get_by_label("API key").fill(served.key)
        page.get_by_role("button", name="Use key").click()
        page.set_input_files("#ingest-file", str(video))
        expect(page.locator("tr[data-state='succeeded']")).to_have_count(1, timeout=120_000)

        page.goto(f"{served.url}/studio#/search?target=c:meeting")
        page.get_by_label("Query").fill("free training")
        page.get_by_role("button", name="Search").click()
        hit = page.locator("#results .hit").first
        expect(hit).to_contain_text("free training")
        expect(hit.locator("img")).to_have_attribute("src", re.compile("^blob:"))
        shot = shots / "11-search-video.png"
        page.screenshot(path=str(shot), full_page=True)
        hit.locator("a.open").click()
        expect(page.locator("#timeline img")).to_have_count(len(truth["slides"]))
        expect(page.locator("#scene")).to_contain_text("free training")
        page.wait_for_function(
            "() => { const v = document.querySelector('#player');"
            " return v && v.readyState >= 2 && !v.seeking && v.currentTime > 0; }",
            timeout=30_000,
        )
        now = page.evaluate("document.querySelector('#player').currentTime")
        assert churn["start_s"] <= now < churn["end_s"], (now, churn)
        page.screenshot(path=str(shots / "12-object-video.png"), full_page=True)
        browser.close()
    print(f"screenshots: {shots}")
    assert not errors, errors
