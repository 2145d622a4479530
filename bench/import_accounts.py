"""Import 100,000 accounts from CSV with postal-code geocoding, against raw csv + executemany.

Baseline: the same file read with ``csv.reader`` and inserted with one ``executemany`` into a bare
table of the same columns (no validation, no geocoding, no indexes, no outbox, no search index).
FieldRep: ``import_accounts`` end to end (detection, mapping, validation, duplicate checks, offline
geocoding, the sync outbox and per-field clocks, the FTS index). The gazetteer is loaded once before
timing (the app keeps it for the session); its load time is printed separately.
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

from fieldrep.geo.gazetteer import default_gazetteer
from fieldrep.geo.geocoding import OfflineGeocoder
from fieldrep.services.account_import import import_accounts
from fieldrep.services.context import Context
from fieldrep.store.db import connect

HEADER = [
    "Company",
    "Street",
    "City",
    "State",
    "ZIP",
    "Phone",
    "Website",
    "Industry",
    "Employees",
    "Annual Revenue",
    "Status",
    "Notes",
]
INDUSTRIES = ["Retail", "Healthcare", "Construction", "Technology", "Manufacturing", "Food"]


def make_csv(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    places = default_gazetteer().places("US")
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(n):
            place = rng.choice(places)
            out.writerow(
                [
                    f"{rng.choice(['Acme', 'Summit', 'Harbor', 'Pioneer', 'Maple'])} "
                    f"{rng.choice(INDUSTRIES)} {i}",
                    f"{rng.randint(1, 9999)} Main St",
                    place.city,
                    place.region,
                    place.postal_code,
                    f"+1 555 {i // 10000:03d} {i % 10000:04d}",
                    f"company{i}.example",
                    rng.choice(INDUSTRIES),
                    rng.randint(1, 2000),
                    rng.randint(1000, 5_000_000),
                    rng.choice(["prospect", "active", "customer"]),
                    "imported for the benchmark" if i % 5 == 0 else "",
                ]
            )


def raw(path: Path, db: Path) -> float:
    started = time.perf_counter()
    conn = connect(db)
    conn.execute(f"CREATE TABLE raw ({', '.join(f'c{i}' for i in range(len(HEADER)))})")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        next(rows)
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO raw VALUES ({', '.join('?' * len(HEADER))})", rows)
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def ours(path: Path, db: Path, geocoder: OfflineGeocoder) -> tuple[float, int]:
    started = time.perf_counter()
    ctx = Context.open(db)
    report = import_accounts(ctx, path, geocoder=geocoder)
    ctx.close()
    return time.perf_counter() - started, report.imported


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10,000 rows instead of 100,000")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    n = args.rows or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / "accounts.csv"
        load_started = time.perf_counter()
        geocoder = OfflineGeocoder()
        default_gazetteer().postal_code("02139")
        load = time.perf_counter() - load_started
        make_csv(src, n)
        size_mb = src.stat().st_size / 1e6
        raw_s = min(raw(src, folder / f"raw{i}.db") for i in range(2))
        ours_s, imported = ours(src, folder / "ours.db", geocoder)
        check = sqlite3.connect(folder / "ours.db")
        placed = check.execute("SELECT count(*) FROM accounts WHERE lat IS NOT NULL").fetchone()[0]
        check.close()
    print(
        f"{n:,} rows ({size_mb:.1f} MB):"
        f" raw csv+executemany {raw_s:.2f} s, FieldRep import {ours_s:.2f} s"
        f" ({imported:,} imported, {placed:,} placed); gazetteer load {load:.2f} s"
    )
    print(
        json.dumps(
            {
                "bench": "import_accounts",
                "rows": n,
                "raw_s": round(raw_s, 3),
                "fieldrep_s": round(ours_s, 3),
                "ratio": round(ours_s / raw_s, 2),
                "target": 3.0,
                "imported": imported,
                "placed": placed,
                "gazetteer_load_s": round(load, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
