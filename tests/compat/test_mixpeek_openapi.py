"""Schemathesis against the Mixpeek layer's own OpenAPI document (``/mixpeek/openapi.json``):
whatever it sends that the schema allows, the layer never answers with a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

import omnidex  # noqa: E402

from ..server.conftest import start_server  # noqa: E402


def test_no_request_the_schema_allows_is_a_server_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = omnidex.connect(home)
    _, key = db.create_key("w", "write")
    db.close()
    server, thread, url = start_server(home, workers=0, rate_per_minute=1e6, rate_burst=100_000)
    try:
        schema = schemathesis.openapi.from_url(f"{url}/mixpeek/openapi.json")
        headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 40
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

            check()
    finally:
        server.should_exit = True
        thread.join(30)
