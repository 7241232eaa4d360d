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
from hypothesis import strategies as st  # noqa: E402
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


HOSTILE_WHERE = st.one_of(
    st.integers(1, 2000).map(lambda n: "(" * n + "page = 1" + ")" * n),
    st.integers(1, 900).map(lambda n: "not " * n + "page = 1"),
    st.integers(1, 250).map(lambda n: "(page = 1 or " * n + "kind = 'x'" + ")" * n),
    st.integers(0, 400).map(lambda n: "page = 9" + "9" * n),
    st.sampled_from(["page = 1.5", "page in (1.5, 2e40)", "x = 1e999", "start_frame < 1e300"]),
    st.sampled_from(["a.b = 1", "metadata.a.b is null", "speaker != 5", "tags contains 'x'"]),
    st.text(alphabet="()'\"=<>!,.$@/ notandorisnull0123456789e-", max_size=200),
)


def test_filters_reach_the_routes_and_never_answer_5xx(running: Running) -> None:
    # schemathesis' own strings rarely parse as filters; these reach the parser's limits, the
    # SQL compiler and Lance through the documents and search operations
    with running.client(running.write_key) as http:
        http.post("/v1/collections", json={"name": "docs", "extractors": ["page_text@v1"]})
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    headers = {"Authorization": f"Bearer {running.write_key}", "X-Namespace": "default"}
    documents = schema["/v1/collections/{name}/documents"]["GET"]
    search = schema["/v1/collections/{name}/search"]["POST"]

    @given(case=documents.as_strategy(), where=HOSTILE_WHERE)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def listed(case: Any, where: str) -> None:
        case.path_parameters = {"name": "docs"}
        case.query = {"where": where}
        case.call_and_validate(headers=headers, checks=CHECKS)

    @given(case=search.as_strategy(), where=HOSTILE_WHERE)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def searched(case: Any, where: str) -> None:
        case.path_parameters = {"name": "docs"}
        case.body = {"query": "ferry", "where": where}
        case.call_and_validate(headers=headers, checks=CHECKS)

    listed()
    searched()
