"""Sync load on `fieldrep serve`: laptops in several processes, each rep with a realistic book,
against one and two server processes, on SQLite and PostgreSQL.

Setup per storage: REPS reps in pairs; each pair shares a territory of 500-2,000 accounts (seeded
at random, like a rep's territory in services/demo_*), so one rep's edits reach the other. Two
`fieldrep serve` processes (16 workers and database connections each) run on the same database.

Load: CLIENTS laptops, spread over PROCS client processes (threads inside; a light client that
speaks the sync protocol over HTTP with its own clock, device, cursor and book, not the full local
engine: the clients must not be what limits the figure). Each laptop, in a closed loop: pushes 0-3
edits (a quarter each) of accounts in its book, pulls until no more, and 1 sync in 50 compares
checksums. Phases of DURATION seconds alternate one server and two servers (requests spread at
random), twice each. Baseline: /v1/health from the same clients (the HTTP stack alone).

Reported per storage and server count: syncs/s, client-side p50/p99 of a sync, server-side
p50/p99 per request type (timed inside each server), errors, and CPU seconds of the servers, the
clients and PostgreSQL over the phase (the machine is shared: wall figures are noisy).

Usage: python bench/sync_load.py [--quick] [--storage sqlite|postgres|both] [--clients N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_common import PASSWORD, open_storage

from fieldrep.domain.hlc import HybridLogicalClock, format_clock
from fieldrep.server import admin, auth
from fieldrep.sync.protocol import version_headers

APP_NAME = "fieldrep_load"
TARGET = 300.0  # syncs/s on PostgreSQL with two servers, p99 < 500 ms, 0 errors


class Server:
    def __init__(self, db_url: str, log: Path) -> None:
        import socket
        import subprocess

        root = Path(__file__).resolve().parents[1]
        self.log = log
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2048)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        fd = self.sock.fileno()
        env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "FIELDREP_REQUEST_LOG": str(log),
            "FIELDREP_LOG_LEVEL": "warning",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fieldrep", "serve", "--db", db_url, "--fd", str(fd)],
            pass_fds=(fd,),
            cwd=root,
            env=env,
        )

    def cpu(self) -> float:
        return _proc_cpu(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.sock.close()


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process, by pid."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        found[int(entry)] = _proc_cpu(int(entry))
    return found


def _our_backends(url: str) -> set[int]:
    """The PostgreSQL processes that work for this bench: the servers' backends (by their
    application name) and the shared background processes (WAL writer, checkpointer...). On a
    machine shared with other users of the same PostgreSQL, their backends are left out."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
            " OR backend_type <> 'client backend'",
            (APP_NAME,),
        ).fetchall()
    return {int(r[0]) for r in rows}


def _pg_used(before: dict[int, float], after: dict[int, float], pids: set[int] | None) -> float:
    return sum(
        cpu - before.get(pid, 0.0) for pid, cpu in after.items() if pids is None or pid in pids
    )


