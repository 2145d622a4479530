"""Scale-out: two ``fieldrep serve`` processes on one PostgreSQL database, every request of every
laptop sent to one of them at random. The Hypothesis convergence test (with lost responses, server
restarts, crashes inside a page) runs unchanged on top, plus a server killed with SIGKILL."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from fieldrep.server import admin
from fieldrep.sync.protocol import version_headers
from fieldrep.sync.transport import HttpTransport
from tests.sync.harness import Laptop, account, make_storage, seed_org
from tests.sync.test_sync_property import USERS, SyncMachine


class ServerProcess:
    """``python -m fieldrep serve`` on a socket this test holds: a restart keeps the port, and
    requests wait in the listen queue while no process is up."""

    def __init__(self, db_url: str, log: Path) -> None:
        self.db_url = db_url
        self.log = log
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        fd = self.sock.fileno()
        env = {**os.environ, "FIELDREP_LOG_LEVEL": "warning"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fieldrep", "serve", "--db", self.db_url, "--fd", str(fd)],
                pass_fds=(fd,),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        self.sock.close()


class ServerPair:
    """Two server processes; ``url`` is one of them at random (a balancer without affinity)."""

    def __init__(self, db_url: str, folder: Path, rng: random.Random) -> None:
        self.rng = rng
        self.procs = [ServerProcess(db_url, folder / f"server{i}.log") for i in range(2)]
        for proc in self.procs:
            proc.start()

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.procs]

    @property
    def url(self) -> str:
        return self.rng.choice(self.urls)

    def restart_one(self, sig: int = signal.SIGTERM) -> None:
        proc = self.rng.choice(self.procs)
        proc.stop(sig)
        proc.start()

    # The single-server machine's restart rule: one of the two stops, then starts again.
    def stop(self) -> None:
        self._stopped = self.rng.choice(self.procs)
        self._stopped.stop()

    def start(self) -> None:
        self._stopped.start()

    def close(self) -> None:
        for proc in self.procs:
            proc.close()


class BalancedTransport(HttpTransport):
    """Sends each request to one of several servers, chosen at random."""

    def __init__(self, urls: list[str], rng: random.Random) -> None:
        super().__init__(urls[0])
        self._clients = [self._client] + [
            httpx.Client(base_url=u, timeout=60.0, headers=version_headers()) for u in urls[1:]
        ]
        self._rng = rng

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        self._client = self._rng.choice(self._clients)
        return super()._request(method, path, body)

    def close(self) -> None:
        for client in self._clients:
            client.close()


class TwoServerMachine(SyncMachine):
    KIND = "postgres"

    @initialize(seed=st.integers(0, 2**32 - 1))
    def start(self, seed: int) -> None:  # type: ignore[override]
        self.rng = random.Random(seed)
        self.dir = Path(tempfile.mkdtemp(prefix="fieldrep-two-"))
        self._storage_gen = make_storage(self.KIND, self.dir)
        self.storage = next(self._storage_gen)
        self.org = seed_org(self.storage)
        admin.put_rows(
            self.storage, "accounts", [account(self.org.t1, "N"), account(self.org.t2, "S")]
        )
        self.server = ServerPair(self.storage.url, self.dir, self.rng)  # type: ignore[assignment]
        self.laps: dict[str, Laptop] = {}
        self.user_ids = {"rep1": self.org.rep1, "rep2": self.org.rep2, "manager": self.org.manager}
        self.writes: list[tuple[str, str, str, str]] = []
        for user in USERS:
            lap = Laptop(self.dir / f"{user}.db", self.server.urls[0])  # type: ignore[attr-defined]
            lap.transport.close()
            lap.transport = BalancedTransport(self.server.urls, self.rng)  # type: ignore[attr-defined]
            lap.login(user)
            lap.sync()
            self.laps[user] = lap

    @rule()
    def a_server_is_killed(self) -> None:
        self.server.restart_one(signal.SIGKILL)  # type: ignore[attr-defined]

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            if hasattr(self, "server"):
                self.server.close()  # type: ignore[attr-defined]
                shutil.rmtree(self.dir, ignore_errors=True)


TwoServerMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestTwoServerProcesses = pytest.mark.postgres(TwoServerMachine.TestCase)
