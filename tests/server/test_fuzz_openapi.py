"""Schemathesis fuzzes every operation of the server's own OpenAPI description over real HTTP, signed
in as a rep, on SQLite and PostgreSQL: whatever it sends, the answer is never a 5xx, its status is
one the description declares, and its body matches the declared schema. Derandomized, so a run is
the same every time; findings are kept as plain tests in ``test_bad_input.py``."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import version_headers
from tests.sync.harness import PASSWORD, LiveServer, Org


@pytest.fixture
def fuzzed(storage: Storage, org: Org, server: LiveServer) -> schemathesis.BaseSchema:
    with httpx.Client(base_url=server.url, headers=version_headers()) as client:
        token = client.post(
            "/v1/login", json={"user": "rep1", "password": PASSWORD, "device_id": "fuzz"}
        ).json()["token"]
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    schema.config.update(
        base_url=server.url,
        headers={**version_headers(), "Authorization": f"Bearer {token}"},
        request_timeout=30,
    )
    # Valid and invalid input alike, NUL characters included (PostgreSQL refuses them in text).
    schema.config.generation.update(
        modes=list(schemathesis.GenerationMode), allow_x00=True, deterministic=True
    )
    return schema


api = schemathesis.pytest.from_fixture("fuzzed")


@api.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_on_generated_input(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
