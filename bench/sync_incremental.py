"""An incremental sync of 10 changes (5 pushed by the laptop, 5 made on the server) when each side
holds 1,000 rows vs. 100,000 rows. Cost should follow the change, not the database: target <= 1.2x.

Reported twice: the sync as the app runs it (push + pull; the checksum comparison is due only every
few hours, see ``SyncEngine.verify_every``), and a sync forced to compare checksums, which reads every
row in scope by design (count + version sum per table) and so grows with the database.

Usage: python bench/sync_incremental.py [--quick]   (--quick: 1,000 vs 20,000 rows, fewer rounds)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_common import PASSWORD, BenchServer, open_storage, seed

from fieldrep.server import admin
from fieldrep.services.context import Context
from fieldrep.sync.client import VERIFY_EVERY, SyncEngine, sign_in
from fieldrep.sync.transport import HttpTransport


class Side:
    """A server seeded with ``rows`` accounts and a laptop holding all of them, synced."""

    def __init__(self, rows: int, folder: Path) -> None:
        self.storage, self.cleanup = open_storage("sqlite", folder)
        seed(self.storage, rows)
        self.server = BenchServer(self.storage)
        self.ctx = Context.open(folder / f"laptop-{rows}.db")
        self.transport = HttpTransport(self.server.url, timeout=300)
        sign_in(self.ctx.writer, self.transport, "admin", PASSWORD)
        SyncEngine(self.ctx.writer, self.transport, page_size=5000).run()
        self.ids = [r[0] for r in self.ctx.db.conn.execute("SELECT id FROM accounts LIMIT 10")]
        self.plain: list[float] = []
        self.checked: list[float] = []

    def round(self, i: int, verify: bool) -> None:
        """5 edits on the laptop, 5 on the server, one timed sync."""
        for k in range(5):
            self.ctx.writer.update("accounts", self.ids[k], {"notes": f"laptop {i} {verify}"})
        admin.put_rows(
            self.storage,
            "accounts",
            [{"id": self.ids[5 + k], "notes": f"server {i} {verify}"} for k in range(5)],
        )
        engine = SyncEngine(self.ctx.writer, self.transport)
        engine.verify_every = 0 if verify else VERIFY_EVERY
        start = time.perf_counter()
        result = engine.run()
        (self.checked if verify else self.plain).append(time.perf_counter() - start)
        assert result.pushed == 5
        assert result.pulled >= 5
        assert result.verified is (True if verify else None)

    def close(self) -> None:
        self.transport.close()
        self.ctx.close()
        self.server.stop()
        self.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    small, large = (1_000, 20_000) if args.quick else (1_000, 100_000)
    rounds = 5 if args.quick else 15
    folder = Path(tempfile.mkdtemp(prefix="fieldrep-bench-"))
    sides = [Side(small, folder), Side(large, folder)]
    try:
        # Rounds alternate between the two sizes, so a change in machine load hits both alike.
        for i in range(rounds):
            for verify in (False, True):
                for side in sides:
                    side.round(i, verify)
    finally:
        for side in sides:
            side.close()
    s_plain, s_checked = (statistics.median(t) for t in (sides[0].plain, sides[0].checked))
    l_plain, l_checked = (statistics.median(t) for t in (sides[1].plain, sides[1].checked))
    ratio = l_plain / s_plain
    print(
        f"10 changes, {small:,} rows: {s_plain * 1000:.1f} ms sync,"
        f" {s_checked * 1000:.1f} ms with checksums"
    )
    print(
        f"10 changes, {large:,} rows: {l_plain * 1000:.1f} ms sync,"
        f" {l_checked * 1000:.1f} ms with checksums"
    )
    print(
        json.dumps(
            {
                "bench": "sync_incremental",
                "small_rows": small,
                "large_rows": large,
                "small_ms": round(s_plain * 1000, 2),
                "large_ms": round(l_plain * 1000, 2),
                "ratio": round(ratio, 2),
                "target": 1.2,
                "with_checksums_small_ms": round(s_checked * 1000, 2),
                "with_checksums_large_ms": round(l_checked * 1000, 2),
                "with_checksums_ratio": round(l_checked / s_checked, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
