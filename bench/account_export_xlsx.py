"""The accounts export (``services.accounts.export.export_accounts``, 23 columns, the one the
Accounts page and ``fieldrep export`` run) to XLSX, against a raw xlsxwriter constant-memory dump
of the same query's rows (``write_row``, nothing else).

``python bench/account_export_xlsx.py [--accounts N] [--db PATH] [--rounds R]``; sides are
interleaved, medians of wall and CPU time printed, the last line one JSON object.
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

from fieldrep.services.accounts.export import export_accounts
from fieldrep.store.accounts_repository import AccountFilter, AccountsRepository, Sort


def ours(conn: sqlite3.Connection, out: Path) -> None:
    export_accounts(conn, out)


def raw(conn: sqlite3.Connection, out: Path) -> None:
    import xlsxwriter

    _, rows = AccountsRepository(conn).rows_for_export(AccountFilter(), Sort())
    book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    ws = book.add_worksheet("Accounts")
    for r, row in enumerate(rows):
        ws.write_row(r, 0, row)
    book.close()


def timed(fn: object, *args: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, help="a demo book (default: build one)")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    db = args.db
    if db is None:
        from fieldrep.services.context import Context
        from fieldrep.services.demo.build import DemoOptions, build_demo

        db = tmp / "demo.db"
        ctx = Context.open(db)
        build_demo(ctx, DemoOptions(accounts=args.accounts, seed=1))
        ctx.close()
    conn = sqlite3.connect(db)
    count = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "raw": []}
    raw(conn, tmp / "warm.xlsx")  # page cache and imports warm for both
    for n in range(args.rounds):
        order = [("ours", ours), ("raw", raw)]
        if n % 2:
            order.reverse()
        for name, fn in order:
            results[name].append(timed(fn, conn, tmp / f"{name}.xlsx"))
    wall = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}
    size = {k: os.path.getsize(tmp / f"{k}.xlsx") for k in results}
    print(
        f"accounts: {count:,} rows, {args.rounds} rounds interleaved, load {os.getloadavg()[0]:.1f}"
    )
    for k in results:
        print(f"{k:5}: wall {wall[k]:.2f} s, cpu {cpu[k]:.2f} s, {size[k]:,} B")
    print(
        json.dumps(
            {
                "bench": "account_export_xlsx",
                "rows": count,
                "ratio": round(wall["ours"] / wall["raw"], 3),
                "cpu_ratio": round(cpu["ours"] / cpu["raw"], 3),
                "target": 1.3,
                "fieldrep_s": round(wall["ours"], 3),
                "fieldrep_cpu_s": round(cpu["ours"], 3),
                "raw_s": round(wall["raw"], 3),
                "raw_cpu_s": round(cpu["raw"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