class WaitSampler:
    """What the servers' PostgreSQL backends are doing, sampled every 50 ms (pg_stat_activity):
    per phase, the share of samples of active backends by wait (CPU = not waiting)."""

    def __init__(self, kind: str, url: str) -> None:
        self.samples: list[list[str]] = [[]]
        self.running = kind == "postgres"
        if self.running:
            self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
            self.thread.start()

    def _run(self, url: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            while self.running:
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM"
                    " pg_stat_activity WHERE application_name = %s AND state = 'active'",
                    (APP_NAME,),
                ).fetchall()
                self.samples[-1].extend(r[0] for r in rows)
                time.sleep(0.05)

    def mark(self) -> None:
        self.samples.append([])

    def stop(self) -> None:
        self.running = False

    def phase(self, index: int) -> dict[str, float]:
        got = self.samples[index + 1] if index + 1 < len(self.samples) else []
        counts: dict[str, int] = {}
        for s in got:
            counts[s] = counts.get(s, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
        return {k: round(100 * v / len(got), 1) for k, v in top} if got else {}


# -- setup --------------------------------------------------------------------------------------


def seed(storage: Any, reps: int, rng: random.Random, quick: bool) -> list[dict[str, Any]]:
    hashed = auth.hash_password(PASSWORD, n=2**10)  # sign-in is not what this bench measures
    pairs = reps // 2
    territories = admin.put_rows(
        storage, "territories", [{"name": f"T{i}"} for i in range(pairs)], new=True
    )
    users = [
        admin.add_user(storage, f"rep{i}", "rep", PASSWORD, password_hash=hashed)
        for i in range(reps)
    ]
    admin.put_rows(
        storage,
        "territory_members",
        [{"territory_id": territories[i // 2], "user_id": u} for i, u in enumerate(users)],
        new=True,
    )
    books: list[list[str]] = []
    for t in territories:
        size = 500 if quick else rng.randint(500, 2000)
        rows = [
            {
                "name": f"Account {t[-6:]}-{k}",
                "industry": rng.choice(["Retail", "Health", "Food", "Logistics"]),
                "employees": rng.randint(1, 5000),
                "potential": round(rng.random() * 1e6, 2),
                "status": "active",
                "street": f"{k} Main St",
                "city": "Springfield",
                "region": "IL",
                "postal_code": f"{62700 + k % 100}",
                "phone": "555-0100",
                "lat": 39.7 + rng.random(),
                "lon": -89.6 + rng.random(),
                "territory_id": t,
                "owner_id": users[territories.index(t) * 2],
            }
            for k in range(size)
        ]
        books.append(admin.put_rows(storage, "accounts", rows, new=True))
    return [{"user": f"rep{i}", "book": books[i // 2]} for i in range(reps)]


# -- the light laptop ---------------------------------------------------------------------------


class Laptop:
    def __init__(self, spec: dict[str, Any], urls: list[str], index: int) -> None:
        self.user = spec["user"]
        self.book = spec["book"]
        self.device = f"bench-{os.getpid()}-{index}"
        self.clock = HybridLogicalClock(device_id=self.device)
        self.rng = random.Random(f"{self.user}-{index}")  # own sequence per laptop
        self.clients = [
            httpx.Client(base_url=u, headers=version_headers(), timeout=120.0) for u in urls
        ]
        self.cursor = 0
        self.scope_key: str | None = None
        self.seq = 0
        self.headers: dict[str, str] = {}

    def client(self, servers: int) -> httpx.Client:
        return self.clients[0] if servers == 1 else self.rng.choice(self.clients[:servers])

    def sign_in(self) -> None:
        r = self.clients[0].post(
            "/v1/login", json={"user": self.user, "password": PASSWORD, "device_id": self.device}
        )
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        self.seq = int(r.json()["last_seq"])
        page = self._post(1, "/v1/pull", {"cursor": 0, "limit": 1})
        self.scope_key, self.cursor = page["scope_key"], int(page["high_water"])

    def _post(self, servers: int, path: str, body: dict[str, Any]) -> Any:
        r = self.client(servers).post(path, json=body, headers=self.headers)
        if r.status_code != 200:
            raise RuntimeError(f"{path} {r.status_code} {r.text[:200]}")
        return r.json()

    def sync(self, servers: int) -> None:
        edits = self.rng.randint(0, 3)
        if edits:
            mutations = []
            for _ in range(edits):
                self.seq += 1
                field = self.rng.choice(["phone", "notes", "potential"])
                value: Any = (
                    round(self.rng.random() * 1e6, 2)
                    if field == "potential"
                    else f"{field} {self.rng.randint(0, 10**6)}"
                )
                mutations.append(
                    {
                        "seq": self.seq,
                        "tbl": "accounts",
                        "row_id": self.rng.choice(self.book),
                        "op": "upsert",
                        "fields": {field: value},
                        "clocks": {field: format_clock(self.clock.now(), self.device)},
                    }
                )
            resp = self._post(
                servers,
                "/v1/push",
                {"device_id": self.device, "cursor": self.cursor, "mutations": mutations},
            )
            if resp["rejected"]:
                raise RuntimeError(f"refused: {resp['rejected'][:1]}")
        while True:
            page = self._post(
                servers,
                "/v1/pull",
                {"cursor": self.cursor, "limit": 2000, "scope_key": self.scope_key},
            )
            if page.get("reset"):
                raise RuntimeError(f"reset: {page['reset']}")
            self.cursor = int(page["cursor"])
            if not page["more"]:
                break
        if self.rng.random() < 0.02:
            r = self.client(servers).get("/v1/checksums", headers=self.headers)
            r.raise_for_status()


def _worker(
    specs: list[dict[str, Any]],
    urls: list[str],
    phases: list[tuple[str, int]],
    duration: float,
    ready: Any,
    go: Any,
    start: Any,
    out: Any,
) -> None:
    laptops = [Laptop(s, urls, i) for i, s in enumerate(specs)]
    for lap in laptops:
        lap.sign_in()
    ready.put(os.getpid())
    go.wait()
    start_at = start.value
    results: list[dict[str, Any]] = []
    for p, (kind, servers) in enumerate(phases):
        begin = start_at + p * (duration + 2.0)
        end = begin + duration
        records: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        cpu0 = time.process_time()

        def loop(
            lap: Laptop,
            begin: float = begin,
            end: float = end,
            kind: str = kind,
            servers: int = servers,
            lock: threading.Lock = lock,
            records: list[float] = records,
            errors: list[str] = errors,
        ) -> None:
            time.sleep(max(0.0, begin - time.time()))
            while time.time() < end:
                t0 = time.perf_counter()
                try:
                    if kind == "health":
                        lap.client(servers).get("/v1/health").raise_for_status()
                    else:
                        lap.sync(servers)
                    ms = (time.perf_counter() - t0) * 1000
                    with lock:
                        records.append(ms)
                except Exception as exc:
                    with lock:
                        errors.append(str(exc)[:200])

        threads = [threading.Thread(target=loop, args=(lap,)) for lap in laptops]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results.append({"ms": records, "errors": errors, "cpu": time.process_time() - cpu0})
    out.put(results)


# -- running a storage --------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_storage(kind: str, args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    rng = random.Random(11)
    storage, cleanup = open_storage(kind, folder)
    t0 = time.perf_counter()
    specs = seed(storage, args.clients, rng, args.quick)
    seeded = time.perf_counter() - t0
    books = [len(s["book"]) for s in specs]
    print(
        f"{kind}: seeded {args.clients} reps, books {min(books)}-{max(books)} accounts"
        f" ({sum(books) // 2} accounts) in {seeded:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    logs = [folder / f"{kind}-server{i}.log" for i in range(2)]
    url = storage.url + (f"&application_name={APP_NAME}" if kind == "postgres" else "")
    servers = [Server(url, log) for log in logs]
    urls = [s.url for s in servers]
    phases = [("health", 2), ("sync", 1), ("sync", 2), ("sync", 1), ("sync", 2)]
    ctx = mp.get_context("fork")
    queue, ready, go, start = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    per = [specs[i :: args.procs] for i in range(args.procs)]
    procs = [
        ctx.Process(target=_worker, args=(p, urls, phases, args.duration, ready, go, start, queue))
        for p in per
        if p
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()  # every laptop signed in
    start_at = time.time() + 2.0
    start.value = start_at
    go.set()
    waits = WaitSampler(kind, storage.url)
    # Sample CPU and log positions at each phase boundary.
    marks: list[tuple[float, list[float], dict[int, float], list[int], set[int]]] = []
    for p in range(len(phases) + 1):
        at = start_at + p * (args.duration + 2.0) - (1.0 if p < len(phases) else -1.0)
        time.sleep(max(0.0, at - time.time()))
        sizes = [log.stat().st_size if log.exists() else 0 for log in logs]
        ours = _our_backends(storage.url) if kind == "postgres" else set()
        marks.append((time.time(), [s.cpu() for s in servers], _postgres_cpu(), sizes, ours))
        waits.mark()
    outputs = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    waits.stop()
    for s in servers:
        s.stop()
    rows: list[dict[str, Any]] = []
    for p, (what, count) in enumerate(phases):
        ms = [m for out in outputs for m in out[p]["ms"]]
        errors = [e for out in outputs for e in out[p]["errors"]]
        client_cpu = sum(out[p]["cpu"] for out in outputs)
        server_cpu = sum(marks[p + 1][1]) - sum(marks[p][1])
        pg_cpu = _pg_used(marks[p][2], marks[p + 1][2], None) if kind == "postgres" else 0.0
        pg_ours = (
            _pg_used(marks[p][2], marks[p + 1][2], marks[p][4] | marks[p + 1][4])
            if kind == "postgres"
            else 0.0
        )
        per_sync = 1000 / max(1, len(ms))
        # Only lines written during this phase.
        times = _server_times_between(logs, marks[p][3], marks[p + 1][3])
        row = {
            "storage": kind,
            "servers": count,
            "what": what,
            "per_s": round(len(ms) / args.duration, 1),
            "p50_ms": round(_pct(ms, 0.5), 1),
            "p99_ms": round(_pct(ms, 0.99), 1),
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
            "cpu_s": {
                "servers": round(server_cpu, 1),
                "clients": round(client_cpu, 1),
                "postgres": round(pg_cpu, 1),
                "postgres_ours": round(pg_ours, 1),
                "wall": args.duration,
            },
            # CPU per request of the phase (a sync, or a health check), in ms; PostgreSQL's is
            # that of the bench's own backends and the shared background processes.
            "cpu_ms_each": {
                "servers": round(server_cpu * per_sync, 2),
                "postgres": round(pg_ours * per_sync, 2),
                "clients": round(client_cpu * per_sync, 2),
            },
            "server_side": times,
            "pg_waits": waits.phase(p),
            "load": round(os.getloadavg()[0], 1),
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    cleanup()
    return rows


def _server_times_between(
    logs: list[Path], starts: list[int], ends: list[int]
) -> dict[str, dict[str, float]]:
    by_path: dict[str, list[float]] = {}
    for log, start, end in zip(logs, starts, ends, strict=True):
        if not log.exists():
            continue
        with log.open("rb") as fh:
            fh.seek(start)
            chunk = fh.read(max(0, end - start)).decode()
        for line in chunk.splitlines():
            parts = line.split()
            if len(parts) == 3:
                by_path.setdefault(parts[0], []).append(float(parts[2]))
    return {
        path: {"n": len(v), "p50_ms": round(_pct(v, 0.5), 1), "p99_ms": round(_pct(v, 0.99), 1)}
        for path, v in sorted(by_path.items())
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 laptops, 6 s phases")
    parser.add_argument("--storage", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase")
    args = parser.parse_args()
    args.clients = args.clients or (20 if args.quick else 64)
    args.clients += args.clients % 2
    args.duration = args.duration or (6.0 if args.quick else 20.0)
    kinds = ["sqlite", "postgres"] if args.storage == "both" else [args.storage]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fieldrep-load-") as tmp:
        for kind in kinds:
            rows += run_storage(kind, args, Path(tmp))

    def best(kind: str, servers: int) -> dict[str, Any] | None:
        found = [
            r
            for r in rows
            if r["storage"] == kind and r["servers"] == servers and r["what"] == "sync"
        ]
        return max(found, key=lambda r: r["per_s"]) if found else None

    summary: dict[str, Any] = {"bench": "sync_load", "clients": args.clients, "procs": args.procs}
    for kind in kinds:
        for servers in (1, 2):
            r = best(kind, servers)
            if r:
                summary[f"{kind}_{servers}"] = {
                    k: r[k] for k in ("per_s", "p50_ms", "p99_ms", "errors", "cpu_s", "cpu_ms_each")
                }
        health = [r for r in rows if r["storage"] == kind and r["what"] == "health"]
        if health:
            summary[f"{kind}_health_per_s"] = health[0]["per_s"]
    pg2 = best("postgres", 2)
    summary["ratio"] = round(pg2["per_s"] / TARGET, 2) if pg2 else None
    summary["target"] = f">= {TARGET:.0f} syncs/s on PostgreSQL, 2 servers, p99 < 500 ms, 0 errors"
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
