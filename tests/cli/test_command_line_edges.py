"""The command line's edges of issue 15 point 14, run for real: a path given to ``--db`` is opened,
never made, by the commands that read (the desktop app and the server's admin commands too); Ctrl+C
stops the server as its banner says and interrupts any other command with exit 130; a territory
import counts its repeated warnings instead of printing each."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fieldrep.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _fieldrep(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fieldrep", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_the_desktop_app_opens_a_database_it_is_given_and_never_makes_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fieldrep.app import main as app_main

    missing = tmp_path / "nowhere" / "book.db"
    for argv in (["gui", "--db", str(missing)], ["--db", str(missing)]):
        assert app_main(argv) == 2
        assert capsys.readouterr().err == (
            f"fieldrep: error: there is no database at {missing} (demo, import and login create"
            " one)\n"
        )
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert app_main(["gui", "--db", str(empty)]) == 2
    assert "empty.db is an empty file (0 bytes), not a FieldRep database" in capsys.readouterr().err
    assert empty.read_bytes() == b""


def test_server_commands_that_read_refuse_a_missing_database_and_user_add_says_it_made_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "server.db"
    for argv in (
        ["server", "user", "list"],
        ["server", "user", "disable", "ann"],
        ["server", "purge-tombstones"],
    ):
        assert main([*argv, "--db", str(missing)]) == 2, argv
        assert capsys.readouterr().err == (
            f"fieldrep: error: there is no server database at {missing} (serve and server user"
            " add create one)\n"
        )
    assert not missing.parent.exists()
    new = tmp_path / "server.db"
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough\n"))
    add = ["server", "user", "add", "ann", "--role", "rep", "--password-stdin", "--db", str(new)]
    assert main(add) == 0
    assert capsys.readouterr().err == f"fieldrep: created a new database at {new}\n"
    assert main(["server", "user", "list", "--db", str(new)]) == 0
    assert capsys.readouterr().out.startswith("ann ")


def test_ctrl_c_stops_the_server_as_its_banner_says_and_interrupts_other_commands(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _fieldrep("serve", "--db", str(tmp_path / "server.db"), "--port", str(port))
    assert server.stdout is not None
    banner = server.stdout.readline().decode()
    assert banner.endswith("Ctrl+C stops it\n")
    server.send_signal(signal.SIGINT)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 0
    assert err.decode().splitlines()[-1] == "fieldrep: server stopped"
    assert b"Traceback" not in err
    # Any other command: one sentence and exit 130 (here, waiting for a password to be typed).
    adding = _fieldrep("server", "user", "add", "bob", "--role", "rep", "--db", str(tmp_path / "s"))
    assert adding.stderr is not None
    said = b""
    while b"Password" not in said:
        said += adding.stderr.read1(200)
    adding.send_signal(signal.SIGINT)
    _, err = adding.communicate(timeout=60)
    assert adding.returncode == 130
    assert (
        (said + err).decode().endswith("fieldrep: error: interrupted; nothing was half-applied\n")
    )


def test_a_territory_import_counts_repeated_warnings_and_says_what_would_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """25 boxes in a row, each overlapping the next by a sliver (0.1 % of its area): 24 warnings,
    20 shown and the rest counted; --json lists them all."""

    def box(i: int) -> dict[str, object]:
        x = i * 0.999
        ring = [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]
        return {
            "type": "Feature",
            "properties": {"name": f"Box {i:02d}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    path = tmp_path / "row.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [box(i) for i in range(25)]}),
        encoding="utf-8",
    )
    accounts = tmp_path / "a.csv"
    accounts.write_text("Company,Latitude,Longitude\nIn Box 3,0.5,3.5\n", encoding="utf-8")
    db = tmp_path / "book.db"
    assert main(["import", "accounts", str(accounts), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["territories", "import", str(path), "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 21
    assert all("overlap by a sliver" in line for line in warnings[:20])
    assert warnings[20] == "warning: ... and 4 more warnings (--json lists all)"
    assert lines[-1] == (
        "1 account(s) would change territory: run `fieldrep assign` to apply"
        " (`fieldrep assign --dry-run` lists them)."
    )
    db2 = tmp_path / "book2.db"
    assert main(["import", "accounts", str(accounts), "--db", str(db2)]) == 0
    capsys.readouterr()
    assert main(["territories", "import", str(path), "--db", str(db2), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["warnings"]) == 24
