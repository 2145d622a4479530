"""The server keeps the newest clock of a field even when it carries the value already stored: a
later write with an older clock must then lose (SQLite and PostgreSQL, over real HTTP)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from fieldrep.domain.hlc import format_clock, pack
from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import version_headers
from tests.sync.harness import PASSWORD, LiveServer, Org, server_row


def _push(client: httpx.Client, device: str, row: dict[str, Any], clock: str) -> None:
    r = client.post("/v1/login", json={"user": "rep1", "password": PASSWORD, "device_id": device})
    assert r.status_code == 200, r.text
    mutation = {
        "seq": 1,
        "tbl": "accounts",
        "row_id": "acc-1",
        "op": "upsert",
        "fields": row,
        "clocks": dict.fromkeys(row, clock),
    }
    r = client.post(
        "/v1/push",
        json={"device_id": device, "mutations": [mutation]},
        headers={"Authorization": f"Bearer {r.json()['token']}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == []


def test_a_newer_clock_with_the_same_value_still_beats_an_older_write(
    storage: Storage, server: LiveServer, org: Org
) -> None:
    base = int(time.time() * 1000) - 60_000
    t5, t7, t10 = (format_clock(pack(base + ms, 0), d) for ms, d in ((5, "a"), (7, "c"), (10, "b")))
    row = {"name": "Acme", "territory_id": org.t1, "created_at": "x", "updated_at": "x"}
    with httpx.Client(base_url=server.url, headers=version_headers()) as client:
        _push(client, "dev-a", row, t5)  # created
        _push(client, "dev-b", {"name": "Acme"}, t10)  # the same name, written later
        _push(client, "dev-c", {"name": "Acme Ltd"}, t7)  # a rename made between the two
    stored = server_row(storage, "accounts", "acc-1")
    assert stored is not None
    assert stored["name"] == "Acme"  # the newest write (t10) wins, whatever its value
