"""First sync of N accounts to an empty laptop vs. the same rows dumped as one JSON document over
the same HTTP stack (uvicorn + FastAPI + httpx) and inserted with ``executemany``.

Usage: python bench/sync_first.py [--quick]   (100,000 accounts; --quick: 5,000). Target <= 3x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import Response

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_common import PASSWORD, BenchServer, open_storage, seed

from fieldrep.services.context import Context
from fieldrep.store.catalog import synced_tables
from fieldrep.sync.client import SyncEngine, sign_in
from fieldrep.sync.transport import HttpTransport


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 5_000 if args.quick else 100_000
    folder = Path(tempfile.mkdtemp(prefix="fieldrep-bench-"))
    storage, cleanup = open_storage("sqlite", folder)
    seed(storage, n)
    fields = synced_tables()["accounts"].fields
    columns = ["id", *fields, "_clocks", "_version"]

    def dump_route(app: FastAPI) -> None:
        @app.get("/bench/dump")
        def dump() -> Response:
            with storage.read() as tx:
                rows = tx.all(f"SELECT {', '.join(columns)} FROM accounts")
            return Response(
                json.dumps({"columns": columns, "rows": rows}), media_type="application/json"
            )

    server = BenchServer(storage, dump_route)
    try:
        httpx.get(f"{server.url}/v1/health")  # warm up the server and the HTTP stack
        # Baseline: one JSON document, one executemany.
        ctx = Context.open(folder / "baseline.db")
        start = time.perf_counter()
        body = httpx.get(f"{server.url}/bench/dump", timeout=300).json()
        marks = ", ".join("?" * len(columns))
        with ctx.writer.transaction() as conn:
            conn.executemany(
                f"INSERT INTO accounts ({', '.join(columns)}) VALUES ({marks})", body["rows"]
            )
        baseline = time.perf_counter() - start
        ctx.close()

        ctx = Context.open(folder / "laptop.db")
        transport = HttpTransport(server.url, timeout=300)
        sign_in(ctx.writer, transport, "admin", PASSWORD)
        start = time.perf_counter()
        result = SyncEngine(ctx.writer, transport, page_size=5000).run()
        elapsed = time.perf_counter() - start
        count = ctx.db.conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        transport.close()
        ctx.close()
        assert count == n, count
        assert result.verified is True
    finally:
        server.stop()
        cleanup()
    ratio = elapsed / baseline
    print(
        f"first sync of {n:,} accounts: {elapsed:.2f} s (verified);"
        f" one JSON + executemany: {baseline:.2f} s"
    )
    print(
        json.dumps(
            {
                "bench": "sync_first",
                "accounts": n,
                "sync_s": round(elapsed, 3),
                "baseline_s": round(baseline, 3),
                "ratio": round(ratio, 2),
                "target": 3.0,
            }
        )
    )


if __name__ == "__main__":
    main()
