"""An export written by a child process: the same file, progress, errors and cancel as in-process."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import openpyxl
import pytest

import fieldrep
from fieldrep import paths
from fieldrep.services.accounts.export import (
    ExportCancelled,
    ExportError,
    export_accounts,
    partial_path,
)
from fieldrep.services.accounts.export_child import export_in_child
from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import AccountFilter, Sort

SHOPS = 2500


@pytest.fixture
def shops(ctx: Context) -> Context:
    ctx.writer.insert_many(
        "accounts",
        [
            {
                "name": f"Shop {i:04d}",
                "status": "active" if i % 2 else "prospect",
                "potential": float(i),
                "phone": f"+1 617 555 {i:04d}",
            }
            for i in range(SHOPS)
        ],
    )
    return ctx


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_child_writes_what_this_process_would(
    shops: Context, tmp_path: Path, suffix: str
) -> None:
    flt, sort = AccountFilter(status="active"), Sort("potential", descending=True)
    here, there = tmp_path / f"here{suffix}", tmp_path / f"there{suffix}"
    assert export_accounts(shops.db.conn, here, flt, sort) == SHOPS // 2
    seen: list[tuple[int, int | None, str]] = []
    count = export_in_child(shops.path, there, flt, sort, progress=lambda *step: seen.append(step))
    assert count == SHOPS // 2
    if suffix == ".csv":
        assert there.read_bytes() == here.read_bytes()
    else:
        rows = [list(openpyxl.load_workbook(p).active.values) for p in (here, there)]
        assert rows[0] == rows[1]
        assert rows[1][1][0] == "Shop 2499"
    assert seen[0] == (0, SHOPS // 2, f"Exporting there{suffix}")
    assert seen[-1] == (SHOPS // 2, SHOPS // 2, f"Exporting there{suffix}")


def test_a_cancel_stops_the_child_and_leaves_the_old_file(shops: Context, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "out.xlsx"
    target.write_bytes(b"the export of last week")
    started = threading.Event()
    with pytest.raises(ExportCancelled, match="no file was written"):
        export_in_child(
            shops.path,
            target,
            AccountFilter(),
            Sort(),
            progress=lambda *_step: started.set(),
            cancelled=started.is_set,  # as soon as the child has begun writing
        )
    assert target.read_bytes() == b"the export of last week"
    assert not partial_path(target).exists()
    assert sorted(p.name for p in folder.iterdir()) == ["out.xlsx"]


def test_the_childs_refusal_is_the_same_sentence(shops: Context, tmp_path: Path) -> None:
    missing = tmp_path / "no such folder" / "out.csv"
    with pytest.raises(ExportError) as here:
        export_accounts(shops.db.conn, missing)
    with pytest.raises(ExportError) as there:
        export_in_child(shops.path, missing, AccountFilter(), Sort())
    assert str(there.value) == str(here.value)


def test_a_child_that_dies_is_reported_and_leaves_no_file(
    shops: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(sys, "executable", "/bin/false")  # a process that exits at once, failed
    with pytest.raises(ExportError, match="stopped unexpectedly"):
        export_in_child(shops.path, folder / "out.csv", AccountFilter(), Sort())
    assert list(folder.iterdir()) == []


def test_the_child_is_told_where_this_package_is(
    shops: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout started as ``python path/to/main.py`` from another folder is not installed: the
    child gets the package's folder first on PYTHONPATH. (Here the package is installed too, so
    this checks what the child is given and that it still runs from another folder.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONNOUSERSITE", "1")
    monkeypatch.setenv("PYTHONPATH", "")
    env = paths.child_env()
    package_root = Path(fieldrep.__file__).resolve().parents[1]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(package_root)
    out = tmp_path / "out.csv"
    assert export_in_child(shops.path, out, AccountFilter(), Sort()) == SHOPS
