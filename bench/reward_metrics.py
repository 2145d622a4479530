"""Referral metrics (``fieldrep.services.rewards.metrics.compute``) over 50,000 referrals, ~150,000
stage events, their rewards and 100,000 accounts, for a year and for one territory's quarter,
against a raw baseline: reading the same columns of the same rows once (``fetchall``), the least
any computation of these figures costs. Sides interleaved; CPU time beside wall time; the SQL
plans of the main queries; last line JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from fieldrep.domain.ids import uuid7_many
from fieldrep.services.context import Context
from fieldrep.services.rewards import metrics

TARGET = 3.0
STAGES = ["new", "contacted", "qualified", "proposal", "won", "lost"]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def build(path: Path, n_ref: int, n_acc: int) -> None:
    """Rows written straight into the migrated schema (setup only: this bench times reads)."""
    Context.open(path).close()
    rng = random.Random(7)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    terr = uuid7_many(20)
    conn.executemany(
        "INSERT INTO territories (id, name, parent_id, created_at) VALUES (?, ?, ?, 'x')",
        [(t, f"T{i}", terr[0] if i else None) for i, t in enumerate(terr)],
    )
    acc = uuid7_many(n_acc)
    conn.executemany(
        "INSERT INTO accounts (id, name, status, territory_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 'x', 'x')",
        [
            (a, f"A{i}", rng.choice(["active", "active", "prospect"]), terr[i % 20])
            for i, a in enumerate(acc)
        ],
    )
    refs = uuid7_many(n_ref)
    ev_ids = iter(uuid7_many(n_ref * 5))
    rw_ids = iter(uuid7_many(n_ref))
    start = datetime(2026, 1, 1)
    r_rows, e_rows, w_rows = [], [], []
    for i, rid in enumerate(refs):
        created = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        reach = rng.choice([0, 1, 1, 2, 3, 4, 4, 5])
        stage = STAGES[reach]
        amount = rng.randrange(1_000, 50_000) if stage == "won" else None
        r_rows.append(
            (rid, acc[rng.randrange(n_acc // 3)], f"Lead {i}", stage, terr[i % 20], amount,
             iso(created), iso(created))
        )  # fmt: skip
        at = created
        path_stages = STAGES[: min(reach, 4) + 1] if stage != "lost" else [*STAGES[:3], "lost"]
        for a, b in itertools.pairwise(path_stages):
            at += timedelta(hours=rng.randrange(1, 200))
            e_rows.append((next(ev_ids), rid, iso(at), "stage", a, b))
        if stage == "won":
            status = rng.choice(["approved", "issued", "redeemed", "awaiting_approval"])
            w_rows.append(
                (next(rw_ids), rid, amount * 5 / 100, amount * 5, status, iso(at), f"{rid}:b:won")
            )
    conn.executemany(
        "INSERT INTO referrals (id, referrer_account_id, referred_name, stage, territory_id,"
        " amount, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        r_rows,
    )
    conn.executemany(
        "INSERT INTO referral_events (id, referral_id, at, kind, from_value, to_value)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        e_rows,
    )
    conn.executemany(
        "INSERT INTO rewards (id, referral_id, amount, amount_cents, status, created_at,"
        " ledger_key, kind) VALUES (?, ?, ?, ?, ?, ?, ?, 'reward')",
        w_rows,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def fieldrep_side(conn: sqlite3.Connection, period: str, territory: str | None) -> float:
    got = metrics.compute(conn, period, territory=territory, now="2027-01-01T00:00:00Z")
    assert got.referrals > 0
    return 0.0


def raw_side(conn: sqlite3.Connection, period: str, territory: str | None) -> float:
    start, end = metrics.period_bounds(period)
    rows = conn.execute(
        "SELECT id, referrer_account_id, stage, created_at, amount, territory_id FROM referrals"
        " WHERE created_at >= ? AND created_at < ?",
        (start.isoformat(), end.isoformat()),
    ).fetchall()
    conn.execute("SELECT referral_id, at, from_value, to_value FROM referral_events").fetchall()
    conn.execute("SELECT referral_id, amount_cents, status FROM rewards").fetchall()
    conn.execute("SELECT territory_id FROM accounts WHERE status = 'active'").fetchall()
    assert rows
    return 0.0


def timed(fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    w0, c0 = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5,000 referrals, 10,000 accounts")
    args = parser.parse_args()
    n_ref, n_acc = (5_000, 10_000) if args.quick else (50_000, 100_000)
    cases = [("2026", None), ("2026-Q3", "T0")]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "metrics.db"
        t0 = time.perf_counter()
        build(db, n_ref, n_acc)
        print(f"built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        conn = sqlite3.connect(db, isolation_level=None)
        results: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for _ in range(5):
            for period, terr in cases:
                key = f"{period}/{terr or 'all'}"
                slot = results.setdefault(key, {"fieldrep": [], "raw": []})
                slot["raw"].append(timed(raw_side, conn, period, terr))
                slot["fieldrep"].append(timed(fieldrep_side, conn, period, terr))
        for line in (
            "SELECT count(*) FROM referrals r WHERE r.created_at >= ? AND r.created_at < ?",
            "SELECT min(e.at) FROM referral_events e WHERE e.referral_id = ? AND e.kind = 'stage'"
            " AND e.from_value = 'new'",
            "SELECT count(*) FROM accounts a WHERE a.status = 'active' AND a.territory_id IN (?)",
            "SELECT w.amount_cents FROM rewards w WHERE w.referral_id = ?",
        ):
            n_params = line.count("?")
            plan = " / ".join(
                r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {line}", ("x",) * n_params)
            )
            print(f"  plan: {line[:60]}... -> {plan}")
        conn.close()
    ratios = []
    for key, slot in results.items():
        f_wall = statistics.median(x[0] for x in slot["fieldrep"])
        r_wall = statistics.median(x[0] for x in slot["raw"])
        f_cpu = statistics.median(x[1] for x in slot["fieldrep"])
        r_cpu = statistics.median(x[1] for x in slot["raw"])
        ratios.append(f_wall / r_wall)
        print(
            f"{key}: metrics {f_wall * 1000:.0f} ms wall / {f_cpu * 1000:.0f} ms CPU;"
            f" raw read {r_wall * 1000:.0f} ms / {r_cpu * 1000:.0f} ms; {f_wall / r_wall:.2f}x"
        )
    print(
        json.dumps(
            {
                "bench": "reward_metrics",
                "referrals": n_ref,
                "accounts": n_acc,
                "ratio": round(max(ratios), 2),
                "ratios": [round(r, 2) for r in ratios],
                "target": f"<= {TARGET}x",
            }
        )
    )


if __name__ == "__main__":
    main()
