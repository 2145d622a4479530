"""200 simulated laptops syncing at once against one server on loopback, on SQLite and PostgreSQL.

The server runs as deployed, ``fieldrep serve`` in its own process. Each laptop is a real FieldRep
database and engine in its own thread of this process, signed in as a rep with its own territory of
20 accounts; it makes 2 edits and syncs, ROUNDS times. Reported per storage: syncs per
second, p50/p99 latency of one sync, errors. Baseline: the same number of requests to /v1/health
(the HTTP stack alone). Target: zero errors.

Usage: python bench/sync_concurrency.py [--quick]   (--quick: 20 laptops)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_common import PASSWORD, ServeProcess, open_storage

from fieldrep.server import admin, auth
from fieldrep.services.context import Context
from fieldrep.sync.client import SyncEngine, sign_in
from fieldrep.sync.transport import HttpTransport

ROUNDS = 3


def run(kind: str, clients: int, folder: Path) -> dict[str, object]:
    storage, cleanup = open_storage(kind, folder)
    hashed = auth.hash_password(PASSWORD)
    territories = admin.put_rows(
        storage, "territories", [{"name": f"T{i}"} for i in range(clients)]
    )
    users = [
        admin.add_user(storage, f"rep{i}", "rep", PASSWORD, password_hash=hashed)
        for i in range(clients)
    ]
    admin.put_rows(
        storage,
        "territory_members",
        [{"territory_id": t, "user_id": u} for t, u in zip(territories, users, strict=True)],
    )
    admin.put_rows(
        storage,
        "accounts",
        [
            {"name": f"A{i}-{k}", "territory_id": t}
            for i, t in enumerate(territories)
            for k in range(20)
        ],
    )
    server = ServeProcess(storage.url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)

    def laptop(i: int) -> None:
        # sqlite3 connections belong to the thread that opened them: each laptop opens its own
        # database, signs in (not timed), then waits for the others before syncing.
        ctx = Context.open(folder / f"{kind}-lap{i}.db")
        transport = HttpTransport(server.url, timeout=300)
        try:
            try:
                sign_in(ctx.writer, transport, f"rep{i}", PASSWORD)
            finally:
                ready.wait()
            for r in range(ROUNDS):
                try:
                    ids = [row[0] for row in ctx.db.conn.execute("SELECT id FROM accounts LIMIT 2")]
                    for row_id in ids:
                        ctx.writer.update("accounts", row_id, {"notes": f"round {r}"})
                    start = time.perf_counter()
                    result = SyncEngine(ctx.writer, transport).run()
                    took = time.perf_counter() - start
                    if result.rejected or result.verified is False:
                        raise RuntimeError(
                            f"rejected {result.rejections}, verified {result.verified}"
                        )
                    with lock:
                        latencies.append(took)
                except Exception as exc:  # counted and reported: the benchmark's output
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            with lock:
                errors.append(f"sign-in {type(exc).__name__}: {exc}")
        finally:
            transport.close()
            ctx.close()

    try:
        threads = [threading.Thread(target=laptop, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        ready.wait()
        start = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start

        limits = httpx.Limits(max_connections=clients)
        with (
            httpx.Client(base_url=server.url, timeout=300, limits=limits) as c,
            ThreadPoolExecutor(clients) as pool,
        ):
            start = time.perf_counter()
            list(pool.map(lambda _: c.get("/v1/health").status_code, range(clients * ROUNDS * 4)))
            health = time.perf_counter() - start
    finally:
        server.stop()
        cleanup()
    latencies.sort()
    syncs = len(latencies)
    return {
        "storage": kind,
        "clients": clients,
        "syncs": syncs,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "syncs_per_s": round(syncs / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[min(syncs - 1, int(syncs * 0.99))] * 1000, 1)
        if latencies
        else None,
        "health_requests_per_s": round(clients * ROUNDS * 4 / health, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    clients = 20 if args.quick else 200
    folder = Path(tempfile.mkdtemp(prefix="fieldrep-bench-"))
    results = [run(kind, clients, folder) for kind in ("sqlite", "postgres")]
    for r in results:
        print(
            f"{r['storage']:>8}: {r['clients']} laptops, {r['syncs']} syncs,"
            f" {r['syncs_per_s']} syncs/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms,"
            f" errors {r['errors']} {r['first_error'] or ''}"
        )
    errors = sum(int(r["errors"]) for r in results)  # type: ignore[call-overload]
    print(
        json.dumps(
            {
                "bench": "sync_concurrency",
                "clients": clients,
                "errors": errors,
                "ratio": float(errors),
                "target": 0,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
