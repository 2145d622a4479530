"""The full duplicate check of a new referral against 100,000 accounts (a contact each) and 50,000
referrals, against one plain indexed lookup of the same phone key.

FieldRep: what a capture runs before it writes: normalise the referral (phone to E.164, e-mail,
company name without legal form, address key), file anything queued in the match index (nothing
here after the first filing, which is timed on its own), exact-key lookups (phone, e-mail, address,
web domain unless shared) and the rapidfuzz scan over 150,000 stored names, every match explained.
Baseline: ``SELECT tbl, row_id FROM match_keys WHERE key = ?`` for the same phone. Half the queries
are near-duplicates (a stored name misspelt, another legal form), half new; both sides interleave.
Target: median under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10,000 accounts, 5,000 referrals")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from bench.referral_common import build, company, phone
    from fieldrep.services.context import Context
    from fieldrep.services.referrals.capture import Draft, ReferralService

    accounts, referrals = (10_000, 5_000) if args.quick else (100_000, 50_000)
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / "bench.db"
    build(path, accounts, referrals).close()
    ctx = Context.open(path)
    service = ReferralService(ctx)
    filing, filing_cpu = time.perf_counter(), time.process_time()
    with ctx.writer.transaction():
        service.names.bring_up_to_date(ctx.conn)
    filing, filing_cpu = time.perf_counter() - filing, time.process_time() - filing_cpu
    names = [r[0] for r in ctx.conn.execute("SELECT name FROM accounts LIMIT 5000")]
    rng = random.Random(3)
    drafts = []
    for n in range(args.queries):
        if n % 2:
            base = rng.choice(names)
            cut = rng.randrange(1, max(2, len(base) - 1))
            name = base[:cut] + base[cut + 1 :] + " Holdings"  # a letter dropped, another form
        else:
            name = company(rng, 10_000_000 + n)
        drafts.append(
            Draft(
                referred_name="Sam Lee",
                referred_company=name,
                phone=phone(rng),
                email=f"sam{n}@example.org",
                street=f"{n} Elm St",
                postal_code="02139",
                consent=True,
            )
        )
    check_wall, check_cpu, look_wall, look_cpu, found = [], [], [], [], 0
    for draft in drafts:
        w, c = time.perf_counter(), time.process_time()
        with ctx.writer.transaction():
            _, query, _ = service.normalised(draft)
            matches = service.check(query)
        check_wall.append(time.perf_counter() - w)
        check_cpu.append(time.process_time() - c)
        found += bool(matches)
        w, c = time.perf_counter(), time.process_time()
        ctx.conn.execute(
            "SELECT tbl, row_id FROM match_keys WHERE key = ?", ("p:" + str(query.phone),)
        ).fetchall()
        look_wall.append(time.perf_counter() - w)
        look_cpu.append(time.process_time() - c)
    ctx.close()
    med, look = statistics.median(check_wall), statistics.median(look_wall)
    p95 = sorted(check_wall)[int(len(check_wall) * 0.95) - 1]
    print(f"book: {accounts:,} accounts (+ a contact each), {referrals:,} referrals")
    print(f"first filing of the match index: {filing:.2f} s wall, {filing_cpu:.2f} s cpu")
    print(
        f"duplicate check: median {med * 1e3:.1f} ms (cpu {statistics.median(check_cpu) * 1e3:.1f}),"
        f" p95 {p95 * 1e3:.1f} ms, worst {max(check_wall) * 1e3:.1f} ms;"
        f" {found} of {len(drafts)} queries found a match"
    )
    print(
        f"one indexed lookup: median {look * 1e3:.3f} ms (cpu {statistics.median(look_cpu) * 1e3:.3f})"
    )
    print(
        json.dumps(
            {
                "bench": "referral_duplicates",
                "ratio": round(med / look, 1),
                "target": "median < 50 ms",
                "median_ms": round(med * 1e3, 2),
                "p95_ms": round(p95 * 1e3, 2),
                "worst_ms": round(max(check_wall) * 1e3, 2),
                "lookup_ms": round(look * 1e3, 4),
                "filing_s": round(filing, 2),
                "filing_cpu_s": round(filing_cpu, 2),
                "median_cpu_ms": round(statistics.median(check_cpu) * 1e3, 2),
                "accounts": accounts,
                "referrals": referrals,
                "met": med < 0.050,
            }
        )
    )


if __name__ == "__main__":
    main()
