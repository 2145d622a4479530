"""Exporting accounts: progress, and a cancel mid-way leaves no file (nor a half one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldrep.services.account_export import ExportCancelled, export_accounts
from fieldrep.services.context import Context


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cancel_mid_way_keeps_the_old_file(ctx: Context, tmp_path: Path, suffix: str) -> None:
    ctx.writer.insert_many("accounts", [{"name": f"Shop {i}"} for i in range(2500)])
    target = tmp_path / f"out{suffix}"
    seen: list[tuple[int, int]] = []
    assert export_accounts(ctx.db.conn, target, progress=lambda d, t: seen.append((d, t))) == 2500
    assert seen[0] == (0, 2500)
    assert seen[-1] == (2500, 2500)
    before = target.read_bytes()
    checks = iter([False, False, True])
    with pytest.raises(ExportCancelled, match="no file was written"):
        export_accounts(ctx.db.conn, target, cancelled=lambda: next(checks))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "out" in p.name] == [target.name]
