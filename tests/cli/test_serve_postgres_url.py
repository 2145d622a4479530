"""`fieldrep serve` with a PostgreSQL URL that cannot work says so in one sentence, at once, instead
of the pool retrying for 30 s with a warning each time (issue 15 point 14)."""

from __future__ import annotations

import logging
import socket

import pytest

from fieldrep.cli import main
from tests.sync.harness import PG_BASE


def _serve(
    url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> tuple[int, str]:
    caplog.set_level(logging.WARNING)
    code = main(["serve", "--db", url, "--port", "1"])
    captured = capsys.readouterr()
    assert captured.out == ""  # no banner: the server never started
    assert not [r for r in caplog.records if r.name.startswith("psycopg")]  # no pool retries
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1, captured.err
    return code, captured.err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_listening_there(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    code, err = _serve(f"postgresql://ann:s3cret@127.0.0.1:{port}/team", capsys, caplog)
    assert code == 1
    assert err == (
        f"fieldrep: error: cannot connect to PostgreSQL at postgresql://ann:***@127.0.0.1:{port}"
        "/team: Connection refused (is PostgreSQL running there, and is the port right?)\n"
    )
    assert "s3cret" not in err


def test_a_host_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    code, err = _serve("postgresql://ann@no-such-host.invalid/team", capsys, caplog)
    assert code == 1
    assert err.startswith(
        "fieldrep: error: cannot connect to PostgreSQL at postgresql://ann@no-such-host.invalid"
        "/team: failed to resolve host 'no-such-host.invalid'"
    )


def test_a_url_that_is_not_a_connection_string_is_bad_usage(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    code, err = _serve("postgresql://ann@127.0.0.1/team?colour=blue", capsys, caplog)
    assert code == 2
    assert "is not a usable PostgreSQL URL" in err
    assert '"colour"' in err


@pytest.mark.postgres
def test_a_database_or_user_the_server_does_not_have(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    base = PG_BASE.rsplit("/", 1)[0]
    code, err = _serve(f"{base}/no_such_database_here", capsys, caplog)
    assert code == 1
    assert err.endswith(': database "no_such_database_here" does not exist\n')
    host = base.split("@", 1)[1]
    code, err = _serve(f"postgresql://no_such_role@{host}/test", capsys, caplog)
    assert code == 1
    assert err.endswith(': role "no_such_role" does not exist\n')
