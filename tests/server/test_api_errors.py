"""Bad input over real HTTP: always a 4xx with a clear message, never a 500, nothing half-applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import version_headers
from tests.sync.harness import PASSWORD, LiveServer, Org, server_view

CLOCK = "0190000000000000@dev-a"


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=version_headers()) as c:
        yield c


def _login(client: httpx.Client, user: str, device: str) -> dict[str, str]:
    r = client.post("/v1/login", json={"user": user, "password": PASSWORD, "device_id": device})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _mutation(seq: int, row_id: str, fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "tbl": "accounts",
        "row_id": row_id,
        "op": "upsert",
        "fields": fields,
        "clocks": dict.fromkeys(fields, CLOCK),
        **extra,
    }


def _check(r: httpx.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message"}
    assert words in body["message"]


def test_bad_requests_get_clear_4xx(storage: Storage, org: Org, client: httpx.Client) -> None:
    auth = _login(client, "rep1", "dev-a")
    ok = _mutation(
        1, "acc-1", {"name": "A", "territory_id": org.t1, "created_at": "x", "updated_at": "x"}
    )
    post = client.post
    _check(
        post(
            "/v1/push", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
        ),
        422,
        "JSON",
    )
    _check(
        post("/v1/push", json={"device_id": "dev-a", "mutations": "many"}, headers=auth),
        422,
        "mutations",
    )
    bad_type = _mutation(1, "acc-1", {"name": 42})
    _check(
        post(
            "/v1/push",
            json={"device_id": "dev-a", "mutations": [ok, {**bad_type, "seq": 2}]},
            headers=auth,
        ),
        422,
        "accounts.name must be text",
    )
    unknown_tbl = {**ok, "tbl": "salaries"}
    _check(
        post("/v1/push", json={"device_id": "dev-a", "mutations": [unknown_tbl]}, headers=auth),
        422,
        "unknown table 'salaries'",
    )
    unknown_field = _mutation(1, "acc-1", {"salary": 1})
    _check(
        post("/v1/push", json={"device_id": "dev-a", "mutations": [unknown_field]}, headers=auth),
        422,
        "no field 'salary'",
    )
    no_clock = {**ok, "clocks": {}}
    _check(
        post("/v1/push", json={"device_id": "dev-a", "mutations": [no_clock]}, headers=auth),
        422,
        "clock",
    )
    # None of the above applied anything, not even the valid first mutation.
    assert server_view(storage, org.rep1, "accounts") == {}
    huge = {"device_id": "dev-a", "mutations": [], "pad": "x" * (9 * 1024 * 1024)}
    _check(post("/v1/push", json=huge, headers=auth), 413, "larger than")
    _check(
        post("/v1/push", json={"device_id": "dev-b", "mutations": [ok]}, headers=auth),
        403,
        "another device",
    )
    _check(
        post(
            "/v1/push", json={"device_id": "dev-a", "mutations": [{**ok, "seq": 3}]}, headers=auth
        ),
        409,
        "2 changes are missing",
    )
    r = post("/v1/push", json={"device_id": "dev-a", "mutations": [ok]}, headers=auth)
    assert r.json()["applied"] == 1
    replay = post("/v1/push", json={"device_id": "dev-a", "mutations": [ok]}, headers=auth)
    assert (replay.json()["applied"], replay.json()["skipped"]) == (0, 1)
    _check(client.get("/v1/pull?cursor=abc", headers=auth), 422, "cursor")
    _check(post("/v1/pull", json={"cursor": 0, "limit": 10**9}, headers=auth), 422, "limit")
    _check(client.get("/v1/nowhere", headers=auth), 404, "Not Found")


def test_authentication_and_tokens(storage: Storage, org: Org, client: httpx.Client) -> None:
    for path in ("/v1/pull", "/v1/checksums"):
        _check(client.get(path), 401, "sign in")
    _check(
        client.post(
            "/v1/push",
            json={"device_id": "d", "mutations": []},
            headers={"Authorization": "Bearer forged"},
        ),
        401,
        "sign in again",
    )
    r = client.post("/v1/login", json={"user": "rep1", "password": "wrong", "device_id": "d1"})
    _check(r, 401, "wrong user name or password")
    r = client.post("/v1/login", json={"user": "nobody", "password": "x", "device_id": "d1"})
    _check(r, 401, "wrong user name or password")
    auth = _login(client, "rep1", "d1")
    assert client.get("/v1/checksums", headers=auth).status_code == 200
    assert client.post("/v1/logout", headers=auth).status_code == 204
    _check(client.get("/v1/checksums", headers=auth), 401, "sign in again")
    # Disabling a user revokes every device at once.
    auth2 = _login(client, "rep2", "d2")
    assert admin.disable_user(storage, "rep2") == 1
    _check(client.get("/v1/checksums", headers=auth2), 401, "revoked")
    r = client.post("/v1/login", json={"user": "rep2", "password": PASSWORD, "device_id": "d2"})
    _check(r, 401, "wrong user name or password")  # as for a wrong password: nothing confirmed
    # The server keeps only token hashes.
    with storage.read() as tx:
        hashes = [row[0] for row in tx.all("SELECT token_hash FROM devices") if row[0]]
    assert all(len(h) == 64 for h in hashes)
    assert auth2["Authorization"].split()[1] not in hashes


def test_versions_and_health(org: Org, client: httpx.Client, server: LiveServer) -> None:
    assert client.get("/v1/health").json()["status"] == "ok"
    with httpx.Client(base_url=server.url) as bare:
        r = bare.post("/v1/login", json={"user": "rep1", "password": PASSWORD, "device_id": "d"})
        _check(r, 426, "please upgrade")
        r = bare.post(
            "/v1/login",
            json={"user": "rep1", "password": PASSWORD, "device_id": "d"},
            headers={"FieldRep-Protocol": "99", "FieldRep-Schema": "99"},
        )
        _check(r, 426, "update the server")
        r = bare.post("/v1/login", json={}, headers={"FieldRep-Protocol": "one"})
        _check(r, 422, "whole numbers")
    spec = client.get("/openapi.json").json()
    assert {"/v1/push", "/v1/pull", "/v1/login", "/v1/checksums"} <= set(spec["paths"])


def test_login_is_rate_limited(storage: Storage, org: Org) -> None:
    live = LiveServer(storage, login_limit=3)
    try:
        with httpx.Client(base_url=live.url, headers=version_headers()) as c:
            for _ in range(3):
                r = c.post("/v1/login", json={"user": "rep1", "password": "bad", "device_id": "d"})
                assert r.status_code == 401
            r = c.post("/v1/login", json={"user": "rep1", "password": PASSWORD, "device_id": "d"})
            _check(r, 429, "too many failed sign-ins")
            assert int(r.headers["Retry-After"]) > 0
    finally:
        live.stop()


def test_rejected_mutation_does_not_block_the_rest(
    storage: Storage, org: Org, client: httpx.Client
) -> None:
    auth = _login(client, "rep1", "dev-a")
    good = {"name": "Ok", "territory_id": org.t1, "created_at": "x", "updated_at": "x"}
    muts = [
        _mutation(1, "acc-bad", {**good, "status": "bogus"}),
        _mutation(2, "ter-new", {"name": "Mine", "created_at": "x"}, tbl="territories"),
        _mutation(3, "acc-ok", good),
    ]
    r = client.post("/v1/push", json={"device_id": "dev-a", "mutations": muts}, headers=auth)
    body = r.json()
    assert (body["applied"], body["last_seq"]) == (1, 3)
    reasons = {x["row_id"]: x["reason"] for x in body["rejected"]}
    assert "not allowed" in reasons["acc-bad"]
    assert "only a manager or administrator" in reasons["ter-new"]
    assert set(server_view(storage, org.admin, "accounts")) == {"acc-ok"}
    with storage.read() as tx:
        assert len(tx.all("SELECT seq FROM rejections")) == 2


def test_without_docs_only_health_and_login_answer_unauthenticated(
    storage: Storage, org: Org
) -> None:
    live = LiveServer(storage, docs=False)
    try:
        with httpx.Client(base_url=live.url, headers=version_headers()) as c:
            assert c.get("/v1/health").status_code == 200
            for path in ("/openapi.json", "/docs", "/redoc"):
                assert c.get(path).status_code == 404, path
            _check(c.post("/v1/pull", json={}), 401, "sign in first")
    finally:
        live.stop()
