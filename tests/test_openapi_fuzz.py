"""Schemathesis over the whole API as /openapi.json describes it: no 5xx, no response that breaks the schema.

Every operation gets a bounded number of generated requests (valid and invalid) carrying a valid
key of each family and the admin token; responses are checked against their documented status
codes, content types, bodies and headers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server_harness import ADMIN, LiveServer, start  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("fuzz"), fetch_timeout=2)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def headers(live: LiveServer) -> dict[str, str]:
    _, key = live.account(tier="enterprise", credits=100_000, coins=100_000)
    return {"Authorization": f"Bearer {key}", "Apikey": key, "X-Admin-Token": ADMIN}


def test_the_api_keeps_its_documented_promises(live: LiveServer, headers: dict[str, str]) -> None:
    """(Schemathesis' own pytest plugin does not load under this pytest; its engine does, so each
    operation's strategy runs under hypothesis here.)"""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def run(case) -> None:  # noqa: ANN001
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        try:
            run()
        except Exception as exc:  # collect every operation's first failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
