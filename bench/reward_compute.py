"""Computing rewards for 50,000 won referrals after a rule change (``ledger.backfill``) against a
raw baseline: the same 5 % capped amounts computed in a Python loop and written with one
``executemany`` into a bare table.

FieldRep does per referral what a stage move does: the eligibility checks (consent, flags), the
referrer's year-to-date total and converted count for the caps and tiers, the ledger-key lookup,
the reward row with its explanation and outbox entry, and a referral event; as one batch (the
referrals, consents and keys read once, the caps' running totals kept in memory, the rows written
by ``executemany`` at the end). Each run starts from a copy of the same database (the copy is not
timed); sides are interleaved. Prints CPU time beside wall time and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldrep.domain.ids import uuid7_many
from fieldrep.domain.rewards import AmountKind, Recipient, RewardRule, Trigger
from fieldrep.services.context import Context
from fieldrep.services.rewards import ledger, rules

TODAY = date(2026, 6, 1)
TARGET = 20.0


def build(path: Path, n: int) -> None:
    ctx = Context.open(path)
    w = ctx.writer
    manager = w.insert("users", {"username": "boss", "role": "manager"})
    reps = [w.insert("users", {"username": f"rep{i}", "role": "rep"}) for i in range(20)]
    n_accounts = max(1, n // 5)
    acc_ids = uuid7_many(n_accounts)
    w.insert_many(
        "accounts",
        [{"name": f"Customer {i}", "status": "active"} for i in range(n_accounts)],
        row_ids=acc_ids,
    )
    con_ids = uuid7_many(n_accounts)
    w.insert_many(
        "contacts",
        [
            {"account_id": a, "first_name": "C", "email": f"c{i}@x.test", "referral_consent": 1}
            for i, a in enumerate(acc_ids)
        ],
        row_ids=con_ids,
    )
    w.insert_many(
        "referrals",
        [
            {
                "referrer_account_id": acc_ids[i % n_accounts],
                "referrer_contact_id": con_ids[i % n_accounts],
                "referred_name": f"Lead {i}",
                "captured_by_id": reps[i % len(reps)],
                "owner_id": reps[i % len(reps)],
                "stage": "won",
                "amount": 1_000 + (i * 37) % 20_000,
            }
            for i in range(n)
        ],
    )
    ctx.set_user(manager)
    # the rule change: a new rule the won referrals have not been paid by yet
    rules.save(
        ctx,
        RewardRule(
            rule_id="bonus",
            version=1,
            name="Referral bonus",
            recipient=Recipient.REFERRER_CONTACT,
            trigger=Trigger.WON,
            kind=AmountKind.PERCENT,
            valid_from=date(2026, 1, 1),
            valid_until=date(2026, 12, 31),
            percent_bp=500,
            cap_per_reward_cents=50_000,
            cap_per_referrer_year_cents=200_000,
        ),
    )
    ctx.close()


def fieldrep_side(path: Path) -> tuple[float, float, int]:
    ctx = Context.open(path)
    w0, c0 = time.perf_counter(), time.process_time()
    got = ledger.backfill(ctx, Trigger.WON, today=TODAY)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    ctx.close()
    return wall, cpu, len(got.created)


def raw_side(path: Path) -> tuple[float, float, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE raw_rewards (id TEXT PRIMARY KEY, referral_id TEXT, contact TEXT,"
        " amount_cents INTEGER, ledger_key TEXT UNIQUE)"
    )
    w0, c0 = time.perf_counter(), time.process_time()
    conn.execute("BEGIN")
    out = []
    ids = uuid7_many(100_000)
    for i, (rid, contact, amount) in enumerate(
        conn.execute("SELECT id, referrer_contact_id, amount FROM referrals WHERE stage = 'won'")
    ):
        cents = min(round(amount * 100) * 500 // 10_000, 50_000)
        out.append((ids[i], rid, contact, cents, f"{rid}:bonus:won"))
    conn.executemany("INSERT INTO raw_rewards VALUES (?, ?, ?, ?, ?)", out)
    conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    conn.close()
    return wall, cpu, len(out)


def plan(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    queries = {
        "ledger key": (
            "SELECT r.ledger_key FROM rewards r WHERE r.ledger_key BETWEEN ? AND ?"
            " AND r.kind = 'reward'",
            ("a", "b"),
        ),
        "paid this year": (
            "SELECT sum(amount_cents) FROM rewards WHERE recipient_contact_id = ?"
            " AND recipient_kind = 'referrer_contact'",
            ("x",),
        ),
        "converted count": (
            "SELECT count(*) FROM referrals WHERE referrer_contact_id = ? AND stage = 'won'",
            ("x",),
        ),
    }
    lines = []
    for name, (sql, params) in queries.items():
        steps = " / ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        lines.append(f"  plan {name}: {steps}")
    conn.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5,000 referrals")
    args = parser.parse_args()
    n = 5_000 if args.quick else 50_000
    rounds = 2
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        t0 = time.perf_counter()
        build(base, n)
        print(f"built {n:,} won referrals in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        fr: list[tuple[float, float, int]] = []
        raw: list[tuple[float, float, int]] = []
        for r in range(rounds):
            for side, store in ((raw_side, raw), (fieldrep_side, fr)):
                copy = Path(tmp) / f"run{r}-{side.__name__}.db"
                shutil.copy(base, copy)
                for suffix in ("-wal", "-shm"):
                    if Path(str(base) + suffix).exists():
                        shutil.copy(Path(str(base) + suffix), Path(str(copy) + suffix))
                store.append(side(copy))
        last = Path(tmp) / f"run{rounds - 1}-fieldrep_side.db"
        for line in plan(last):
            print(line)
    f_wall = min(x[0] for x in fr)
    r_wall = min(x[0] for x in raw)
    f_cpu = min(x[1] for x in fr)
    r_cpu = min(x[1] for x in raw)
    print(
        f"FieldRep backfill: {f_wall:.2f} s wall, {f_cpu:.2f} s CPU, {fr[0][2]:,} rewards;"
        f" raw loop + executemany: {r_wall:.3f} s wall, {r_cpu:.3f} s CPU"
    )
    print(
        json.dumps(
            {
                "bench": "reward_compute",
                "referrals": n,
                "rewards": fr[0][2],
                "fieldrep_s": round(f_wall, 3),
                "fieldrep_cpu_s": round(f_cpu, 3),
                "raw_s": round(r_wall, 4),
                "raw_cpu_s": round(r_cpu, 4),
                "ratio": round(f_wall / r_wall, 2),
                "per_referral_ms": round(f_wall / n * 1000, 3),
                "target": f"<= {TARGET}x",
            }
        )
    )


if __name__ == "__main__":
    main()
