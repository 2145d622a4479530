"""Accounts report as XLSX, 100,000 rows: FieldRep's report writer against a raw xlsxwriter dump.

FieldRep: ``build_report(conn, "accounts", ...)`` then ``write_report(..., "x.xlsx")`` (the query,
typed cells, formats, frozen header, autofilter, the total row as a formula, an About sheet, a
temporary file renamed at the end). Baseline: the same query's rows written with
``worksheet.write_row`` into a constant-memory xlsxwriter workbook, nothing else. Also timed once:
the accounts export (``services.accounts.export``, xlsxwriter constant-memory since issue 20;
openpyxl write-only before) of the same book.
Sides are interleaved; CPU time is printed beside wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldrep.reports.accounts_report import _SQL
from fieldrep.reports.catalog import build_report
from fieldrep.reports.export import write_report
from fieldrep.reports.periods import parse_period


def fieldrep_side(conn: sqlite3.Connection, out: Path) -> None:
    report = build_report(conn, "accounts", parse_period("2026"))
    write_report(report, out)


def raw_side(conn: sqlite3.Connection, out: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    ws = book.add_worksheet("Accounts")
    for r, row in enumerate(conn.execute(_SQL + " ORDER BY a.name COLLATE NOCASE")):
        ws.write_row(r, 0, row[:12])
    book.close()


def timed(fn: object, *args: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, help="a demo book (default: build one)")
    parser.add_argument("--quick", action="store_true", help="5,000 accounts, 2 rounds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    db = args.db
    if db is None:
        from fieldrep.services.context import Context
        from fieldrep.services.demo.build import DemoOptions, build_demo

        db = tmp / "demo.db"
        ctx = Context.open(db)
        build_demo(ctx, DemoOptions(accounts=5_000 if args.quick else 100_000, seed=1))
        ctx.close()
    rounds = 2 if args.quick else args.rounds
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    ours: list[tuple[float, float]] = []
    raw: list[tuple[float, float]] = []
    raw_side(conn, tmp / "warm.xlsx")  # page cache and imports warm for both
    for n in range(rounds):
        pair = [("ours", fieldrep_side), ("raw", raw_side)]
        if n % 2:
            pair.reverse()
        for name, fn in pair:
            result = timed(fn, conn, tmp / f"{name}.xlsx")
            (ours if name == "ours" else raw).append(result)
    from fieldrep.services.accounts.export import export_accounts

    today = timed(export_accounts, conn, tmp / "today.xlsx")
    ours_wall = statistics.median(w for w, _ in ours)
    raw_wall = statistics.median(w for w, _ in raw)
    ours_cpu = statistics.median(c for _, c in ours)
    raw_cpu = statistics.median(c for _, c in raw)
    sizes = {n: os.path.getsize(tmp / f"{n}.xlsx") for n in ("ours", "raw", "today")}
    print(f"accounts: {rows:,} rows, {rounds} rounds interleaved")
    print(
        f"FieldRep report writer: wall {ours_wall:.2f} s, cpu {ours_cpu:.2f} s, {sizes['ours']:,} B"
    )
    print(f"raw xlsxwriter dump:    wall {raw_wall:.2f} s, cpu {raw_cpu:.2f} s, {sizes['raw']:,} B")
    print(f"accounts export (xlsxwriter, 23 columns): wall {today[0]:.2f} s, cpu {today[1]:.2f} s")
    print(
        json.dumps(
            {
                "bench": "report_accounts_xlsx",
                "rows": rows,
                "ratio": round(ours_wall / raw_wall, 3),
                "cpu_ratio": round(ours_cpu / raw_cpu, 3),
                "target": 1.3,
                "fieldrep_s": round(ours_wall, 3),
                "raw_s": round(raw_wall, 3),
                "today_export_s": round(today[0], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
