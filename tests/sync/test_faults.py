"""Faults on real parts: lost responses, duplicated and reordered pushes, a server stopped
mid-sync, a laptop failing in the middle of a page, a too-old client."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.store import outbox
from fieldrep.sync.client import RECEIVING, SyncEngine
from fieldrep.sync.protocol import Mutation, PushRequest, PushResponse
from fieldrep.sync.transport import (
    HttpTransport,
    NetworkError,
    ServerRefused,
    UpgradeRequired,
)
from tests.sync.harness import Laptop, LiveServer, Org, account, server_view

Make = Callable[[str], Laptop]


class ResponseLost(HttpTransport):
    """Delivers pushes to the server, then behaves as if the connection dropped before the answer."""

    def push(self, req: PushRequest) -> PushResponse:
        super().push(req)
        raise NetworkError("connection reset while reading the response")


def _sync_losing_the_answer(rep: Laptop, server: LiveServer) -> None:
    """A sync whose push the server applies but whose answer never reaches the laptop."""
    lossy = ResponseLost(server.url, rep.transport.token)
    try:
        with pytest.raises(NetworkError):
            SyncEngine(rep.writer, lossy).run()
    finally:
        lossy.close()


def _rep(laptop: Make) -> Laptop:
    lap = laptop("rep1")
    lap.login("rep1")
    lap.sync()
    return lap


def test_lost_push_response_is_retried_without_duplicates(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    rep = _rep(laptop)
    ids = [rep.writer.insert("accounts", account(org.t1, f"A{i}")) for i in range(3)]
    rep.writer.update("accounts", ids[0], {"notes": "n"})
    _sync_losing_the_answer(rep, server)
    assert rep.writer.pending_count() == 4  # not acknowledged, so still queued
    assert set(server_view(storage, org.rep1, "accounts")) == set(ids)
    result = rep.sync()
    assert (result.pushed, result.skipped) == (0, 4)
    assert rep.writer.pending_count() == 0
    assert rep.rows("accounts") == server_view(storage, org.rep1, "accounts")
    assert result.verified is True


def test_edit_after_a_lost_push_response_is_no_copied_database(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    """The server applied an insert whose answer was lost; the rep then edits the row. The retry
    must replay the very insert the server applied (not the row as it is now, which the server
    would take for another laptop's change under the same number), then send the edit."""
    rep = _rep(laptop)
    aid = rep.writer.insert("accounts", account(org.t1, "Before"))
    _sync_losing_the_answer(rep, server)
    rep.writer.update("accounts", aid, {"name": "After", "notes": "edited offline"})
    result = rep.sync()
    assert (result.pushed, result.skipped) == (1, 1)
    assert rep.writer.pending_count() == 0
    assert server_view(storage, org.rep1, "accounts")[aid]["name"] == "After"
    assert rep.rows("accounts") == server_view(storage, org.rep1, "accounts")
    assert result.verified is True


def test_refusal_whose_answer_was_lost_is_reported_on_the_retry(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    """The server refused a change and the answer never arrived: the retry is skipped as already
    done, and must still say it was refused, or the rep's change vanishes without a trace."""
    (south,) = admin.put_rows(storage, "accounts", [account(org.t2, "South's")])
    rep = _rep(laptop)
    foreign = rep.writer.insert(
        "visits", {"account_id": south, "user_id": org.rep2, "visited_at": "2024-01-01"}
    )
    _sync_losing_the_answer(rep, server)
    result = rep.sync()
    assert (result.skipped, result.rejected) == (1, 1)
    assert "outside your territories" in result.rejections[0]
    refused = [c for c in rep.conflicts() if c["row_id"] == foreign]
    assert refused
    assert all(c["kept_clock"] == "rejected" for c in refused)
    assert rep.writer.pending_count() == 0
    assert foreign in rep.rows("visits")  # refused, so kept here, marked, never deleted
    assert result.verified is True


def test_duplicated_and_reordered_pushes(storage: Storage, org: Org, laptop: Make) -> None:
    rep = _rep(laptop)
    aid = rep.writer.insert("accounts", account(org.t1, "Dup"))
    rep.writer.update("accounts", aid, {"notes": "second"})
    muts = [
        Mutation(seq=e.seq, tbl=e.tbl, row_id=e.row_id, op=e.op, fields=e.fields, clocks=e.clocks)
        for e in outbox.pending(rep.ctx.db.conn, 100)
    ]
    device = rep.writer.device_id
    # The second request arrives first: a gap, refused whole, nothing applied.
    with pytest.raises(ServerRefused) as info:
        rep.transport.push(PushRequest(device_id=device, mutations=muts[1:]))
    assert info.value.status == 409
    assert "missing" in str(info.value)
    assert server_view(storage, org.rep1, "accounts").get(aid) is None
    first = rep.transport.push(PushRequest(device_id=device, mutations=muts[:1]))
    again = rep.transport.push(PushRequest(device_id=device, mutations=muts[:1]))
    both = rep.transport.push(PushRequest(device_id=device, mutations=muts))
    assert (first.applied, again.applied, again.skipped) == (1, 0, 1)
    assert (both.applied, both.skipped, both.last_seq) == (1, 1, muts[-1].seq)
    assert server_view(storage, org.rep1, "accounts")[aid]["notes"] == "second"
    result = rep.sync()
    assert result.skipped == 2
    assert result.verified is True


def test_server_stopped_mid_sync_then_restarted(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    admin.put_rows(storage, "accounts", [account(org.t1, f"N{i}") for i in range(30)])
    rep = laptop("rep1")
    rep.login("rep1")
    pages: list[int] = []

    def kill_after_first_page(done: int, total: int | None, text: str) -> None:
        if text == RECEIVING:
            pages.append(done)
            if len(pages) == 1:
                server.stop()

    with pytest.raises(NetworkError):
        rep.sync(page_size=10, progress=kill_after_first_page)
    cursor = int(
        rep.ctx.db.conn.execute(
            "SELECT value FROM local_meta WHERE key = 'sync_cursor'"
        ).fetchone()[0]
    )
    assert cursor == pages[0] > 0
    assert 0 < len(rep.rows("accounts")) < 30
    server.start()
    result = rep.sync(page_size=10)
    assert result.verified is True
    assert rep.rows("accounts") == server_view(storage, org.rep1, "accounts")
    assert len(rep.rows("accounts")) == 30


def test_failure_inside_a_page_leaves_nothing_half_applied(
    storage: Storage, org: Org, laptop: Make
) -> None:
    rep = _rep(laptop)
    admin.put_rows(
        storage,
        "accounts",
        [account(org.t1, "fine 1"), account(org.t1, "poison"), account(org.t1, "fine 2")],
    )
    conn = rep.ctx.db.conn
    before = conn.execute("SELECT value FROM local_meta WHERE key = 'sync_cursor'").fetchone()
    # A real failure of the laptop's database halfway through writing the page.
    conn.execute(
        "CREATE TEMP TRIGGER crash BEFORE INSERT ON accounts WHEN NEW.name = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'the laptop died here'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        rep.sync()
    assert rep.rows("accounts") == {}
    after = conn.execute("SELECT value FROM local_meta WHERE key = 'sync_cursor'").fetchone()
    assert after == before
    conn.execute("DROP TRIGGER crash")
    result = rep.sync()
    assert result.verified is True
    assert sorted(r["name"] for r in rep.rows("accounts").values()) == [
        "fine 1",
        "fine 2",
        "poison",
    ]


def test_too_old_client_is_told_to_upgrade(org: Org, server: LiveServer, laptop: Make) -> None:
    rep = _rep(laptop)
    old = HttpTransport(server.url, rep.transport.token)
    old._client.headers["FieldRep-Schema"] = "0"
    try:
        with pytest.raises(UpgradeRequired, match="please upgrade FieldRep"):
            SyncEngine(rep.writer, old).run()
    finally:
        old.close()


def test_big_rows_go_out_over_several_pushes_instead_of_one_refused_request(
    storage: Storage, org: Org, laptop: Make
) -> None:
    """200 pending changes of 100 KB each are ~20 MB, more than the server takes in one request
    (8 MiB): the laptop splits them by size, so the sync goes through."""
    rep = _rep(laptop)
    long_notes = "n" * 100_000
    ids = rep.writer.insert_many(
        "accounts", [account(org.t1, f"Big {i}", notes=long_notes) for i in range(200)]
    )
    result = rep.sync()
    assert result.pushed == 200
    assert rep.writer.pending_count() == 0
    on_server = server_view(storage, org.rep1, "accounts")
    assert set(ids) <= set(on_server)
    assert all(on_server[i]["notes"] == long_notes for i in ids)
