"""Importing 10,000 referrals from CSV through the capture automation, against the raw floor.

FieldRep: ``import_referrals`` row by row: referrer matched by name, phone to E.164, e-mail checked,
company key, the duplicate check against the book (2,000 accounts with a contact each, and every
referral imported before it), territory and owner routing, SLA, two tasks, events and history, all
through the Writer with their outbox entries, in one transaction. Baseline: ``csv.reader`` and one
``executemany`` of the same cells into a bare table. One run each (the import is long); the
baseline runs before and after and the faster is kept.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HEADER = [
    "Referrer account",
    "Referred name",
    "Company",
    "Phone",
    "Email",
    "Address",
    "City",
    "State",
    "ZIP",
    "Notes",
    "Captured by",
    "Date",
]


def write_csv(path: Path, rows: int, referrers: list[str]) -> None:
    from bench.referral_common import FIRST, LAST, WORDS, company, phone

    rng = random.Random(11)
    zips = ["02139", "02140", "75201", "75202", "80202", "99501"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for n in range(rows):
            name = company(rng, 5_000_000 + n)
            out.writerow(
                [
                    rng.choice(referrers),
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    name,
                    phone(rng),
                    f"{rng.choice(FIRST).lower()}{n}@{name.split()[0].lower()}{n}.com",
                    f"{rng.randint(1, 99999)} {rng.choice(WORDS)} St",
                    "",
                    "",
                    rng.choice(zips),
                    "",
                    "ann",
                    f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
                ]
            )


def baseline(source: Path, target: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(target)
    conn.execute(f"CREATE TABLE IF NOT EXISTS raw ({', '.join(f'c{i} TEXT' for i in range(12))})")
    with source.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        next(rows)
        conn.executemany(f"INSERT INTO raw VALUES ({', '.join('?' * 12)})", rows)
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1,000 referrals")
    args = parser.parse_args()
    from bench.referral_common import build
    from fieldrep.services.context import Context
    from fieldrep.services.referrals.importer import import_referrals
    from fieldrep.services.territories import service as territory_service

    rows = 1_000 if args.quick else 10_000
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    db = folder / "bench.db"
    build(db, 2_000, 0).close()
    ctx = Context.open(db)
    for name, zips in (
        ("Boston Metro", "02139, 02140"),
        ("Texas Metros", "75201, 75202"),
        ("Denver", "80202"),
    ):
        territory = territory_service.create_territory(ctx, name, postal_codes=zips)
        territory_service.set_member(ctx, territory, str(ctx.user_id))
    referrers = [r[0] for r in ctx.conn.execute("SELECT name FROM accounts LIMIT 300")]
    with ctx.writer.transaction():  # the book's first filing, done by the demo or the first capture
        from fieldrep.services.referrals.match_index import refresh

        refresh(ctx.conn)
    source = folder / "referrals.csv"
    write_csv(source, rows, referrers)
    first = baseline(source, folder / "raw1.db")
    wall, cpu = time.perf_counter(), time.process_time()
    report = import_referrals(ctx, source, errors_path=folder / "errors.csv")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    second = baseline(source, folder / "raw2.db")
    ctx.close()
    raw = min(first, second)
    print(
        f"imported {report.imported:,} of {report.rows_read:,} ({dict(report.outcomes)},"
        f" {report.errors_total} errors): {wall:.2f} s wall, {cpu:.2f} s cpu,"
        f" {wall / rows * 1e3:.2f} ms a row"
    )
    print(f"raw csv.reader + executemany: {raw * 1e3:.1f} ms")
    print(
        json.dumps(
            {
                "bench": "referral_import",
                "ratio": round(wall / raw, 1),
                "target": "report (no target set)",
                "seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "ms_per_row": round(wall / rows * 1e3, 2),
                "raw_ms": round(raw * 1e3, 1),
                "rows": rows,
                "imported": report.imported,
            }
        )
    )


if __name__ == "__main__":
    main()
