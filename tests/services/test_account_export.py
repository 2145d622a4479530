"""Exporting accounts: progress, and a cancel mid-way leaves no file (nor a half one)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from fieldrep.services.accounts.export import ExportCancelled, export_accounts
from fieldrep.services.context import Context


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cancel_mid_way_keeps_the_old_file(ctx: Context, tmp_path: Path, suffix: str) -> None:
    ctx.writer.insert_many("accounts", [{"name": f"Shop {i}"} for i in range(2500)])
    target = tmp_path / f"out{suffix}"
    seen: list[tuple[int, int | None, str]] = []
    assert export_accounts(ctx.db.conn, target, progress=lambda *step: seen.append(step)) == 2500
    assert seen[0] == (0, 2500, f"Exporting out{suffix}")
    assert seen[-1] == (2500, 2500, f"Exporting out{suffix}")
    before = target.read_bytes()
    checks = iter([False, False, True])
    with pytest.raises(ExportCancelled, match="no file was written"):
        export_accounts(ctx.db.conn, target, cancelled=lambda: next(checks))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "out" in p.name] == [target.name]


def test_a_workbook_reads_like_a_report(ctx: Context, tmp_path: Path) -> None:
    account = ctx.writer.insert("accounts", {"name": "Acme Tools", "potential": 1234567.0})
    user = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann Rep"})
    visited = datetime(2026, 10, 20, 13, 52, tzinfo=UTC)
    ctx.writer.insert(
        "visits",
        {"account_id": account, "user_id": user, "visited_at": "2026-10-20T13:52:00.000Z"},
    )
    export_accounts(ctx.db.conn, tmp_path / "a.xlsx")
    export_accounts(ctx.db.conn, tmp_path / "a.csv")
    sheet = openpyxl.load_workbook(tmp_path / "a.xlsx").active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["Account name", "Status"]  # words a user knows, the name first
    assert sheet.freeze_panes == "B2"  # the header and the name stay in view
    assert sheet.column_dimensions["A"].width >= 30
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert (row["Potential"].value, row["Potential"].number_format) == (1234567, '"$"#,##0')
    local = visited.astimezone().replace(tzinfo=None)
    assert row["Last visit"].value == local  # a date Excel sorts, in the user's time
    assert row["Last visit"].is_date
    with (tmp_path / "a.csv").open(encoding="utf-8-sig", newline="") as fh:
        (written,) = csv.DictReader(fh)
    assert written["Last visit"] == local.strftime("%Y-%m-%d %H:%M")
