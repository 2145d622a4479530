"""Bounded answers and connections, over real HTTP against the live server (SQLite and
PostgreSQL): a pull page of huge rows, oversized pushed fields, requests that never finish
arriving; and the files that hold secrets are private to their owner."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fieldrep.server import admin
from fieldrep.server.limits import MAX_FIELD_BYTES, RequestDeadline
from fieldrep.server.storage import Storage
from fieldrep.store.db import open_db
from fieldrep.sync.protocol import version_headers
from tests.sync.harness import PASSWORD, Laptop, LiveServer, Org, account, server_row

Make = Callable[[str], Laptop]


def _token(url: str, user: str, device: str) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=version_headers()) as c:
        r = c.post("/v1/login", json={"user": user, "password": PASSWORD, "device_id": device})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}", **version_headers()}


def test_a_pull_page_is_bounded_by_bytes(storage: Storage, org: Org, tmp_path: Path) -> None:
    big = "x" * 300_000
    ids = admin.put_rows(
        storage, "accounts", [account(org.t1, f"Big {i}", notes=big) for i in range(12)]
    )
    live = LiveServer(storage, app_options={"max_pull_bytes": 1_000_000})
    try:
        auth = _token(live.url, "rep1", "d1")
        with httpx.Client(base_url=live.url, headers=auth) as c:
            r = c.post("/v1/pull", json={"cursor": 0, "limit": 2000})
            assert r.status_code == 200
            page = r.json()
            assert page["more"] is True
            assert len(r.content) < 1_000_000 + 400_000  # the limit, plus at most one row
            assert 1 <= len(page["tables"]["accounts"]["rows"]) <= 4
        # A laptop still receives every row, page after page.
        lap = Laptop(tmp_path / "rep1.db", live.url)
        try:
            lap.login("rep1")
            assert lap.sync().verified is True
            assert set(ids) <= set(lap.rows("accounts"))
        finally:
            lap.close()
    finally:
        live.stop()


def test_an_oversized_change_is_refused_alone(
    storage: Storage, org: Org, server: LiveServer
) -> None:
    auth = _token(server.url, "rep1", "d1")
    huge_id = "0190aaaa-0000-7000-8000-000000000001"
    fine_id = "0190aaaa-0000-7000-8000-000000000002"
    clock = "0000018f00000000@d1"

    def upsert(seq: int, row_id: str, **fields: str) -> dict[str, object]:
        return {
            "seq": seq,
            "tbl": "accounts",
            "row_id": row_id,
            "op": "upsert",
            "fields": fields,
            "clocks": dict.fromkeys(fields, clock),
        }

    mutations = [
        upsert(
            1,
            huge_id,
            name="Huge",
            territory_id=org.t1,
            created_at="2024-01-01",
            updated_at="2024-01-01",
            notes="y" * (MAX_FIELD_BYTES + 1),
        ),
        upsert(2, fine_id, name="Fine", territory_id=org.t1, created_at="x", updated_at="x"),
    ]
    with httpx.Client(base_url=server.url, headers=auth) as c:
        body = {"device_id": "d1", "cursor": 0, "mutations": mutations}
        r = c.post("/v1/push", json=body)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["last_seq"] == 2
        assert answer["applied"] == 1
        (refused,) = answer["rejected"]
        assert refused["seq"] == 1
        assert "too large" in refused["reason"]
        assert "accounts.notes" in refused["reason"]
        # Sent again (a lost answer): still refused, still reported, nothing applied twice.
        again = c.post("/v1/push", json=body).json()
        assert again["skipped"] == 2
        assert [x["seq"] for x in again["rejected"]] == [1]
        # A request over the byte limit as a whole is still refused before anything is read.
        many = [
            upsert(3 + i, f"0190aaaa-0000-7000-8000-0000000001{i:02d}", name="x" * 200_000)
            for i in range(45)
        ]
        whole = c.post("/v1/push", json={"device_id": "d1", "cursor": 0, "mutations": many})
        assert whole.status_code == 413, whole.text
    assert server_row(storage, "accounts", huge_id) is None
    fine = server_row(storage, "accounts", fine_id)
    assert fine is not None
    assert fine["name"] == "Fine"
    with storage.read() as tx:
        assert tx.one("SELECT last_seq FROM devices WHERE device_id = 'd1'") == (2,)


@pytest.fixture
def quick_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RequestDeadline, "deadline", 0.5)


@pytest.mark.usefixtures("quick_deadline")
@pytest.mark.parametrize(
    "partial",
    [
        b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Ty",  # headers never finish
        b'POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"user":',  # body
    ],
    ids=["headers", "body"],
)
def test_a_half_sent_request_is_closed(storage: Storage, org: Org, partial: bytes) -> None:
    live = LiveServer(storage)
    try:
        with socket.create_connection(("127.0.0.1", live.port)) as sock:
            sock.settimeout(60)  # a safety net only: the server closes long before
            sock.sendall(partial)
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
        # Closed by the server (recv returned b""): no answer, or an error for the body case.
        assert received == b"" or received.startswith(b"HTTP/1.1 ")
    finally:
        live.stop()


def test_a_new_laptop_database_and_server_database_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "FieldRep"
    db = open_db(folder / "fieldrep.db")
    db.conn.close()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "fieldrep.db").st_mode) == 0o600
    server = Storage(str(tmp_path / "srv" / "server.db"))
    server.close()
    assert stat.S_IMODE(os.stat(tmp_path / "srv").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "srv" / "server.db").st_mode) == 0o600
