"""Bad input found by fuzzing and by reading the storage layers, kept as plain tests (SQLite and
PostgreSQL): each gets a 4xx with a clear message, nothing of the request is applied, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import version_headers
from tests.sync.harness import PASSWORD, LiveServer, Org, server_view

CLOCK = "0190000000000000@dev-a"


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=version_headers()) as c:
        yield c


@pytest.fixture
def auth(org: Org, client: httpx.Client) -> dict[str, str]:
    r = client.post("/v1/login", json={"user": "rep1", "password": PASSWORD, "device_id": "dev-a"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _account(org: Org, seq: int, row_id: str, **fields: Any) -> dict[str, Any]:
    values = {"name": "A", "territory_id": org.t1, "created_at": "x", "updated_at": "x", **fields}
    return {
        "seq": seq,
        "tbl": "accounts",
        "row_id": row_id,
        "op": "upsert",
        "fields": values,
        "clocks": dict.fromkeys(values, CLOCK),
    }


def _check(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"}
    assert words in body["message"], body


@pytest.mark.parametrize(
    "body",
    [
        # Found by schemathesis: FastAPI answered an undocumented 400 "error parsing the body".
        b"^\xa1)\xff",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"device_id": "dev-a", "mutations": [], "cursor": 1' + b"0" * 5000 + b"}",
    ],
    ids=["not-utf8", "deeply-nested", "endless-number"],
)
def test_body_that_cannot_be_decoded(
    client: httpx.Client, auth: dict[str, str], body: bytes
) -> None:
    r = client.post("/v1/push", content=body, headers={**auth, "Content-Type": "application/json"})
    _check(r, 422, "cannot be read as JSON")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"name": "Nul\x00Byte"}, "NUL"),
        ({"employees": 2**70}, "too large"),
        ({"employees": -(2**70)}, "too large"),
    ],
)
def test_values_a_database_cannot_hold_refuse_the_whole_push(
    storage: Storage,
    org: Org,
    client: httpx.Client,
    auth: dict[str, str],
    fields: dict[str, Any],
    words: str,
) -> None:
    muts = [_account(org, 1, "acc-ok"), _account(org, 2, "acc-bad", **fields)]
    r = client.post("/v1/push", json={"device_id": "dev-a", "mutations": muts}, headers=auth)
    _check(r, 422, words)
    assert server_view(storage, org.rep1, "accounts") == {}


def test_not_a_number_is_refused(
    storage: Storage, org: Org, client: httpx.Client, auth: dict[str, str]
) -> None:
    # Python's json reads NaN and Infinity; a row holding them could never be sent back as JSON.
    body = (
        '{"device_id": "dev-a", "mutations": [{"seq": 1, "tbl": "accounts", "row_id": "acc-1",'
        ' "op": "upsert", "fields": {"name": "A", "potential": NaN}, "clocks": {"name": "'
        + CLOCK
        + '", "potential": "'
        + CLOCK
        + '"}}]}'
    )
    r = client.post(
        "/v1/push", content=body.encode(), headers={**auth, "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert server_view(storage, org.rep1, "accounts") == {}


@pytest.mark.parametrize(
    "payload",
    [
        {"cursor": 2**70},
        {"cursor": 0, "scope_key": "\x00"},
        {"cursor": 0, "refetch": [{"tbl": "accounts", "id": "x"}], "limit": 0},
    ],
)
def test_pull_with_impossible_values(
    client: httpx.Client, auth: dict[str, str], payload: dict[str, Any]
) -> None:
    r = client.post("/v1/pull", json=payload, headers=auth)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"


def test_login_with_nul_and_huge_base(org: Org, client: httpx.Client) -> None:
    r = client.post("/v1/login", json={"user": "rep\x001", "password": "x", "device_id": "d"})
    _check(r, 422, "NUL")
    r = client.post(
        "/v1/login",
        json={"user": "rep1", "password": PASSWORD, "device_id": "d", "base_seq": 2**70},
    )
    _check(r, 422, "base_seq")


def test_refetch_cannot_read_outside_scope(
    storage: Storage, org: Org, client: httpx.Client, auth: dict[str, str]
) -> None:
    from fieldrep.server import admin

    (south,) = admin.put_rows(storage, "accounts", [{"name": "Secret", "territory_id": org.t2}])
    r = client.post(
        "/v1/pull",
        json={"cursor": 0, "refetch": [{"tbl": "accounts", "id": south}]},
        headers=auth,
    )
    assert r.status_code == 200
    assert "Secret" not in r.text
    assert {"tbl": "accounts", "id": south} in r.json()["evict"]
