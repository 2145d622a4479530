"""The headless commands end to end: ``fieldrep serve`` as a real process (killed with SIGKILL and
started again), ``server user add|list|disable``, ``login``, ``sync --json``, ``logout``."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldrep.cli import main


class ServeProcess:
    """``python -m fieldrep serve`` on a socket this test holds, so restarts keep the port and a
    client's first request simply waits in the listen queue until the server is up."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        fd = self.sock.fileno()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fieldrep", "serve", "--db", str(self.db), "--fd", str(fd)],
            pass_fds=(fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.sock.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path / "server.db")
    yield proc
    proc.close()


def _run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    stdin: str = "",
) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_end_to_end(
    serve: ServeProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_db, laptop_db = str(serve.db), str(tmp_path / "laptop.db")
    secret = "s3cret-password\n"
    code, out, _ = _run(
        capsys,
        monkeypatch,
        [
            "server",
            "user",
            "add",
            "boss",
            "--role",
            "manager",
            "--password-stdin",
            "--db",
            server_db,
        ],
        secret,
    )
    assert code == 0
    assert "added manager boss" in out
    code, _, err = _run(
        capsys,
        monkeypatch,
        ["server", "user", "add", "boss", "--role", "rep", "--password-stdin", "--db", server_db],
        secret,
    )
    assert code == 1
    assert "already a user named 'boss'" in err
    serve.start()
    code, _, err = _run(
        capsys,
        monkeypatch,
        ["login", "--server", serve.url, "--user", "boss", "--password-stdin", "--db", laptop_db],
        "wrong\n",
    )
    assert code == 1
    assert "wrong user name or password" in err
    code, out, _ = _run(
        capsys,
        monkeypatch,
        ["login", "--server", serve.url, "--user", "boss", "--password-stdin", "--db", laptop_db],
        secret,
    )
    assert code == 0
    assert "signed in" in out
    code, out, _ = _run(capsys, monkeypatch, ["sync", "--db", laptop_db, "--json"])
    assert code == 0
    summary = json.loads(out)
    assert summary["pulled"] == 1  # the boss's own users row
    assert summary["verified"] is True

    # The server dies hard between syncs; the laptop keeps working and catches up afterwards.
    serve.kill()
    from fieldrep.services.context import Context

    ctx = Context.open(laptop_db)
    ctx.writer.insert(
        "tasks", {"user_id": ctx.user_id, "title": "written while the server was down"}
    )
    ctx.close()
    serve.start()
    code, out, _ = _run(capsys, monkeypatch, ["sync", "--db", laptop_db, "--json"])
    assert code == 0
    assert json.loads(out)["pushed"] == 1
    # No server at all: one clear sentence, exit 1.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    code, _, err = _run(
        capsys,
        monkeypatch,
        ["login", "--server", nowhere, "--user", "boss", "--password-stdin", "--db", laptop_db],
        secret,
    )
    assert code == 1
    assert "cannot reach the sync server" in err

    code, out, _ = _run(
        capsys, monkeypatch, ["server", "user", "list", "--db", server_db, "--json"]
    )
    (user,) = json.loads(out)["users"]
    assert (user["username"], user["devices"]) == ("boss", 1)
    code, out, _ = _run(capsys, monkeypatch, ["logout", "--db", laptop_db])
    assert code == 0
    assert "signed out" in out
    code, _, err = _run(capsys, monkeypatch, ["sync", "--db", laptop_db])
    assert code == 1
    assert "not signed in" in err
    code, out, _ = _run(
        capsys, monkeypatch, ["server", "user", "disable", "boss", "--db", server_db]
    )
    assert code == 0
    assert "disabled boss" in out
    assert os.path.exists(server_db)


def test_disabled_user_enabled_again_and_password_reset(
    serve: ServeProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_db, laptop_db = str(tmp_path / "server.db"), str(tmp_path / "laptop.db")
    add = ["server", "user", "add", "jo", "--role", "rep", "--password-stdin", "--db", server_db]
    assert _run(capsys, monkeypatch, add, "first secret\n")[0] == 0
    serve.start()
    login = ["login", "--server", serve.url, "--user", "jo", "--password-stdin", "--db", laptop_db]
    assert _run(capsys, monkeypatch, login, "first secret\n")[0] == 0
    assert _run(capsys, monkeypatch, ["server", "user", "disable", "jo", "--db", server_db])[0] == 0
    code, _, err = _run(capsys, monkeypatch, login, "first secret\n")
    assert code == 1
    assert "wrong user name or password" in err  # a disabled user's answer confirms nothing

    code, out, _ = _run(capsys, monkeypatch, ["server", "user", "enable", "jo", "--db", server_db])
    assert (code, out.strip()) == (0, "enabled jo; they sign in again on each laptop")
    reset = ["server", "user", "password", "jo", "--password-stdin", "--db", server_db]
    assert _run(capsys, monkeypatch, reset, "second secret\n")[0] == 0
    code, _, err = _run(capsys, monkeypatch, login, "first secret\n")
    assert code == 1
    assert "wrong user name or password" in err.lower()
    assert _run(capsys, monkeypatch, login, "second secret\n")[0] == 0
    assert _run(capsys, monkeypatch, ["sync", "--db", laptop_db])[0] == 0

    code, _, err = _run(
        capsys, monkeypatch, ["server", "user", "enable", "nobody", "--db", server_db]
    )
    assert code == 1
    assert "there is no user named 'nobody'" in err
