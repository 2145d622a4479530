"""Shared parts of the sync benchmarks: a real server on a loopback port (uvicorn in a thread) over a
SQLite or PostgreSQL storage, seeded with accounts, plus an admin who can sign in."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from fieldrep.server import admin
from fieldrep.server.app import create_app
from fieldrep.server.storage import Storage

PASSWORD = "benchmark password"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class BenchServer:
    def __init__(self, storage: Storage, extra: Any = None) -> None:
        self.app: FastAPI = create_app(storage, login_limit=10_000)
        if extra:
            extra(self.app)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                lifespan="off",
                backlog=1024,
                timeout_keep_alive=30,  # as `fieldrep serve`
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


class ServeProcess:
    """``fieldrep serve`` in its own process, as deployed: the server does not share a GIL with the
    simulated laptops. The bench binds the socket and hands it over, so no readiness polling."""

    def __init__(self, db_url: str) -> None:
        root = Path(__file__).resolve().parents[1]
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        fd = self.sock.fileno()
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fieldrep", "serve", "--db", db_url, "--fd", str(fd)],
            pass_fds=(fd,),
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.sock.close()


def open_storage(kind: str, folder: Path) -> tuple[Storage, Any]:
    """A fresh storage and a cleanup function."""
    if kind == "sqlite":
        storage = Storage(str(folder / f"server-{uuid.uuid4().hex[:6]}.db"))
        return storage, storage.close
    import psycopg

    schema = f"fr_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    storage = Storage(f"{PG_URL}?options=-csearch_path%3D{schema}")

    def cleanup() -> None:
        storage.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    return storage, cleanup


def seed(storage: Storage, accounts: int, *, territory: str | None = None) -> str:
    """Admin user plus ``accounts`` accounts with realistic fields; returns the territory id."""
    admin.add_user(storage, "admin", "admin", PASSWORD)
    if territory is None:
        (territory,) = admin.put_rows(storage, "territories", [{"name": "Bench"}])
    rng = random.Random(7)
    rows = [
        {
            "name": f"Account {i}",
            "industry": rng.choice(["Retail", "Health", "Food"]),
            "employees": rng.randint(1, 5000),
            "potential": rng.random() * 1e6,
            "status": "active",
            "street": f"{i} Main St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": f"{62700 + i % 100}",
            "phone": "555-0100",
            "lat": 39.7 + rng.random(),
            "lon": -89.6 + rng.random(),
            "territory_id": territory,
        }
        for i in range(accounts)
    ]
    admin.put_rows(storage, "accounts", rows)
    return territory
