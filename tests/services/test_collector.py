"""Automatic garbage collection pauses while bulk work runs, and only then."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from fieldrep.services.accounts.export import export_accounts
from fieldrep.services.context import Context
from fieldrep.services.gc_pause import collector_paused
from fieldrep.services.imports.accounts import import_accounts


def test_paused_blocks_nest_across_threads_and_restore_the_collector() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with collector_paused():
        assert not gc.isenabled()
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread's job still runs
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_import_runs_with_the_collector_paused(ctx: Context, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("Company,ZIP\nAcme,02139\nBeta,10001\n", encoding="utf-8")
    seen: dict[str, bool] = {}

    def progress(_done: int, _total: int | None, phase: str) -> None:
        seen[phase] = gc.isenabled()

    report = import_accounts(ctx, src, progress=progress)
    assert report.imported == 2
    assert seen == {"importing": False, "indexing": False, "done": True}
    assert gc.isenabled()


def test_an_export_writes_with_the_collector_paused(ctx: Context, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("Company,ZIP\nAcme,02139\nBeta,10001\n", encoding="utf-8")
    import_accounts(ctx, src)
    for name in ("out.csv", "out.xlsx"):
        seen: list[bool] = []

        def progress(_done: int, _total: int | None, _text: str, seen: list[bool] = seen) -> None:
            seen.append(gc.isenabled())

        count = export_accounts(ctx.db, tmp_path / name, progress=progress)
        assert count == 2
        assert seen == [False, True]  # while the rows are written; the last report after
        assert gc.isenabled()


def test_a_reassignment_runs_with_the_collector_paused(ctx: Context, tmp_path: Path) -> None:
    from fieldrep.services.territories import assignment

    src = tmp_path / "a.csv"
    src.write_text("Company,ZIP\nAcme,02139\nBeta,10001\n", encoding="utf-8")
    import_accounts(ctx, src)
    seen: list[bool] = []

    def progress(_done: int, _total: int | None, _text: str) -> None:
        seen.append(gc.isenabled())

    diff = assignment.assign_all(ctx, dry_run=True, progress=progress)
    assert diff.total == 2
    assert seen
    assert not any(seen)  # the diff is built over every account's facts: a bulk job
    assert gc.isenabled()
