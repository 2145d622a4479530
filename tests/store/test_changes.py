"""The change notification's core: a committed transaction announces the tables it wrote, once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.store.changes import ChangeHub, Changes


@pytest.fixture
def heard(ctx: Context) -> list[Changes]:
    got: list[Changes] = []
    ctx.changes.subscribe(got.append)
    return got


def test_a_write_announces_its_tables_once_after_commit(ctx: Context, heard: list[Changes]) -> None:
    ctx.writer.insert("accounts", {"name": "Acme"})
    assert len(heard) == 1
    assert heard[0].touches("accounts")
    assert heard[0].touches("outbox")  # the sync record written with it
    assert not heard[0].touches("territories")


def test_nested_transactions_announce_once_at_the_outermost_commit(
    ctx: Context, heard: list[Changes]
) -> None:
    with ctx.writer.transaction():
        ctx.writer.insert("accounts", {"name": "Acme"})
        assert heard == []
        with ctx.writer.transaction():
            ctx.writer.insert("territories", {"name": "North"})
        assert heard == []
    assert len(heard) == 1
    assert heard[0].touches("accounts")
    assert heard[0].touches("territories")


def test_a_rollback_announces_nothing(ctx: Context, heard: list[Changes]) -> None:
    def change_mind() -> None:
        with ctx.writer.transaction():
            ctx.writer.insert("accounts", {"name": "Acme"})
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        change_mind()
    assert heard == []
    ctx.writer.insert("territories", {"name": "North"})  # the next one is not blamed for it
    assert len(heard) == 1
    assert not heard[0].touches("accounts")


def test_raw_sql_inside_a_transaction_is_counted(ctx: Context, heard: list[Changes]) -> None:
    """Sync's applied pages write with raw SQL inside Writer.transaction()."""
    for name in ("first", "second"):  # the second reuses the cached prepared statement
        with ctx.writer.transaction() as conn:
            conn.execute(
                "INSERT INTO territories (id, name, created_at, _version) VALUES (?, ?, '2026', 1)",
                (name, name),
            )
    assert [c.touches("territories") for c in heard] == [True, True]


def test_nothing_is_tracked_without_listeners(ctx: Context) -> None:
    ctx.writer.insert("accounts", {"name": "Acme"})  # no listener: no authorizer, no error
    got: list[Changes] = []
    unsubscribe = ctx.changes.subscribe(got.append)
    ctx.writer.insert("accounts", {"name": "Beta"})
    unsubscribe()
    ctx.writer.insert("accounts", {"name": "Gamma"})
    assert len(got) == 1


def test_contexts_opened_from_the_path_share_the_hub_across_threads(db_path: Path) -> None:
    hub = ChangeHub()
    got: list[tuple[str, Changes]] = []
    hub.subscribe(lambda c: got.append((threading.current_thread().name, c)))
    main = Context.open(db_path, hub)

    def work() -> None:
        worker = Context.open(main.path)  # what a background operation does with its db_path
        try:
            worker.writer.insert("tasks", {"title": "Call back", "user_id": "u1"})
        finally:
            worker.close()

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join()
    main.close()
    assert [(name, c.touches("tasks")) for name, c in got] == [("worker", True)]


def test_a_failing_listener_does_not_stop_the_others(ctx: Context) -> None:
    got: list[Changes] = []

    def broken(_changes: Changes) -> None:
        raise ValueError("bug in a page")

    ctx.changes.subscribe(broken)
    ctx.changes.subscribe(got.append)
    ctx.writer.insert("accounts", {"name": "Acme"})
    assert len(got) == 1
