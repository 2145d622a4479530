"""Import 100,000 accounts from CSV with postal-code geocoding, against raw csv + executemany.

Baseline: the same file read with ``csv.reader`` and inserted with one ``executemany`` into a bare
table of the same columns (no validation, no geocoding, no indexes, no outbox, no search index).
FieldRep: ``import_accounts`` end to end (detection, mapping, validation, duplicate checks, offline
geocoding, the sync outbox and row clock, the indexes and the FTS index). The gazetteer is loaded
once before timing (the app keeps it for the session); its load time is printed separately.

Also printed: 50 new rows imported into the book the big import made (the gazetteer loaded, as in
the app), against the same rows into an empty database: a small file must cost about the same
whatever the size of the book. And, for reading the ratio: the storage floor, the same cells
written unchecked into FieldRep's own tables (accounts with its indexes, the outbox, the search
index) with no per-row work beyond a tuple, the least any import that keeps the data searchable
and synced must pay.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldrep.domain.ids import uuid7_many
from fieldrep.geo.gazetteer import default_gazetteer
from fieldrep.geo.geocoding import OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import import_accounts
from fieldrep.store.accounts_repository import deferred_indexes, deferred_search_index
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
# the small file imported into the big book afterwards
SMALL = 50
INDUSTRIES = ["Retail", "Healthcare", "Construction", "Technology", "Manufacturing", "Food"]


def make_csv(path: Path, n: int, seed: int = 7, start: int = 0) -> None:
    rng = random.Random(seed)
    places = default_gazetteer().places("US")
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(start, start + n):
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


def storage_floor(path: Path, db: Path) -> float:
    """What storing the rows costs before any checking: the same cells, unvalidated and unplaced,
    straight into FieldRep's accounts table with an outbox entry each, the indexes built once and
    the search index filled in one statement, as the import does; no per-row Python beyond making
    the row's tuple (the status column maps the file's "customer" to an allowed value)."""
    started = time.perf_counter()
    ctx = Context.open(db)
    conn = ctx.db.conn
    now = "2026-01-01T00:00:00.000Z"
    cols = "name, street, city, region, postal_code, phone, website, industry, employees,"
    cols += " potential, status, notes, id, created_at, updated_at, _clocks"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        next(rows)
        with (
            ctx.writer.transaction(),
            deferred_search_index(conn),
            deferred_indexes(conn, "accounts"),
        ):
            batch: list[list[str]] = []
            for cells in rows:
                batch.append(cells)
                if len(batch) == 5000:
                    _floor_write(conn, cols, batch, now)
                    batch = []
            if batch:
                _floor_write(conn, cols, batch, now)
    ctx.close()
    return time.perf_counter() - started


def _floor_write(conn: sqlite3.Connection, cols: str, batch: list[list[str]], now: str) -> None:
    ids = uuid7_many(len(batch))
    clock = '{"*": "0"}'
    conn.executemany(
        f"INSERT INTO accounts ({cols}) VALUES ({', '.join('?' * 16)})",
        [
            (
                *c[:10],
                c[10] if c[10] in ("prospect", "active") else "active",
                c[11],
                i,
                now,
                now,
                clock,
            )
            for c, i in zip(batch, ids, strict=True)
        ],
    )
    conn.executemany(
        "INSERT INTO outbox (tbl, row_id, op, created_at) VALUES ('accounts', ?, 'insert', ?)",
        [(i, now) for i in ids],
    )


def ours(path: Path, db: Path, geocoder: OfflineGeocoder) -> tuple[float, int]:
    started = time.perf_counter()
    ctx = Context.open(db)
    report = import_accounts(ctx, path, geocoder=geocoder)
    ctx.close()
    return time.perf_counter() - started, report.imported


def small_into_book(book: Path, folder: Path, geocoder: OfflineGeocoder) -> tuple[float, float]:
    """SMALL new rows (a trade-show list) into a copy of ``book`` and into an empty database, the
    best of three each: what a rep waits for, and what the same rows cost with no book at all."""
    src = folder / "leads.csv"
    make_csv(src, SMALL, seed=11, start=10**6)
    into_book, into_empty = [], []
    for i in range(3):
        copy = folder / f"book{i}.db"
        shutil.copy(book, copy)
        took, imported = ours(src, copy, geocoder)
        assert imported == SMALL, imported
        into_book.append(took)
        into_empty.append(ours(src, folder / f"empty{i}.db", geocoder)[0])
    return min(into_book), min(into_empty)


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
        default_gazetteer().load()
        load = time.perf_counter() - load_started
        make_csv(src, n)
        size_mb = src.stat().st_size / 1e6
        raw_s = min(raw(src, folder / f"raw{i}.db") for i in range(2))
        floor_s = storage_floor(src, folder / "floor.db")
        ours_s, imported = ours(src, folder / "ours.db", geocoder)
        small_s, small_empty_s = small_into_book(folder / "ours.db", folder, geocoder)
        check = sqlite3.connect(folder / "ours.db")
        placed = check.execute("SELECT count(*) FROM accounts WHERE lat IS NOT NULL").fetchone()[0]
        check.close()
    print(
        f"{n:,} rows ({size_mb:.1f} MB):"
        f" raw csv+executemany {raw_s:.2f} s, FieldRep import {ours_s:.2f} s"
        f" (storing alone, unchecked, into FieldRep's tables: {floor_s:.2f} s ="
        f" {floor_s / raw_s:.1f}x)"
        f" ({imported:,} imported, {placed:,} placed); gazetteer load {load:.2f} s"
    )
    print(
        f"{SMALL} new rows into that {n:,}-account book: {small_s * 1000:.0f} ms"
        f" (into an empty database: {small_empty_s * 1000:.0f} ms)"
    )
    print(
        json.dumps(
            {
                "bench": "import_accounts",
                "rows": n,
                "raw_s": round(raw_s, 3),
                "fieldrep_s": round(ours_s, 3),
                "storage_floor_s": round(floor_s, 3),
                "storage_floor_ratio": round(floor_s / raw_s, 2),
                "ratio": round(ours_s / raw_s, 2),
                "target": 3.0,
                "imported": imported,
                "placed": placed,
                "gazetteer_load_s": round(load, 3),
                "small_rows": SMALL,
                "small_into_book_s": round(small_s, 3),
                "small_into_empty_s": round(small_empty_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
