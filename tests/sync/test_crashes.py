"""Processes dying for real: the server process SIGKILLed in the middle of applying a push, and a
laptop process exiting abruptly in the middle of writing a pulled page (SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.context import Context
from fieldrep.store import local_meta
from fieldrep.sync.protocol import MAX_MUTATIONS_PER_PUSH
from fieldrep.sync.transport import NetworkError
from tests.sync.harness import Laptop, Org, account, server_view

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """``python -m fieldrep serve`` on a socket the test binds and hands over, so the first request
    waits in the listen queue until the server is up; a kill closes the port as a dead process
    does, and a restart binds the same port again."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.port = 0
        self.sock: socket.socket | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fieldrep", "serve", "--db", self.db_url, "--fd", str(fd)],
            pass_fds=(fd,),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        assert self.proc is not None
        assert self.sock is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.sock.close()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        if self.sock is not None:
            self.sock.close()


@pytest.fixture
def serve(storage: Storage) -> Iterator[ServerProcess]:
    proc = ServerProcess(storage.url)
    proc.start()
    yield proc
    proc.close()


@pytest.fixture
def laptop_at(tmp_path: Path) -> Iterator[Callable[[str, str], Laptop]]:
    made: list[Laptop] = []

    def make(name: str, url: str) -> Laptop:
        lap = Laptop(tmp_path / f"{name}.db", url)
        made.append(lap)
        return lap

    yield make
    for lap in made:
        lap.close()


def _last_seq(storage: Storage, device_id: str) -> int:
    with storage.read() as tx:
        row = tx.one("SELECT last_seq FROM devices WHERE device_id = ?", (device_id,))
    return int(row[0]) if row else 0


def test_server_killed_while_applying_a_push(
    storage: Storage, org: Org, serve: ServerProcess, laptop_at: Callable[[str, str], Laptop]
) -> None:
    rep = laptop_at("rep1", serve.url)
    rep.login("rep1")
    rep.sync()
    total = 1500
    rep.writer.insert_many("accounts", [account(org.t1, f"A{i}") for i in range(total)])
    device = rep.writer.device_id
    killed_at: list[int] = []
    stop = threading.Event()

    def kill_once_applying() -> None:
        # Each request commits whole: as soon as the first is in, the push is under way.
        while not stop.is_set():
            seen = _last_seq(storage, device)
            if seen > 0:
                serve.kill()
                killed_at.append(seen)
                return
            stop.wait(0.002)

    killer = threading.Thread(target=kill_once_applying)
    killer.start()
    try:
        with pytest.raises(NetworkError):
            rep.sync(push_batch=total)
    finally:
        stop.set()
        killer.join()
    applied = _last_seq(storage, device)
    assert killed_at
    assert 0 < applied < total, "the kill must land in the middle of the push"
    # One transaction per request: whole requests are in, none in part.
    assert applied % MAX_MUTATIONS_PER_PUSH == 0
    assert len(server_view(storage, org.rep1, "accounts")) == applied
    # Nothing unacknowledged left the queue (the answer to the last request may not have come).
    assert total - applied <= rep.writer.pending_count() <= total

    serve.start()
    result = rep.sync()
    assert result.pushed == total - applied
    assert rep.writer.pending_count() == 0
    assert len(server_view(storage, org.rep1, "accounts")) == total
    assert rep.rows("accounts") == server_view(storage, org.rep1, "accounts")
    assert result.verified is True


DIE_IN_PAGE = """
import os, sys
from fieldrep.services.context import Context
from fieldrep.sync.client import SyncEngine, transport_for
ctx = Context.open(sys.argv[1])
conn = ctx.db.conn
conn.create_function("die", 0, lambda: os._exit(9))
conn.execute(
    "CREATE TEMP TRIGGER die AFTER INSERT ON accounts WHEN NEW.name = 'poison'"
    " BEGIN SELECT die(); END"
)
SyncEngine(ctx.writer, transport_for(ctx.writer), page_size=50).run()
"""


def test_laptop_killed_while_applying_a_page(
    storage: Storage, org: Org, serve: ServerProcess, laptop_at: Callable[[str, str], Laptop]
) -> None:
    rep = laptop_at("rep1", serve.url)
    rep.login("rep1")
    rep.sync()
    before = len(rep.rows("accounts"))
    cursor = local_meta.get(rep.ctx.db.conn, "sync_cursor")
    names = [f"fine {i}" for i in range(20)] + ["poison"] + [f"late {i}" for i in range(20)]
    admin.put_rows(storage, "accounts", [account(org.t1, n) for n in names])
    rep.writer.insert("accounts", account(org.t1, "written on the laptop"))
    db_file = str(rep.ctx.path)
    rep.close()

    proc = subprocess.run(
        [sys.executable, "-c", DIE_IN_PAGE, db_file], cwd=ROOT, capture_output=True, check=False
    )
    assert proc.returncode == 9, proc.stderr.decode()

    again = laptop_at("rep1-again", serve.url)
    again.ctx.close()
    again.ctx = Context.open(db_file)
    conn = again.ctx.db.conn
    again.transport.token = local_meta.get(conn, "device_token")
    # The push before the pull committed (acknowledged); the page the process died in did not.
    assert again.writer.pending_count() == 0
    assert local_meta.get(conn, "sync_cursor") == cursor
    assert len(again.rows("accounts")) == before + 1
    assert not any(r["name"].startswith("fine") for r in again.rows("accounts").values())
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    result = again.sync()
    assert result.verified is True
    assert again.rows("accounts") == server_view(storage, org.rep1, "accounts")
    assert len(again.rows("accounts")) == before + 1 + len(names)
