"""``fieldrep info``: what a database holds, and clear refusals that leave files as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep.cli import main


def test_reports_rows_user_and_pending_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--accounts", "40", "--seed", "2"]) == 0
    capsys.readouterr()
    assert main(["info", "--db", str(db), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"]["accounts"] == 40
    assert summary["user"] == "morgan"
    assert summary["pending_changes"] == sum(summary["rows"].values())
    assert main(["info", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "signed-in user: morgan" in text
    assert "accounts" in text


def test_a_missing_database_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "nowhere" / "x.db"
    assert main(["info", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"fieldrep: error: there is no database at {db} (demo, import and login create one)\n"
    )
    assert not db.parent.exists()


def test_a_foreign_file_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "notes.db"
    db.write_bytes(b"shopping list: milk, eggs\n")
    assert main(["info", "--db", str(db)]) == 2
    assert "is not a SQLite database (it starts with 'shopping list: m')" in capsys.readouterr().err
    assert db.read_bytes() == b"shopping list: milk, eggs\n"


@pytest.mark.parametrize(
    ("content", "what"),
    [(b"", "is an empty file (0 bytes)"), (None, "is a FieldRep sync server's database")],
)
def test_files_of_the_wrong_kind_are_refused_naming_what_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, what: str
) -> None:
    import sqlite3

    db = tmp_path / "x.db"
    if content is None:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE server_state (k TEXT)")
        conn.execute("CREATE TABLE credentials (k TEXT)")
        conn.commit()
        conn.close()
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    assert main(["info", "--db", str(db)]) == 2
    assert what in capsys.readouterr().err
    assert db.read_bytes() == before


def test_reading_commands_refuse_a_db_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo.db"
    out = tmp_path / "out.csv"
    assert main(["export", "accounts", str(out), "--db", str(db)]) == 2
    assert "there is no database at" in capsys.readouterr().err
    assert not db.exists()
    assert not out.exists()


def test_output_piped_into_a_closed_reader_ends_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "many.db"
    src = tmp_path / "many.csv"
    src.write_text("Company\n" + "".join(f"Shop {i}\n" for i in range(3000)), encoding="utf-8")
    assert main(["import", "accounts", str(src), "--db", str(db)]) == 0
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldrep", "geocode", "unplaced", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    _, err = proc.communicate()
    assert b"Traceback" not in err
    assert proc.returncode == 0


def test_serve_refuses_a_laptop_database_and_a_busy_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    src = tmp_path / "a.csv"
    src.write_text("Company\nAcme\n", encoding="utf-8")
    laptop = tmp_path / "laptop.db"
    assert main(["import", "accounts", str(src), "--db", str(laptop)]) == 0
    capsys.readouterr()
    before = laptop.read_bytes()
    assert main(["serve", "--db", str(laptop)]) == 2
    assert "is a laptop's FieldRep database, not a sync server's" in capsys.readouterr().err
    assert main(["server", "user", "list", "--db", str(laptop)]) == 2
    assert "not a sync server's" in capsys.readouterr().err
    assert laptop.read_bytes() == before
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--db", str(tmp_path / "server.db"), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        f"fieldrep: error: cannot listen on 127.0.0.1:{port}: the port is in use"
        " (another server running?)\n"
    )
