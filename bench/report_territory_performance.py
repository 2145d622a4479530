"""Territory performance over 100,000 accounts and a year of 500,000 deals: time and query plans.

FieldRep: ``territory_performance.build`` for the year (accounts, potential, sales per currency,
quotas, visits and coverage, referrals where they were at the year's end, subtotals up the
hierarchy). Baseline: the same aggregate SQL run bare (accounts and potential per territory, sales
per territory and currency, visits per territory), rows fetched and nothing else. Sides are
interleaved; CPU time beside wall time. The plan of each query is printed.

The book: a 100k-account demo database (``--db``, copied) topped up to 500,000 deals spread over
the year (``--quick``: 5,000 accounts and 25,000 deals, built here).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldrep.reports import territory_performance
from fieldrep.reports.periods import parse_period
from fieldrep.reports.scope import load_scope

YEAR = parse_period("2026")
RAW = [
    "SELECT a.territory_id, count(*), total(a.potential) FROM accounts a GROUP BY +a.territory_id",
    "SELECT territory_id, currency, total(amount) FROM deals WHERE closed_on >= ? AND "
    "closed_on < ? GROUP BY +territory_id, currency",
    "SELECT a.territory_id, count(*), count(DISTINCT v.account_id) FROM visits v CROSS JOIN "
    "accounts a ON a.id = v.account_id WHERE v.visited_at >= ? AND v.visited_at < ? "
    "GROUP BY a.territory_id",
]


def top_up_deals(path: Path, target: int) -> int:
    conn = sqlite3.connect(path)
    have = conn.execute("SELECT count(*) FROM deals").fetchone()[0]
    accounts = conn.execute("SELECT id, owner_id, territory_id FROM accounts").fetchall()
    rng = random.Random(3)
    rows = []
    for n in range(max(0, target - have)):
        account, owner, territory = rng.choice(accounts)
        day = YEAR.start.toordinal() + rng.randrange(365)
        closed = YEAR.start.fromordinal(day).isoformat()
        currency = "EUR" if n % 50 == 0 else "USD"
        rows.append(
            (
                f"bench-{n:07d}",
                account,
                owner,
                territory,
                rng.randint(5, 500) * 100.0,
                currency,
                closed,
                closed + "T12:00:00Z",
            )
        )
    conn.executemany(
        "INSERT INTO deals (id, account_id, user_id, territory_id, amount, currency, closed_on, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    total = conn.execute("SELECT count(*) FROM deals").fetchone()[0]
    conn.close()
    return int(total)


def ours(conn: sqlite3.Connection) -> None:
    territory_performance.build(conn, load_scope(conn), YEAR)


def raw(conn: sqlite3.Connection) -> None:
    conn.execute(RAW[0]).fetchall()
    conn.execute(RAW[1], [YEAR.lo, YEAR.hi]).fetchall()
    conn.execute(RAW[2], [YEAR.lo, YEAR.hi]).fetchall()


def timed(fn: object, conn: sqlite3.Connection) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(conn)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, help="a 100k-account demo book (copied, not changed)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "book.db"
    if args.db and not args.quick:
        shutil.copy(args.db, path)
    else:
        from fieldrep.services.context import Context
        from fieldrep.services.demo.build import DemoOptions, build_demo

        ctx = Context.open(path)
        build_demo(ctx, DemoOptions(accounts=5_000 if args.quick else 100_000, seed=1))
        ctx.close()
    deals = top_up_deals(path, 25_000 if args.quick else 500_000)
    conn = sqlite3.connect(path)
    accounts = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    raw(conn)
    ours(conn)  # warm
    mine: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for n in range(2 if args.quick else args.rounds):
        for name in ("ours", "raw") if n % 2 == 0 else ("raw", "ours"):
            (mine if name == "ours" else base).append(timed(ours if name == "ours" else raw, conn))
    for sql in RAW:
        params = [] if "?" not in sql else [YEAR.lo, YEAR.hi]
        plan = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        print(sql[:70] + "…")
        for row in plan:
            print("    " + row[3])
    wall = statistics.median(w for w, _ in mine)
    base_wall = statistics.median(w for w, _ in base)
    cpu = statistics.median(c for _, c in mine)
    base_cpu = statistics.median(c for _, c in base)
    print(f"{accounts:,} accounts, {deals:,} deals; report for {YEAR.label}")
    print(f"FieldRep territory_performance.build: wall {wall:.3f} s, cpu {cpu:.3f} s")
    print(f"bare aggregate SQL:                 wall {base_wall:.3f} s, cpu {base_cpu:.3f} s")
    print(
        json.dumps(
            {
                "bench": "report_territory_performance",
                "accounts": accounts,
                "deals": deals,
                "ratio": round(wall / base_wall, 3),
                "cpu_ratio": round(cpu / base_cpu, 3),
                "target": 1.5,
                "fieldrep_s": round(wall, 3),
                "raw_s": round(base_wall, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
