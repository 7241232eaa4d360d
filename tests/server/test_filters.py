"""Hostile ``where`` filters against a live server: each one is a 422 ``invalid_filter`` naming
the position it stopped at, on the documents and the search route alike; never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Running
from .test_api import TEXT_SPEC, upload

HOSTILE = [
    "page = 99999999999999999999",  # a huge integer literal
    "page = " + "9" * 400,
    "x = 1e999",
    "(" * 1500 + "page = 1" + ")" * 1500,  # deep nesting
    "(page = 1 or " * 250 + "page = 2" + ")" * 250,
    "not " * 900 + "page = 1",
    "page = 1 and",
    "x = 'unterminated",
]


@pytest.fixture
def served(running: Running, tmp_path: Path) -> Running:
    with running.client(running.write_key) as http:
        assert http.post("/v1/collections", json=TEXT_SPEC).status_code == 201
    note = tmp_path / "ferry.txt"
    note.write_text("The harbor ferry leaves at seven every morning.")
    done = running.wait_task(running.read_key, upload(running, note)["id"])
    assert done["state"] == "succeeded", done
    return running


@pytest.mark.parametrize("where", HOSTILE)
def test_hostile_filters_are_a_422_naming_the_position(served: Running, where: str) -> None:
    with served.client(served.read_key) as http:
        answers = [
            http.get("/v1/collections/docs/documents", params={"where": where}),
            http.post("/v1/collections/docs/search", json={"query": "ferry", "where": where}),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_filter", error
        assert isinstance(error["position"], int), error


def test_decimals_against_an_integer_column_compare_by_value(served: Running) -> None:
    with served.client(served.read_key) as http:
        for where, total in [("page = 1.5", 0), ("page is null or page < 1.5", 1)]:
            answer = http.get("/v1/collections/docs/documents", params={"where": where})
            assert answer.status_code == 200, answer.text
            assert answer.json()["total"] == total
