"""Schemathesis against the published OpenAPI document of a running server: whatever it sends
that the schema allows, the server never answers with a 5xx, and its answers match the schema.

Each operation gets its own Hypothesis run (schemathesis' pytest plugin does not load under this
pytest, so the operations are driven directly).
"""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Running  # noqa: E402

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_api_keeps_its_published_contract(running: Running) -> None:
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "docs", "extractors": ["page_text@v1"]})
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    headers = {"Authorization": f"Bearer {running.write_key}", "X-Namespace": "default"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
