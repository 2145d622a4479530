"""A server keeps each user's viewer between requests (scope.viewer) only while the database's
scope epoch says nothing it is made of changed: a change made through another server process on
the same database (here another Storage on it) is seen by the next pull, never hidden by what the
first server kept."""

from __future__ import annotations

from fieldrep.server import admin, scope
from fieldrep.server.pull import pull
from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import PullRequest
from tests.sync.harness import Org


def _epoch(storage: Storage) -> int:
    with storage.read() as tx:
        row = tx.one("SELECT epoch FROM scope_epoch WHERE id = 1")
    assert row is not None
    return int(row[0])


def test_a_scope_change_through_another_server_is_seen_at_once(storage: Storage, org: Org) -> None:
    other = Storage(storage.url)  # a second server process on the same database
    try:
        first = pull(storage, org.rep1, PullRequest(cursor=0, limit=1))
        cursor, key = int(first["high_water"]), first["scope_key"]
        assert ("viewer", org.rep1) in storage.kept  # kept for the next request
        again = pull(storage, org.rep1, PullRequest(cursor=cursor, limit=10, scope_key=key))
        assert again["reset"] is None
        assert again["scope_key"] == key

        admin.put_rows(other, "territory_members", [{"territory_id": org.t3, "user_id": org.rep1}])
        after = pull(storage, org.rep1, PullRequest(cursor=cursor, limit=10, scope_key=key))
        assert after["reset"] is not None
        assert after["reset"]["reason"] == "scope_changed"
        with storage.read() as tx:
            assert org.t3 in scope.load_viewer(tx, org.rep1).territories
        assert after["scope_key"] != key
    finally:
        other.close()


def test_only_writes_to_what_scopes_are_made_of_move_the_epoch(storage: Storage, org: Org) -> None:
    start = _epoch(storage)
    admin.put_rows(storage, "accounts", [{"name": "Acme", "territory_id": org.t1}])
    admin.put_rows(storage, "users", [{"id": org.rep2, "phone": "555-0101"}])
    assert _epoch(storage) == start  # rows in scopes, and a user's contact details
    admin.put_rows(storage, "users", [{"id": org.rep2, "manager_id": None}])
    moved = _epoch(storage)
    assert moved > start
    admin.put_rows(storage, "territories", [{"id": org.t3, "parent_id": org.t1}])
    assert _epoch(storage) > moved
