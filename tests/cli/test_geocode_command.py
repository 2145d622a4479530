"""``fieldrep geocode``: status, the unplaced list, configuring Nominatim, and placing accounts online
through geopy against a real HTTP server on loopback that answers like Nominatim."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.services.context import Context
from tests.geo.nominatim_server import running_nominatim

ROWS = (
    "Company,Street,ZIP,City,State\nAcme Tools,1 Main St,02139,Cambridge,MA\n"
    "Oddball,,,Oddville,MA\nLost Ltd,,,Atlantis,ZZ\nFar Away,9 Nowhere Rd,10001,New York,NY\n"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    src = tmp_path / "accounts.csv"
    src.write_text(ROWS, encoding="utf-8")
    path = str(tmp_path / "f.db")
    assert main(["import", "accounts", str(src), "--db", path]) == 0
    capsys.readouterr()
    return path


def test_status_and_unplaced(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "geocode", "status", "--db", db, "--json")
    summary = json.loads(out)
    assert code == 0
    assert summary["accounts_by_quality"] == {"none": 2, "postal_code": 2}
    assert summary["online"]["provider"] == ""
    code, out, _ = _run(capsys, "geocode", "unplaced", "--db", db)
    assert code == 0
    assert out.splitlines() == [
        "2 accounts have no location:",
        "  Lost Ltd - Atlantis, ZZ (US)",
        "  Oddball - Oddville, MA (US)",
    ]


def test_configure_is_checked(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "geocode", "configure", "nominatim", "--db", db)
    assert code == 2
    assert "--user-agent" in err
    code, _, err = _run(
        capsys,
        "geocode",
        "configure",
        "nominatim",
        "--user-agent",
        "acme",
        "--min-delay",
        "0.1",
        "--db",
        db,
    )
    assert code == 2
    assert "at least 1 second on the public Nominatim server" in err
    code, _, err = _run(capsys, "geocode", "online", "--db", db)
    assert code == 1  # nothing configured: never goes online
    assert "no online geocoder is configured" in err


def test_online_places_and_caches(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with running_nominatim() as server:
        host, port = server.server_address[:2]
        code, out, err = _run(
            capsys,
            "geocode",
            "configure",
            "nominatim",
            "--user-agent",
            "acme-fieldrep-tests",
            "--url",
            f"http://{host}:{port}",
            "--min-delay",
            "0.05",
            "--db",
            db,
        )
        assert (code, err) == (0, "")
        assert f"nominatim at http://{host}:{port}" in out
        code, out, err = _run(capsys, "geocode", "online", "--db", db, "--json")
        report = json.loads(out)
        assert (code, err) == (0, "")
        # Acme (street) and Oddball (unplaced) improved; Far Away and Atlantis not found.
        assert (report["checked"], report["improved"], report["not_found"]) == (4, 2, 2)
        assert report["requests_sent"] == 4
        agents = set(server.user_agents)  # type: ignore[attr-defined]
        assert agents == {"acme-fieldrep-tests"}
        code, out, _ = _run(capsys, "geocode", "online", "--db", db, "--json")
        assert json.loads(out)["requests_sent"] == 0  # every answer was cached
    ctx = Context.open(Path(db))
    rows = dict(ctx.db.execute("SELECT name, geocode_quality FROM accounts").fetchall())
    sources = {r[0] for r in ctx.db.execute("SELECT geocode_source FROM accounts")}
    ctx.close()
    assert rows == {
        "Acme Tools": "address",
        "Oddball": "city",
        "Lost Ltd": None,
        "Far Away": "postal_code",
    }
    assert f"nominatim:{host}:{port}" in sources


def _configure(capsys: pytest.CaptureFixture[str], db: str, url: str) -> None:
    code, _, err = _run(
        capsys,
        "geocode",
        "configure",
        "nominatim",
        "--user-agent",
        "acme-fieldrep-tests",
        "--url",
        url,
        "--min-delay",
        "0.01",
        "--db",
        db,
    )
    assert (code, err) == (0, "")


def test_online_batches_move_on_to_accounts_not_yet_asked(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_nominatim() as server:
        host, port = server.server_address[:2]
        _configure(capsys, db, f"http://{host}:{port}")
        sent = []
        for _ in range(3):
            code, out, _ = _run(capsys, "geocode", "online", "--db", db, "--limit", "2", "--json")
            assert code == 0
            sent.append(json.loads(out)["requests_sent"])
    # Acme and Far Away, then Lost Ltd and Oddball, then nothing left to ask: each asked once.
    assert sent == [2, 2, 0]
    ctx = Context.open(Path(db))
    rows = dict(ctx.db.execute("SELECT name, geocode_quality FROM accounts").fetchall())
    ctx.close()
    assert rows["Oddball"] == "city"


def test_online_unreadable_answer_is_reported_and_the_run_goes_on(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = Context.open(Path(db))
    ctx.writer.insert("accounts", {"name": "Garbled Co", "street": "7 Garbled St", "city": "X"})
    ctx.close()
    with running_nominatim() as server:
        host, port = server.server_address[:2]
        _configure(capsys, db, f"http://{host}:{port}")
        code, out, err = _run(capsys, "geocode", "online", "--db", db)
    assert (code, err) == (0, "")
    assert "2 placed more precisely" in out
    assert "1 with an answer that could not be read" in out
    assert "5 requests sent" in out


def test_online_network_error_is_one_line_without_verbose(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a real process's logging setup: no geopy or urllib3 tracebacks on stderr."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    _configure(capsys, db, f"http://127.0.0.1:{port}")  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "fieldrep", "geocode", "online", "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "Checked 0 accounts online: 0 placed more precisely (0 of them had no location), 0 not"
        " found; 2 requests sent (the rest came from the cache).",
        "Stopped early: the geocoder could not be reached (GeocoderUnavailable); what was found is"
        " kept.",
    ]
