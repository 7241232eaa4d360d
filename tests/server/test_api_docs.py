"""``/docs`` (Swagger UI, also under ``/mixpeek``) works offline: its page names only this
server's URLs, they answer with the right types, and a real Chromium that may reach nothing else
renders the API's operations."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from ..studio.test_studio import _chromium
from .conftest import Running

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("prefix", ["", "/mixpeek"])
def test_docs_page_names_only_local_assets_that_answer(running: Running, prefix: str) -> None:
    with httpx.Client(base_url=running.url) as http:  # no key: the docs are public
        page = http.get(f"{prefix}/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        urls += re.findall(r"url: '([^']+)'", page.text)
        assert len(urls) == 4, urls  # css, icon, script, openapi.json
        for url in urls:
            assert url.startswith(f"{prefix}/") and not urlsplit(url).netloc, url
            answer = http.get(url)
            assert answer.status_code == 200, url
            kind = TYPES.get(url[url.rfind(".") :], "application/json")
            assert answer.headers["content-type"].startswith(kind), url
        assert http.get(f"{prefix}/redoc").status_code == 404  # ReDoc would need a CDN: off
        assert http.get(f"{prefix}/docs/assets/LICENSE").status_code == 404


def test_swagger_ui_renders_with_no_other_host_reachable(running: Running) -> None:
    executable = _chromium()
    from playwright.sync_api import Route, expect, sync_playwright

    elsewhere: list[str] = []
    errors: list[str] = []

    def only_here(route: Route) -> None:
        if route.request.url.startswith(running.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page()
        page.route("**/*", only_here)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.goto(f"{running.url}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("omnidex", timeout=30_000)
        expect(
            page.locator(".opblock-summary-path", has_text="/v1/collections").first
        ).to_be_visible()
        browser.close()
    assert elsewhere == [] and errors == []
