"""Many laptops pushing at once while another keeps pulling (SQLite and PostgreSQL): the reader's
cursor never passes a commit still in flight, so plain incremental pulls (no checksum repair) end
with exactly the server's rows, and every pushed row is there once."""

from __future__ import annotations

import threading
from pathlib import Path

from fieldrep.server.storage import Storage
from fieldrep.sync.client import SyncEngine
from tests.sync.harness import Laptop, LiveServer, Org, account, server_view

WRITERS = 5
ROUNDS = 6
PER_ROUND = 4


def test_pulls_during_concurrent_pushes_miss_nothing(
    storage: Storage, org: Org, server: LiveServer, tmp_path: Path
) -> None:
    errors: list[BaseException] = []
    inserted: list[str] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        lap = Laptop(tmp_path / f"writer{index}.db", server.url)
        try:
            lap.login("admin")
            for r in range(ROUNDS):
                ids = [
                    lap.writer.insert("accounts", account(org.t1, f"w{index} r{r} n{k}"))
                    for k in range(PER_ROUND)
                ]
                lap.writer.update("accounts", ids[0], {"notes": f"edited by {index}"})
                SyncEngine(lap.writer, lap.transport, verify=False).run()
                with lock:
                    inserted.extend(ids)
        except BaseException as exc:
            errors.append(exc)
        finally:
            lap.close()

    reader = Laptop(tmp_path / "reader.db", server.url)
    reader.login("manager")
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    pulls = 0
    try:
        while any(t.is_alive() for t in threads):
            SyncEngine(reader.writer, reader.transport, verify=False).run()
            pulls += 1
        for t in threads:
            t.join()
        assert not errors, errors
        result = SyncEngine(reader.writer, reader.transport, verify=False).run()
        assert result.replaced is False
        mine = reader.rows("accounts")
        assert mine == server_view(storage, org.manager, "accounts")
        assert set(inserted) <= set(mine)
        assert len(inserted) == WRITERS * ROUNDS * PER_ROUND
        assert pulls > 1
    finally:
        reader.close()
